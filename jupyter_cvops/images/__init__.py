"""Image files: scanning and probing, content hashing, registration, thumbnails."""

from __future__ import annotations

from .scan import (
    PathLike, Entry, IMAGE_EXTENSIONS, DEFAULT_MAX_PIXELS, ImageInfo, FileProblem, ScanResult, expand_paths,
    scan_images,
)

__all__ = [
    "DEFAULT_MAX_PIXELS", "Entry", "FileProblem", "IMAGE_EXTENSIONS", "ImageInfo", "PathLike", "ScanResult",
    "expand_paths", "scan_images",
]
