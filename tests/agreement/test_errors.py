"""Agreement input errors say what to do, never leak polars internals: an empty workspace,
a window length that is no polars duration, a box-only workspace asked for image labels."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
import polars as pl
import pytest

from jupyter_cvops import Workspace
from jupyter_cvops.agreement.metrics import agreement_report

DURATION = (r"every must be a valid polars duration such as '1d', '12h', '1w' "
            r".*got '1day'; did you mean '1d'\?")


def labels() -> pl.DataFrame:
    return pl.DataFrame({"item": [1, 1, 2, 2, 3, 3], "annotator": ["a", "b"] * 3,
                         "class_name": ["x", "x", "y", "y", "x", "y"],
                         "created_at": [datetime(2024, 1, d) for d in range(1, 7)]})


def test_empty_workspace_says_import_annotations_first(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "ws")
    with pytest.raises(ValueError, match=r"^no labels to rate: import annotations first"):
        ws.agreement(bootstrap=0)


def test_window_length_names_the_accepted_forms() -> None:
    with pytest.raises(ValueError, match=DURATION):
        agreement_report(labels(), bootstrap=0, every="1day")
    with pytest.raises(ValueError, match=r"every must be a valid polars duration .*got 'weekly'$"):
        agreement_report(labels(), bootstrap=0, every="weekly")
    rep = agreement_report(labels(), bootstrap=0, every="1d")  # the polars form is accepted
    assert rep.windows.height == 6 and rep.meta["every"] == "1d"


def test_window_length_is_checked_before_anything_else(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "ws")
    with pytest.raises(ValueError, match=DURATION):
        ws.agreement(every="1day", bootstrap=0)


def test_box_only_labels_suggest_kind_box() -> None:
    boxes = labels().with_columns(kind=pl.lit("box"))
    with pytest.raises(ValueError, match=r"^no labels to rate: no 'image' labels, only 6 'box' labels; "
                                         r"for box agreement pass kind='box' \(ws\.agreement\(kind='box'\)\)$"):
        agreement_report(boxes, bootstrap=0)


def test_box_only_workspace_suggests_kind_box(tmp_path: Path) -> None:
    (tmp_path / "imgs").mkdir()
    rng = np.random.default_rng(0)
    images = []
    for i in range(3):
        cv2.imwrite(str(tmp_path / "imgs" / f"{i}.png"), rng.integers(0, 256, (20, 20, 3), dtype=np.uint8))
        images.append({"id": i + 1, "file_name": f"{i}.png", "width": 20, "height": 20})
    coco = {"images": images, "categories": [{"id": 1, "name": "scratch"}],
            "annotations": [{"id": i + 1, "image_id": i + 1, "category_id": 1, "bbox": [2, 2, 8, 8],
                             "area": 64, "iscrowd": 0} for i in range(3)]}
    (tmp_path / "imgs" / "coco.json").write_text(json.dumps(coco))
    ws = Workspace.create(tmp_path / "ws")
    for who in ("a", "b"):
        ws.import_annotations(tmp_path / "imgs" / "coco.json", format="coco", annotator=who, progress=False)
    assert set(ws.annotations()["kind"]) == {"box"}
    with pytest.raises(ValueError, match=r"no labels to rate: no 'image' labels, only 6 'box' labels; "
                                         r"for box agreement pass kind='box'"):
        ws.agreement(bootstrap=0)
