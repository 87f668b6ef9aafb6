"""Dispatch by format name to the reader (and writer) of one tool."""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Any

from ._common import screen_records
from ._types import ImportResult

#: Formats :func:`read` understands.
FORMATS = ("coco", "cvat", "labelstudio", "yolo", "voc", "labelme")


def read(path: str | Path, format: str, **kw: Any) -> ImportResult:
    """Read an export in ``format`` (one of :data:`FORMATS`); keywords go to that reader.

    Common keywords are ``data_root`` (where image files are looked up; names that
    resolve outside it are refused) and ``annotator`` (id for labels whose format
    names none).  YOLO also takes ``names`` and ``image_size``; Label Studio takes
    ``label_config``; LabelMe takes ``flags_as_labels``.

    Examples
    --------
    >>> read("x.json", "pascal")
    Traceback (most recent call last):
    ...
    ValueError: unknown annotation format 'pascal'; choose one of coco, cvat, labelstudio, yolo, voc, labelme
    >>> read("instances_train.json", "coco", annotator="ana")      # doctest: +SKIP
    """
    if format not in FORMATS:
        raise ValueError(f"unknown annotation format {format!r}; choose one of {', '.join(FORMATS)}")
    module = import_module(f"{__package__}.{format}")
    result: ImportResult = module.read(path, **kw)
    return screen_records(result)
