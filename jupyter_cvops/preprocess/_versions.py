"""Versions of the libraries that compute a preprocessing pipeline (part of its fingerprint)."""

from __future__ import annotations

import functools
from importlib import metadata

_DISTRIBUTIONS = {
    "numpy": "numpy", "pillow": "pillow", "opencv": "opencv-python-headless", "torch": "torch",
    "torchvision": "torchvision", "open_clip": "open_clip_torch", "albumentations": "albumentations",
    "timm": "timm",
}
"""Library name used in fingerprints -> the distribution that usually provides it."""


@functools.lru_cache(maxsize=None)
def library_version(name: str) -> str:
    """Version of one library by its short name (``"opencv"``, ``"pillow"``, ``"libjpeg"``, any import name).

    ``"libjpeg"`` is the JPEG codec Pillow was built with (it decides JPEG pixels); a library that is not
    installed reports ``"absent"``.

    Examples
    --------
    >>> library_version("numpy") == __import__("numpy").__version__
    True
    >>> library_version("no-such-library-here")
    'absent'
    """
    if name == "libjpeg":
        from PIL import features

        return f"{'turbo ' if features.check_feature('libjpeg_turbo') else ''}{features.version('jpg')}"
    if name == "opencv":
        try:
            import cv2
        except ImportError:
            return "absent"
        return str(cv2.__version__)
    for dist in dict.fromkeys([_DISTRIBUTIONS.get(name, name), name]):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    try:
        module = __import__(name)
    except ImportError:
        return "absent"
    return str(getattr(module, "__version__", "unknown"))


def library_versions(names: set[str] | list[str]) -> dict[str, str]:
    """``{name: version}`` for each library, sorted by name.

    Examples
    --------
    >>> list(library_versions({"pillow", "numpy"}))
    ['numpy', 'pillow']
    """
    return {n: library_version(n) for n in sorted(set(names))}
