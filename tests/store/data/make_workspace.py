"""Write a small workspace with whatever jupyter-cvops is importable (used to make the
fixtures of tests/store/test_migrations.py from earlier commits of this project).

Usage (from the repo root; COMMIT is the commit whose code writes the workspace)::

    git worktree add /tmp/old-COMMIT COMMIT
    PYTHONPATH=/tmp/old-COMMIT CVOPS_USER=fixture .venv/bin/python \
        tests/store/data/make_workspace.py /tmp/fixture-COMMIT
    tar -C /tmp/fixture-COMMIT -czf tests/store/data/workspace-COMMIT.tar.gz .

The folder gets ``images/`` (12 seeded 24x16 PNGs) and ``ws/`` (the workspace): two annotators
label every image, a class is renamed, a version named ``baseline`` is snapshotted, and one
review row is written through the store (older commits had no review API). Commits with
version names (``ws.name_version``) also give ``baseline`` a second name ``golden``, snapshot
the first six images as ``small`` and move ``baseline`` onto it (so the fixture holds a name
history: set, set, set, move). Commits with a prediction log also log five served predictions of a
model ``clf`` the registry does not know (so the fixture holds a ``predictions`` table).
"""

from __future__ import annotations

import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import polars as pl


def main(out: Path) -> None:
    import cv2

    import jupyter_cvops as cv

    rng = np.random.default_rng(7)
    (out / "images").mkdir(parents=True)
    for i in range(12):
        img = rng.integers(0, 255, size=(16, 24, 3), dtype=np.uint8)
        cv2.imwrite(str(out / "images" / f"img{i:02d}.png"), img)
    ws = cv.Workspace.create(out / "ws")
    ws.add_images(str(out / "images" / "*.png"), source="line-1", progress=False)
    ids = ws.images().sort("path")["image_id"].to_list()
    t0 = datetime(2026, 11, 1, tzinfo=timezone.utc)
    rows = []
    for k, iid in enumerate(ids):
        for j, who in enumerate(["ana", "ben"]):
            cls = "dent" if (k + j * (k % 3 == 0)) % 2 == 0 else "scratch"
            rows.append({"image_id": iid, "annotator": who, "created_at": t0, "class_name": cls, "kind": "image"})
    ws.add_annotations(pl.DataFrame(rows))
    ws.taxonomy.rename("scratch", "scuff")
    ws.taxonomy.commit("scratch is called scuff", author="fixture")
    ws.snapshot(name="baseline", message="fixture", splits={"train": 0.75, "val": 0.25})
    review = {"review_id": uuid.uuid4().hex, "image_id": ids[0], "reviewer": "qa", "created_at": t0,
              "taxonomy_version": 1, "decision": "comment", "comment": "looks fine"}
    schema = ws.store._schemas["reviews"] if hasattr(ws.store, "_schemas") else None
    if schema is not None and "decision_id" in schema.names:
        review["decision_id"] = review["review_id"]
    ws.store.append("reviews", [review])
    if hasattr(ws, "name_version"):  # commits with a name history (format 2 on)
        ws.name_version("golden", "baseline", message="a second name")
        small = ws.snapshot(name="small", images=ids[:6], message="six images")
        ws.name_version("baseline", small, move=True, message="baseline is the small set now")
    if hasattr(ws, "log_predictions"):  # commits with a prediction log (issue 10 on)
        served = pl.DataFrame({"image_id": ids[:5], "predicted_class": ["dent", "scuff", "dent", "dent", "scuff"],
                               "scores": [[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.8, 0.2], [0.45, 0.55]],
                               "latency_ms": [3.0, 3.5, 2.5, 3.0, 4.0], "time": [t0] * 5})
        ws.log_predictions(served, "clf", version="f" * 32, alias="production", source="line-1")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
