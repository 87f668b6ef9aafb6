"""The ``predictions.shadow_of`` column (issue 12): a workspace written by 60c5f7f, the commit before it,
gains the column on a writable open (old rows read back null), reads with it as null when opened
read-only, and an older release (its schema without the column) can still append to the new layout,
which is why the workspace format stays 3."""

from __future__ import annotations

import tarfile
from pathlib import Path

import polars as pl
import pyarrow as pa

from jupyter_cvops import Workspace
from jupyter_cvops._store import to_arrow
from jupyter_cvops._store._migrations import FORMAT_VERSION
from jupyter_cvops._store.schemas import PREDICTIONS

DATA = Path(__file__).parent / "data"


def unpack(dest: Path) -> Path:
    with tarfile.open(DATA / "workspace-60c5f7f.tar.gz") as tar:
        tar.extractall(dest, filter="data")
    return dest / "ws"


def test_the_fixture_predates_the_column(tmp_path: Path) -> None:
    import lancedb

    table = lancedb.connect(unpack(tmp_path)).open_table("predictions")
    assert "shadow_of" not in table.schema.names and table.count_rows() == 5


def test_read_only_open_reads_shadow_of_as_null(tmp_path: Path) -> None:
    ro = Workspace.open(unpack(tmp_path), readonly=True)
    rows = ro.predictions()
    assert rows.height == 5 and rows["shadow_of"].null_count() == 5
    assert rows.schema["shadow_of"] == pl.String


def test_writable_open_adds_the_column_and_old_rows_read_null(tmp_path: Path) -> None:
    ws = Workspace.open(unpack(tmp_path))
    assert ws.store.format == FORMAT_VERSION == 3
    mig = ws.store.migration
    assert mig is not None and "predictions.shadow_of" in mig.added_columns
    old = ws.predictions()
    assert old.height == 5 and old["shadow_of"].null_count() == 5
    assert old["predicted_class"].to_list() == ["dent", "scuff", "dent", "dent", "scuff"]
    served = old["prediction_id"][0]
    ws.log_predictions(pl.DataFrame({"image_id": [old["image_id"][0]], "predicted_class": ["scuff"],
                                     "shadow_of": [served]}), "clf", version="e" * 32, role="shadow")
    shadow = ws.predictions().filter(pl.col("role") == "shadow")
    assert shadow["shadow_of"].to_list() == [served]
    # an older release writes rows without the column: the migrated table takes them (null shadow_of)
    legacy = pa.schema([f for f in PREDICTIONS if f.name != "shadow_of"])
    row = {"prediction_id": "legacy0001", "model": "clf", "role": "served", "status": "ok"}
    ws.store.table("predictions").add(to_arrow([row], legacy))
    back = ws.predictions().filter(pl.col("prediction_id") == "legacy0001")
    assert back.height == 1 and back["shadow_of"][0] is None
    assert Workspace.open(ws.uri).store.migration is None
