"""Annotation-format readers and writers: pure parsing, no workspace access.

Every reader turns one tool's export into an :class:`ImportResult` of
:class:`ImageRef` and :class:`AnnotationRecord` (pixel xyxy boxes) plus one
:class:`RecordProblem` per skipped record; a malformed file raises
:class:`FormatError`.  COCO, YOLO, CVAT and Label Studio also have writers
(``coco.write``, ...), which name images relative to the export.

Notes
-----
* ``data_root`` defaults to the export's natural root (COCO: the folder above
  ``annotations/``; CVAT, Label Studio: the file's folder; YOLO: the dataset folder;
  VOC: the folder holding ``Annotations/``; LabelMe: the folder read, or the JSON's
  folder).  A name resolving outside it (``..``, an absolute path elsewhere, a
  symlink pointing out) gives the problem
  "path escapes data root" (its ``image_key`` naming the image) and an
  :class:`ImageRef` without a path.  ``ImportResult.data_root`` is the folder
  used, symlinks resolved.
* Annotation, list and config files are opened only inside the export's folder or
  ``data_root``, symlinks resolved: a file found by walking a folder that resolves
  outside gives the same problem and is not read; the file named, symlinked out of
  its folder, is a :class:`FormatError`.  Files above their size cap (1 GiB for a
  whole export, 64 MiB for one image's labels, 8 MiB for data.yaml, names files and
  label configs) are a :class:`FormatError` naming the file and the cap; YAML anchors
  and aliases are refused.
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
('coco', 'cvat', 'labelstudio', 'yolo', 'voc', 'labelme')
>>> res = formats.read("annotations.xml", "cvat", data_root="images")   # doctest: +SKIP
"""

from __future__ import annotations

from ._dispatch import FORMATS, read
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
