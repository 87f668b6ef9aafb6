"""Annotation-format readers and writers: pure parsing, no workspace access.

Every reader turns one tool's export into an :class:`ImportResult` of
:class:`ImageRef` and :class:`AnnotationRecord` (pixel xyxy boxes) plus one
:class:`RecordProblem` per skipped record; a malformed file raises
:class:`FormatError`.  COCO and YOLO also have writers (``coco.write``,
``yolo.write``).

Notes
-----
* ``data_root`` defaults to the export's natural root (COCO: the folder above
  ``annotations/``; CVAT, Label Studio: the file's folder; YOLO: the dataset folder;
  VOC: the folder holding ``Annotations/``).  A name resolving outside it (``..``,
  an absolute path elsewhere, a symlink pointing out) gives the problem
  "path escapes data root" and an :class:`ImageRef` without a path.
* An image whose file is simply not there is no problem of the export: its
  :class:`ImageRef` has ``path=None`` and its labels are still returned (the
  workspace reports it once per image when importing).
* COCO has no image-level class: our writer stores image labels as annotations with
  an empty ``bbox`` and ``attributes.image_label = true``; the reader turns those
  (and datumaro's bbox-less ``labels_*.json`` annotations) into ``kind="image"``.

Examples
--------
>>> from jupyter_cvops import formats
>>> formats.FORMATS
('coco', 'cvat', 'labelstudio', 'yolo', 'voc')
>>> res = formats.read("annotations.xml", "cvat", data_root="images")   # doctest: +SKIP
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Any

from ._types import AnnotationRecord, ExportImage, FormatError, ImageRef, ImportResult, RecordProblem

__all__ = [
    "FORMATS",
    "AnnotationRecord",
    "ExportImage",
    "FormatError",
    "ImageRef",
    "ImportResult",
    "RecordProblem",
    "read",
]

#: Formats :func:`read` understands.
FORMATS = ("coco", "cvat", "labelstudio", "yolo", "voc")


def read(path: str | Path, format: str, **kw: Any) -> ImportResult:
    """Read an export in ``format`` (one of :data:`FORMATS`); keywords go to that reader.

    Common keywords are ``data_root`` (where image files are looked up; names that
    resolve outside it are refused) and ``annotator`` (id for labels whose format
    names none).  YOLO also takes ``names`` and ``image_size``; Label Studio takes
    ``label_config``.

    Examples
    --------
    >>> read("x.json", "pascal")
    Traceback (most recent call last):
    ...
    ValueError: unknown annotation format 'pascal'; choose one of coco, cvat, labelstudio, yolo, voc
    >>> read("instances_train.json", "coco", annotator="ana")      # doctest: +SKIP
    """
    if format not in FORMATS:
        raise ValueError(f"unknown annotation format {format!r}; choose one of {', '.join(FORMATS)}")
    module = import_module(f"{__name__}.{format}")
    result: ImportResult = module.read(path, **kw)
    return result
