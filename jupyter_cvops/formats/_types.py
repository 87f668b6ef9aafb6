"""Format-neutral records that every importer returns and every exporter takes.

Importers parse a tool's export into an :class:`ImportResult` without touching the
workspace; the workspace then resolves images (by content hash) and writes the
annotations in one commit.  Coordinates are always **pixels, xyxy**, whatever the
source format used (COCO xywh, YOLO normalized cxcywh, Label Studio percent).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

Kind = Literal["image", "box"]


class FormatError(ValueError):
    """A fatal problem with an export file (malformed JSON/XML, missing required
    structure).  Nothing is written to the workspace when an importer raises it."""


@dataclass
class ImageRef:
    """One image as an export names it.

    ``key`` is the export's own id for the image (COCO image id, CVAT image id, Label
    Studio task id, or the file stem for YOLO/VOC), unique within one import.
    ``path`` is the resolved file inside the data root, or None when the file is not
    there (the workspace reports that per record).
    """

    key: str
    file_name: str
    path: Path | None
    width: int | None = None
    height: int | None = None


@dataclass
class AnnotationRecord:
    """One label: an image-level class (``kind="image"``) or an object (``kind="box"``).

    Objects always carry ``bbox`` (pixel xyxy); a polygon (list of flat ``[x0, y0,
    x1, y1, ...]`` rings, pixels) or a COCO RLE mask (``{"size": [h, w], "counts":
    ...}``) may come with it.  ``record`` locates the record in its source file for
    messages, e.g. ``"annotations[12]"``.
    """

    image_key: str
    class_name: str
    kind: Kind = "box"
    bbox: tuple[float, float, float, float] | None = None
    polygon: list[list[float]] | None = None
    rle: dict[str, Any] | None = None
    annotator: str | None = None
    created_at: datetime | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    record: str = ""


@dataclass
class RecordProblem:
    """Why one record of an export was skipped.

    ``image_key`` is the :attr:`ImageRef.key` of the image the problem is about, set
    when an image's file was refused or not found (e.g. its name escapes the data
    root), so the importer can tie the problem to that image without reading ``reason``.

    Examples
    --------
    >>> RecordProblem("images[0]", "path escapes data root: ../a.jpg", image_key="7").image_key
    '7'
    """

    record: str
    reason: str
    image_key: str | None = None


@dataclass
class ImportResult:
    """Everything one importer read from one export.

    ``data_root`` is the resolved folder (symlinks resolved) the reader looked for image
    files under: the caller's ``data_root``, else the format's default for the export;
    None for a result no reader made.

    Examples
    --------
    >>> res = ImportResult("coco", "/e/ann.json", [], [], [], data_root="/e")
    >>> res.data_root, res.problems
    ('/e', [])
    """

    format: str
    source_file: str
    categories: list[str]
    images: list[ImageRef]
    annotations: list[AnnotationRecord]
    problems: list[RecordProblem] = field(default_factory=list)
    data_root: str | None = None


@dataclass
class ExportImage:
    """An image handed to an exporter: where its bytes are and how to name it."""

    key: str
    path: Path
    file_name: str
    width: int
    height: int
    split: str | None = None
