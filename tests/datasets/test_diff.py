"""Label-level diff between frozen label frames."""

from __future__ import annotations

import polars as pl

from jupyter_cvops.datasets._diff import diff_labels
from jupyter_cvops.labels._resolution import LABEL_COLUMNS

F = pl.Float64


def frame(rows: list[dict]) -> pl.DataFrame:
    base = {c: None for c in LABEL_COLUMNS}
    full = [{**base, "origin": "annotator", "status": "ok", **r} for r in rows]
    return pl.DataFrame(full, schema_overrides={c: F for c in ("x0", "y0", "x1", "y1")}).select(
        [c for c in LABEL_COLUMNS if c != "created_at" and c != "label_taxonomy_version"]
    )


def box(lid: str, ann: str, cls: str, b: tuple, img: str = "i1") -> dict:
    return dict(image_id=img, label_id=lid, annotator=ann, class_id=cls, class_name=cls, kind="box",
                x0=b[0], y0=b[1], x1=b[2], y1=b[3])


def test_identical_versions_have_no_diff() -> None:
    a = frame([box("a", "ana", "dent", (0, 0, 10, 10))])
    assert diff_labels(a, a).height == 0


def test_added_removed_changed_with_annotator() -> None:
    old = frame([box("a", "ana", "dent", (0, 0, 10, 10)), box("b", "ben", "stain", (50, 50, 60, 60))])
    new = frame([
        box("a2", "ana", "scratch", (0, 0, 10, 11)),  # same object, class changed: IoU 0.91
        box("c", "ben", "stain", (80, 80, 90, 90)),  # a different object: removed + added
    ])
    d = diff_labels(old, new)
    got = sorted(zip(d["change"], d["annotator"], d["class_before"].fill_null("-"), d["class_after"].fill_null("-")))
    assert got == [
        ("added", "ben", "-", "stain"),
        ("changed", "ana", "dent", "scratch"),
        ("removed", "ben", "stain", "-"),
    ]


def test_same_label_id_remapped_class_is_changed() -> None:
    old = frame([dict(image_id="i", label_id="a", annotator="ana", class_id="c1", class_name="dent", kind="image")])
    new = old.with_columns(pl.lit("depression").alias("class_name"))
    d = diff_labels(old, new)
    assert d.select("change", "class_before", "class_after").row(0) == ("changed", "dent", "depression")


def test_image_labels_pair_per_annotator() -> None:
    old = frame([dict(image_id="i", label_id="a", annotator="ana", class_id="c1", class_name="ok", kind="image")])
    new = frame([dict(image_id="i", label_id="b", annotator="ana", class_id="c2", class_name="dent", kind="image"),
                 dict(image_id="i", label_id="c", annotator="ben", class_id="c2", class_name="dent", kind="image")])
    d = diff_labels(old, new)
    assert sorted(d["change"].to_list()) == ["added", "changed"]
