"""Taxonomy versions: staged operations, commits, history, diffs and label mapping, on a real store."""

from __future__ import annotations

import doctest
import json
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jupyter_cvops.taxonomy._ops as ops_module
import jupyter_cvops.taxonomy.facade as taxonomy_module
from jupyter_cvops._store import Store
from jupyter_cvops.taxonomy.facade import (
    PALETTE,
    DuplicateClassError,
    Taxonomy,
    TaxonomyConflict,
    TaxonomyError,
    UnknownClassError,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.create(tmp_path / "ws")


@pytest.fixture
def tax(store: Store) -> Taxonomy:
    return Taxonomy(store)


def committed(tax: Taxonomy, *names: str, message: str = "init") -> Taxonomy:
    for n in names:
        tax.add(n, f"definition of {n}")
    tax.commit(message, author="ana")
    return tax


def row(tax: Taxonomy, name: str, version: int | None = None) -> dict:
    df = tax.classes(version).filter(pl.col("name") == name)
    return df.sort(pl.col("status") == "active").row(-1, named=True)


# -- docstrings ------------------------------------------------------------------------


@pytest.mark.parametrize("module", [taxonomy_module, ops_module])
def test_docstring_examples_run(module: object) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)  # type: ignore[arg-type]
    assert result.attempted > 20
    assert result.failed == 0


# -- add and validation ----------------------------------------------------------------


def test_add_assigns_stable_ids_and_distinct_default_colors(tax: Taxonomy) -> None:
    committed(tax, "scratch", "dent", "stain")
    df = tax.classes()
    assert df["id"].to_list() == ["c0001", "c0002", "c0003"]
    assert df["color"].to_list() == list(PALETTE[:3])
    assert df["status"].to_list() == ["active"] * 3
    assert df["definition"][1] == "definition of dent"
    assert df.columns[:6] == ["id", "name", "definition", "parent", "color", "status"]


def test_add_with_parent_and_color(tax: Taxonomy) -> None:
    tax.add("defect")
    tax.add("dent", "inward deformation", parent="defect", color="#ABC")
    tax.commit("tree")
    dent = row(tax, "dent")
    assert dent["parent"] == "c0001"
    assert dent["color"] == "#aabbcc"
    assert tax.history()["changes"][0].to_list() == [
        'added "defect"',
        'added "dent" under "defect": "inward deformation"',
    ]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        (" dent", "whitespace"),
        ("dent\n", "whitespace"),
        ("de\tnt", "control"),
        (3, "must be a string"),
        ("x" * 201, "longer than"),
    ],
)
def test_add_rejects_bad_names(tax: Taxonomy, name: object, reason: str) -> None:
    with pytest.raises(TaxonomyError, match=reason):
        tax.add(name)  # type: ignore[arg-type]
    assert tax.staged == []


def test_duplicate_names_are_refused_case_sensitively(tax: Taxonomy) -> None:
    committed(tax, "dent")
    with pytest.raises(DuplicateClassError, match="already named 'dent'"):
        tax.add("dent")
    tax.add("Dent")  # a different name
    tax.add("scratch")
    with pytest.raises(DuplicateClassError):
        tax.add("scratch")  # duplicate of a staged class
    assert [str(op) for op in tax.staged] == ['added "Dent"', 'added "scratch"']


def test_bad_color_and_parent(tax: Taxonomy) -> None:
    committed(tax, "defect")
    with pytest.raises(TaxonomyError, match="hex string"):
        tax.add("dent", color="red")
    with pytest.raises(UnknownClassError, match="did you mean 'defect'") as err:
        tax.add("dent", parent="defekt")
    assert isinstance(err.value, KeyError)
    assert "no active parent class named 'defekt'" in str(err.value)


def test_unknown_class_error_lists_close_names(tax: Taxonomy) -> None:
    committed(tax, "scratch", "stain", "dent")
    with pytest.raises(KeyError, match="did you mean 'scratch'"):
        tax.rename("scrach", "x")
    with pytest.raises(UnknownClassError, match="active classes: 'dent', 'scratch', 'stain'"):
        tax.redefine("zzz", "x")
    with pytest.raises(UnknownClassError, match="did you mean 'dent'"):
        tax.deprecate("DENT")


# -- each operation -------------------------------------------------------------------


def test_rename_keeps_id(tax: Taxonomy) -> None:
    committed(tax, "stain", "dent")
    tax.rename("stain", "contamination")
    v = tax.commit("clearer name")
    assert v.version == 2
    assert v.changes == ['renamed "stain" -> "contamination"']
    assert tax.id_of("contamination") == "c0001"
    assert tax.name_of("c0001") == "contamination"
    assert tax.name_of("c0001", version=1) == "stain"
    with pytest.raises(UnknownClassError):
        tax.id_of("stain")
    assert tax.id_of("stain", version=1) == "c0001"


def test_rename_errors(tax: Taxonomy) -> None:
    committed(tax, "stain", "dent")
    with pytest.raises(DuplicateClassError):
        tax.rename("stain", "dent")
    with pytest.raises(TaxonomyError, match="already named"):
        tax.rename("stain", "stain")
    with pytest.raises(TaxonomyError, match="empty"):
        tax.rename("stain", "")


def test_ops_accept_class_ids(tax: Taxonomy) -> None:
    committed(tax, "stain")
    tax.rename("c0001", "smear")
    assert str(tax.staged[0]) == 'renamed "stain" -> "smear"'


def test_redefine(tax: Taxonomy) -> None:
    committed(tax, "dent")
    long = "Any inward deformation of the part surface deeper than half a millimetre, seen under raking light"
    tax.redefine("dent", long)
    tax.commit("stricter dent")
    assert row(tax, "dent")["definition"] == long
    assert row(tax, "dent", version=1)["definition"] == "definition of dent"
    line = tax.history()["changes"][1][0]
    assert line == 'redefined "dent": "definition of dent" -> "Any inward deformation of the part su..."'
    with pytest.raises(TaxonomyError, match="already has this definition"):
        tax.redefine("dent", long)


def test_merge_into_new_class(tax: Taxonomy) -> None:
    committed(tax, "stain", "dirt", "dent")
    tax.merge(["stain", "dirt"], into="contamination", definition="any foreign matter")
    v = tax.commit("one class for foreign matter")
    assert v.changes == ['merged "stain", "dirt" -> "contamination" (new class): "any foreign matter"']
    df = tax.classes()
    new = row(tax, "contamination")
    assert new["id"] == "c0004" and new["status"] == "active"
    assert new["definition"] == "any foreign matter"
    assert new["color"] == row(tax, "stain")["color"]  # the target inherits the first source's color
    for name in ("stain", "dirt"):
        r = row(tax, name)
        assert r["status"] == "merged" and r["merged_into"] == "c0004"
    assert df.filter(pl.col("status") == "active")["name"].to_list() == ["dent", "contamination"]
    assert tax.classes(include_retired=False).height == 2


def test_merge_into_member_and_into_other_existing(tax: Taxonomy) -> None:
    committed(tax, "stain", "dirt", "smudge", "contamination")
    tax.merge(["stain", "dirt"], into="dirt")
    tax.merge(["smudge"], into="contamination", definition="foreign matter")
    v = tax.commit("merge")
    assert v.changes == [
        'merged "stain" -> "dirt"',
        'merged "smudge" -> "contamination", redefined "definition of contamination" -> "foreign matter"',
    ]
    assert row(tax, "dirt")["id"] == "c0002" and row(tax, "dirt")["status"] == "active"
    assert row(tax, "stain")["merged_into"] == "c0002"
    assert row(tax, "smudge")["merged_into"] == "c0004"
    assert row(tax, "contamination")["definition"] == "foreign matter"


def test_merge_errors(tax: Taxonomy) -> None:
    committed(tax, "stain", "dirt")
    with pytest.raises(TaxonomyError, match="nothing to merge"):
        tax.merge(["stain"], into="stain")
    with pytest.raises(TaxonomyError, match="twice"):
        tax.merge(["stain", "stain"], into="x")
    with pytest.raises(UnknownClassError, match="did you mean 'dirt'"):
        tax.merge(["stain", "dirtt"], into="x")
    with pytest.raises(TaxonomyError, match="empty"):
        tax.merge(["stain", "dirt"], into="")
    assert tax.staged == []


def test_merge_moves_children_under_target(tax: Taxonomy) -> None:
    tax.add("contamination")
    tax.add("stain")
    tax.add("oil", parent="stain")
    tax.commit("tree")
    tax.merge(["stain"], into="contamination")
    v = tax.commit("merge")
    assert row(tax, "oil")["parent"] == row(tax, "contamination")["id"]
    assert v.changes == ['merged "stain" -> "contamination" ("oil" moved under "contamination")']


def test_merge_of_a_parent_into_its_descendant_keeps_the_tree_acyclic(tax: Taxonomy) -> None:
    tax.add("defect")
    tax.add("surface", parent="defect")
    tax.add("scratch", parent="surface")
    tax.commit("tree")
    tax.merge(["defect"], into="scratch")
    tax.commit("flatten")
    parents = dict(zip(tax.classes()["name"], tax.classes()["parent"]))
    assert parents["surface"] is None  # could not go under its own child
    assert parents["scratch"] == "c0002"


def test_split(tax: Taxonomy) -> None:
    committed(tax, "defect", "ok")
    tax.split("defect", {"scratch": "linear mark", "dent": "inward deformation"})
    v = tax.commit("finer classes")
    assert v.changes == ['split "defect" -> "scratch", "dent"']
    src = row(tax, "defect")
    assert src["status"] == "split" and src["split_into"] == ["c0003", "c0004"]
    assert row(tax, "scratch")["definition"] == "linear mark"
    assert row(tax, "dent")["id"] == "c0004"
    assert len(set(tax.classes(include_retired=False)["color"])) == 3


def test_split_may_reuse_the_source_name(tax: Taxonomy) -> None:
    committed(tax, "vehicle")
    tax.split("vehicle", ["vehicle", "truck"])
    tax.commit("trucks apart")
    assert tax.id_of("vehicle") == "c0002"
    assert tax.resolve_name("vehicle", version=1) == "c0001"


def test_split_errors(tax: Taxonomy) -> None:
    committed(tax, "defect", "dent")
    with pytest.raises(DuplicateClassError, match="use merge"):
        tax.split("defect", ["scratch", "dent"])
    with pytest.raises(TaxonomyError, match="at least two"):
        tax.split("defect", ["scratch"])
    with pytest.raises(TaxonomyError, match="list of new class names"):
        tax.split("defect", "scratch")  # type: ignore[arg-type]
    with pytest.raises(TaxonomyError, match="twice"):
        tax.split("defect", ["a", "a"])


def test_split_and_deprecate_move_children_up(tax: Taxonomy) -> None:
    tax.add("part")
    tax.add("defect", parent="part")
    tax.add("scratch", parent="defect")
    tax.add("legacy")
    tax.add("old-sub", parent="legacy")
    tax.commit("tree")
    tax.split("defect", ["surface", "structural"])
    tax.deprecate("legacy")
    v = tax.commit("reshape")
    parents = {r["name"]: r["parent"] for r in tax.classes(include_retired=False).to_dicts()}
    assert parents["scratch"] == "c0001"
    assert parents["surface"] == "c0001" and parents["structural"] == "c0001"
    assert parents["old-sub"] is None
    assert v.changes == [
        'split "defect" -> "surface", "structural" ("scratch" moved under "part")',
        'deprecated "legacy" ("old-sub" moved to top level)',
    ]


def test_deprecate(tax: Taxonomy) -> None:
    committed(tax, "ok", "dent")
    tax.deprecate("ok")
    tax.commit("ok is implied by no label")
    assert row(tax, "ok")["status"] == "deprecated"
    with pytest.raises(UnknownClassError, match="'ok' is deprecated"):
        tax.id_of("ok")
    with pytest.raises(UnknownClassError, match="operations apply to active classes"):
        tax.rename("ok", "fine")
    tax.add("ok")  # the name is free again; a new id
    tax.commit("back")
    assert tax.id_of("ok") == "c0003"
    assert tax.resolve_name("ok") == "c0003"


def test_set_color_and_set_parent(tax: Taxonomy) -> None:
    committed(tax, "defect", "dent", "scratch")
    tax.set_color("dent", "#123456")
    tax.set_parent("dent", "defect")
    tax.set_parent("scratch", "dent")
    v = tax.commit("tree and colors")
    assert v.changes == [
        'recolored "dent": #f28e2b -> #123456',
        'moved "dent" under "defect"',
        'moved "scratch" under "dent"',
    ]
    with pytest.raises(TaxonomyError, match="descendants"):
        tax.set_parent("defect", "scratch")
    with pytest.raises(TaxonomyError, match="descendants"):
        tax.set_parent("dent", "dent")
    with pytest.raises(TaxonomyError, match="already has this parent"):
        tax.set_parent("dent", "defect")
    with pytest.raises(TaxonomyError, match="already has color"):
        tax.set_color("dent", "#123456")
    tax.set_parent("scratch", None)
    assert str(tax.staged[0]) == 'moved "scratch" to top level'


# -- staging and committing ------------------------------------------------------------


def test_staged_discard_preview(tax: Taxonomy) -> None:
    committed(tax, "dent")
    tax.add("scratch")
    tax.rename("dent", "dint")
    assert [op.op for op in tax.staged] == ["add", "rename"]
    assert tax.preview()["name"].to_list() == ["dint", "scratch"]
    assert tax.classes()["name"].to_list() == ["dent"]  # not committed yet
    tax.discard()
    assert tax.staged == []
    assert tax.preview()["name"].to_list() == ["dent"]


def test_failed_op_leaves_staging_untouched(tax: Taxonomy) -> None:
    committed(tax, "a", "b")
    tax.rename("a", "c")
    before = tax.preview()
    with pytest.raises(DuplicateClassError):
        tax.rename("b", "c")
    with pytest.raises(DuplicateClassError):
        tax.split("b", ["c", "d"])
    assert [str(op) for op in tax.staged] == ['renamed "a" -> "c"']
    assert tax.preview().equals(before)


def test_commit_versions_and_metadata(tax: Taxonomy, store: Store) -> None:
    assert tax.version == 0
    assert tax.classes().height == 0
    with pytest.raises(TaxonomyError, match="nothing staged"):
        tax.commit("empty")
    tax.add("dent")
    with pytest.raises(TaxonomyError, match="needs a message"):
        tax.commit("  ")
    v1 = tax.commit("first", author="ana")
    tax.add("scratch")
    v2 = tax.commit("second", author="ben")
    assert (v1.version, v1.parent, v2.version, v2.parent) == (1, None, 2, 1)
    assert v2.author == "ben" and v2.message == "second" and v2.n_classes == 2
    assert v2.created_at is not None and v2.created_at >= v1.created_at  # type: ignore[operator]
    assert tax.version == 2 and tax.staged == []
    raw = store.read("taxonomy_versions").sort("version")
    assert raw["version"].to_list() == [1, 2]
    assert [c["name"] for c in json.loads(raw["classes"][1])] == ["dent", "scratch"]
    assert json.loads(raw["changes"][1])[0]["op"] == "add"
    events = store.read("events").filter(pl.col("op") == "taxonomy.commit")
    assert events.height == 2 and events["actor"].to_list() == ["ana", "ben"]
    assert "repr" not in repr(v2) and "v2 by ben" in repr(v2)


def test_reopened_store_reads_the_same(tmp_path: Path) -> None:
    tax = Taxonomy(Store.create(tmp_path / "ws"))
    committed(tax, "dent", "scratch")
    tax.rename("dent", "dint")
    tax.commit("r")
    again = Taxonomy(Store.open(tmp_path / "ws"))
    assert again.version == 2
    assert again.classes().equals(tax.classes())
    assert again.history()["changes"].to_list() == tax.history()["changes"].to_list()


def test_version_arguments_are_checked(tax: Taxonomy) -> None:
    committed(tax, "dent")
    with pytest.raises(TaxonomyError, match="versions are 0..1"):
        tax.classes(5)
    with pytest.raises(TaxonomyError, match="must be an int"):
        tax.classes("1")  # type: ignore[arg-type]
    assert tax.classes(0).height == 0
    with pytest.raises(UnknownClassError, match="no class with id 'c0009'"):
        tax.name_of("c0009")


# -- reads: history, diff, names ------------------------------------------------------------


def test_history_text(tax: Taxonomy) -> None:
    committed(tax, "scratch", "dent", "stain", "dirt", "ok")
    tax.rename("stain", "contamination")
    tax.redefine("dent", "deeper than 0.5 mm")
    tax.commit("clarify", author="ben")
    tax.merge(["contamination", "dirt"], into="contamination")
    tax.split("scratch", ["hairline", "gouge"])
    tax.deprecate("ok")
    tax.commit("reshape", author="cy")
    h = tax.history()
    assert h.columns == ["version", "parent", "created_at", "author", "message", "n_classes", "changes"]
    assert h["version"].to_list() == [1, 2, 3]
    assert h["parent"].to_list() == [None, 1, 2]
    assert h["author"].to_list() == ["ana", "ben", "cy"]
    assert h["n_classes"].to_list() == [5, 5, 4]
    assert h["changes"][1].to_list() == [
        'renamed "stain" -> "contamination"',
        'redefined "dent": "definition of dent" -> "deeper than 0.5 mm"',
    ]
    assert h["changes"][2].to_list() == [
        'merged "dirt" -> "contamination"',
        'split "scratch" -> "hairline", "gouge"',
        'deprecated "ok"',
    ]


def test_diff_between_any_versions(tax: Taxonomy) -> None:
    committed(tax, "stain", "dirt", "dent")
    tax.rename("stain", "smear")
    tax.commit("v2")
    tax.merge(["smear", "dirt"], into="contamination")
    tax.redefine("dent", "deep")
    tax.commit("v3")
    assert tax.diff(1, 2) == ['renamed "stain" -> "smear"']
    assert tax.diff(1) == tax.diff(1, 3)
    assert tax.diff(1, 3) == [
        'added "contamination"',
        'renamed "stain" -> "smear"',
        'redefined "dent": "definition of dent" -> "deep"',
        'merged "smear" -> "contamination"',
        'merged "dirt" -> "contamination"',
    ]
    assert tax.diff(3, 1) == [
        'renamed "smear" -> "stain"',
        'redefined "dent": "deep" -> "definition of dent"',
        'restored "stain" (was merged)',
        'restored "dirt" (was merged)',
        'removed "contamination"',
    ]
    assert tax.diff(2, 2) == []
    assert tax.diff(0, 1)[0] == 'added "stain": "definition of stain"'


def test_resolve_name_follows_retired_names(tax: Taxonomy) -> None:
    committed(tax, "stain", "dirt")
    tax.merge(["stain"], into="dirt")
    tax.commit("m")
    assert tax.resolve_name("stain") == "c0001"
    assert tax.resolve_name("dirt", 1) == "c0002"
    with pytest.raises(UnknownClassError, match="did you mean 'stain'"):
        tax.resolve_name("stian")
    with pytest.raises(UnknownClassError, match="merged into 'dirt'"):
        tax.id_of("stain")


def test_repr_and_html(tax: Taxonomy) -> None:
    tax.add("<b>dent</b>", "a & b", color="#112233")
    tax.add("scratch", parent="<b>dent</b>")
    tax.commit("init")
    tax.add("stain")
    text = repr(tax)
    assert text.startswith("Taxonomy v1: 2 active classes, 0 retired")
    assert "c0001  #112233  <b>dent</b>" in text
    assert '+ added "stain"' in text
    page = tax._repr_html_()
    assert "background:#112233" in page
    assert "&lt;b&gt;dent&lt;/b&gt;" in page and "<b>dent</b>" not in page
    assert "a &amp; b" in page
    assert "staged (1)" in page and "added &quot;stain&quot;" in page


# -- label mapping ---------------------------------------------------------------------


@pytest.fixture
def evolved(tax: Taxonomy) -> Taxonomy:
    """v1: scratch dent stain dirt defect ok smudge; v2: stain->smear, smudge merged into dirt;
    v3: smear+dirt -> contamination (new), defect split, ok deprecated; v4: contamination->contam,
    dent split; v5: contam merged into grime (new)."""
    committed(tax, "scratch", "dent", "stain", "dirt", "defect", "ok", "smudge")
    tax.rename("stain", "smear")
    tax.merge(["smudge"], into="dirt")
    tax.commit("v2")
    tax.merge(["smear", "dirt"], into="contamination")  # c0008
    tax.split("defect", ["crack", "chip"])  # c0009 c0010
    tax.deprecate("ok")
    tax.commit("v3")
    tax.rename("contamination", "contam")
    tax.split("dent", ["shallow", "deep"])  # c0011 c0012
    tax.commit("v4")
    tax.merge(["contam"], into="grime")  # c0013
    tax.commit("v5")
    return tax


def resolved(tax: Taxonomy, pairs: list[tuple[str | None, int | None]], to: int | None = None) -> list[tuple]:
    out = tax.resolve([p[0] for p in pairs], [p[1] for p in pairs], to_version=to)
    return out.select("class_id", "class_name", "status").rows()


def test_resolve_renames_and_merge_chains(evolved: Taxonomy) -> None:
    assert resolved(evolved, [("c0001", 1), ("c0003", 1)], to=2) == [
        ("c0001", "scratch", "ok"),
        ("c0003", "smear", "renamed"),
    ]
    assert resolved(evolved, [("c0007", 1), ("c0007", 2)], to=2) == [
        ("c0004", "dirt", "merged"),
        ("c0004", "dirt", "merged"),  # a label made with a retired id maps forward too
    ]
    # rename then merge, merge of a merge, merge then rename, merge then merge
    assert resolved(evolved, [("c0003", 1), ("c0007", 1), ("c0004", 2)], to=4) == [
        ("c0008", "contam", "merged"),
        ("c0008", "contam", "merged"),
        ("c0008", "contam", "merged"),
    ]
    assert resolved(evolved, [("c0003", 1), ("c0008", 3), ("c0008", 4)]) == [
        ("c0013", "grime", "merged"),
        ("c0013", "grime", "merged"),
        ("c0013", "grime", "merged"),
    ]
    assert resolved(evolved, [("c0008", 3)], to=4) == [("c0008", "contam", "renamed")]


def test_resolve_splits_need_review_and_are_never_guessed(evolved: Taxonomy) -> None:
    out = evolved.resolve(["c0005", "c0002", "c0002", "c0011"], [1, 1, 3, 4])
    assert out["class_id"].to_list() == [None, None, None, "c0011"]
    assert out["status"].to_list() == ["needs_review", "needs_review", "needs_review", "ok"]
    assert out["candidates"].to_list() == [["crack", "chip"], ["shallow", "deep"], ["shallow", "deep"], []]
    # before the split, the same label is fine
    assert resolved(evolved, [("c0002", 1)], to=3) == [("c0002", "dent", "ok")]


def test_resolve_merge_into_a_class_that_is_later_split() -> None:
    with tempfile.TemporaryDirectory() as d:
        tax = Taxonomy(Store.create(d))
        committed(tax, "stain", "dirt")
        tax.merge(["stain"], into="dirt")
        tax.commit("m")
        tax.split("dirt", ["oil", "dust"])
        tax.commit("s")
        out = tax.resolve(["c0001"], [1])
        assert out.row(0, named=True)["status"] == "needs_review"
        assert out["candidates"][0].to_list() == ["oil", "dust"]


def test_resolve_deprecated_keeps_id(evolved: Taxonomy) -> None:
    assert resolved(evolved, [("c0006", 1), ("c0006", 3)]) == [
        ("c0006", "ok", "deprecated"),
        ("c0006", "ok", "deprecated"),
    ]


def test_resolve_unknown_ids_and_versions(evolved: Taxonomy) -> None:
    rows = resolved(
        evolved,
        [("c0099", 1), (None, 1), ("c0008", 1), ("c0001", 0), ("c0001", 42), ("c0001", None), ("c0008", None)],
    )
    assert rows == [
        (None, None, "unknown"),  # no such class
        (None, None, "unknown"),  # no class on the label
        (None, None, "unknown"),  # class created after the label's version
        (None, None, "unknown"),  # no taxonomy at version 0
        (None, None, "unknown"),  # a version that was never committed
        ("c0001", "scratch", "ok"),  # no version recorded: the id is read under the target version
        ("c0013", "grime", "merged"),
    ]


def test_resolve_to_an_older_version(evolved: Taxonomy) -> None:
    assert resolved(evolved, [("c0003", 2), ("c0008", 3)], to=1) == [
        ("c0003", "stain", "renamed"),
        (None, None, "unknown"),
    ]


def test_resolve_input_shapes_and_order(evolved: Taxonomy) -> None:
    ids = pl.Series("whatever", ["c0003", "c0001", "c0003", None])
    out = evolved.resolve(ids, 1, to_version=2)
    assert out.columns == ["from_class_id", "from_version", "class_id", "class_name", "status", "candidates"]
    assert out["from_class_id"].to_list() == ["c0003", "c0001", "c0003", None]
    assert out["from_version"].to_list() == [1, 1, 1, 1]
    assert out["status"].to_list() == ["renamed", "ok", "renamed", "unknown"]
    empty = evolved.resolve(pl.Series([], dtype=pl.String), pl.Series([], dtype=pl.Int32))
    assert empty.height == 0 and empty.columns == out.columns
    arr = evolved.resolve(np.array(["c0001"]), np.array([1], dtype=np.int64))
    assert arr["status"].to_list() == ["ok"]
    with pytest.raises(TaxonomyError, match="2 class ids but 3 versions"):
        evolved.resolve(["c0001", "c0002"], [1, 1, 1])
    with pytest.raises(TaxonomyError, match="versions are 0..5"):
        evolved.resolve(["c0001"], [1], to_version=6)


def test_resolve_a_million_labels_under_a_second(evolved: Taxonomy) -> None:
    rng = np.random.default_rng(0)
    n = 1_000_000
    ids = pl.Series([f"c{i:04d}" for i in rng.integers(1, 14, n)])
    versions = pl.Series(rng.integers(1, 6, n).astype("int32"))
    evolved.resolve(ids[:10], versions[:10])  # warm the version cache as a workspace would
    start = time.perf_counter()
    out = evolved.resolve(ids, versions)
    took = time.perf_counter() - start
    assert out.height == n
    assert out["from_class_id"].equals(ids.rename("from_class_id"))
    assert set(out["status"].unique()) <= {"ok", "renamed", "merged", "needs_review", "deprecated", "unknown"}
    assert took < 1.0, f"resolve of 1M labels took {took:.2f} s"


# -- ensure (importers) -------------------------------------------------------------------


def test_ensure_adds_missing_names_in_one_commit(tax: Taxonomy) -> None:
    committed(tax, "dent")
    got = tax.ensure(["scratch", "dent", "stain", "scratch"], author="importer", message="from COCO")
    assert got == {"scratch": "c0002", "dent": "c0001", "stain": "c0003"}
    assert tax.version == 2
    h = tax.history().row(-1, named=True)
    assert h["author"] == "importer" and h["message"] == "from COCO"
    assert h["changes"] == ['added "scratch"', 'added "stain"']
    assert tax.ensure(["dent", "stain"]) == {"dent": "c0001", "stain": "c0003"}
    assert tax.version == 2  # nothing missing: no commit
    assert tax.ensure([]) == {}


def test_ensure_maps_retired_names_and_keeps_staged_ops(tax: Taxonomy) -> None:
    committed(tax, "stain", "dirt")
    tax.merge(["stain"], into="dirt")
    tax.commit("m")
    tax.add("later")
    got = tax.ensure(["stain", "new"])
    assert got == {"stain": "c0001", "new": "c0003"}
    assert tax.history()["message"][-1] == "add 1 classes: new"
    assert [str(op) for op in tax.staged] == ['added "later"']
    v = tax.commit("later")  # replayed on top of the ensure commit
    assert v.version == 4 and tax.id_of("later") == "c0004"
    with pytest.raises(TaxonomyError, match="empty"):
        tax.ensure([""])


# -- concurrent writers --------------------------------------------------------------------


def test_concurrent_commits_from_two_threads(tmp_path: Path) -> None:
    Store.create(tmp_path / "ws")
    barrier = threading.Barrier(2)
    results: dict[str, int] = {}
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            tax = Taxonomy(Store.open(tmp_path / "ws"))
            tax.add(name)
            barrier.wait()
            results[name] = tax.commit(f"add {name}", author=name).version
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("dent", "scratch")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(results.values()) == [1, 2]
    tax = Taxonomy(Store.open(tmp_path / "ws"))
    assert sorted(tax.classes()["name"].to_list()) == ["dent", "scratch"]
    assert sorted(tax.classes()["id"].to_list()) == ["c0001", "c0002"]
    assert tax.history()["parent"].to_list() == [None, 1]


SUBPROCESS_COMMIT = textwrap.dedent(
    """
    import sys
    from jupyter_cvops._store import Store
    from jupyter_cvops.taxonomy import Taxonomy
    tax = Taxonomy(Store.open(sys.argv[1]))
    tax.add(sys.argv[2])
    print(tax.commit("from another process", author="proc").version)
    """
)


def run_subprocess_commit(path: Path, name: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", SUBPROCESS_COMMIT, str(path), name],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )


def test_commit_replays_staged_ops_after_another_process_committed(tmp_path: Path) -> None:
    store = Store.create(tmp_path / "ws")
    tax = Taxonomy(store)
    committed(tax, "stain")
    tax.rename("stain", "contamination")
    tax.add("dent")
    proc = run_subprocess_commit(tmp_path / "ws", "scratch")  # commits v2 while we hold staged ops
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert out.strip() == "2"
    v = tax.commit("mine")
    assert v.version == 3
    assert v.changes == ['renamed "stain" -> "contamination"', 'added "dent"']
    names = dict(zip(tax.classes()["name"], tax.classes()["id"]))
    assert names == {"contamination": "c0001", "scratch": "c0002", "dent": "c0003"}


def test_subprocess_waits_for_the_lock_and_no_op_is_lost(tmp_path: Path) -> None:
    store = Store.create(tmp_path / "ws")
    tax = Taxonomy(store)
    tax.add("dent")
    with store.lock:
        proc = run_subprocess_commit(tmp_path / "ws", "scratch")
        time.sleep(1.5)  # the other process is now blocked on the lock
        assert proc.poll() is None
        v = tax.commit("mine", author="me")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert (v.version, int(out)) == (1, 2)
    h = tax.history()
    assert h["author"].to_list() == ["me", "proc"]
    assert sorted(tax.classes()["name"].to_list()) == ["dent", "scratch"]


def test_conflicting_concurrent_commit_is_a_clear_error(tmp_path: Path) -> None:
    Store.create(tmp_path / "ws")
    a = Taxonomy(Store.open(tmp_path / "ws"))
    b = Taxonomy(Store.open(tmp_path / "ws"))
    committed(a, "stain")
    a.rename("stain", "smear")
    b.rename("stain", "contamination")
    a.commit("smear", author="ana")
    with pytest.raises(TaxonomyConflict, match=r"committed by ana \('smear'\).*no longer applies"):
        b.commit("contamination")
    assert len(b.staged) == 1  # kept for inspection
    assert b.version == 2 and b.name_of("c0001") == "smear"
    b.discard()
    b.rename("smear", "contamination")
    assert b.commit("again").version == 3


# -- property: random valid sequences ------------------------------------------------------

NAMES = list("abcdefghijkl")
KINDS = ["add", "add", "rename", "redefine", "merge", "split", "deprecate", "set_parent", "set_color", "commit"]


def draw_call(data: st.DataObject, active: list[str]) -> tuple[str, dict]:
    """An operation on mostly existing classes (so most calls are valid) with new names from a
    small pool (so collisions, reuse of retired names and invalid calls happen too)."""
    kind = data.draw(st.sampled_from(KINDS if active else ["add"]))
    some = st.sampled_from(active) if active else st.sampled_from(NAMES)
    existing = st.one_of(*[some] * 6, st.sampled_from(NAMES))  # mostly valid, sometimes unknown
    fresh = st.sampled_from(NAMES)
    if kind == "add":
        return kind, {"name": data.draw(fresh), "parent": data.draw(st.none() | some)}
    if kind == "rename":
        return kind, {"name": data.draw(existing), "new_name": data.draw(fresh)}
    if kind == "redefine":
        return kind, {"name": data.draw(existing), "definition": data.draw(st.text(max_size=5))}
    if kind == "merge":
        return kind, {"names": data.draw(st.lists(existing, min_size=1, max_size=3, unique=True)),
                      "into": data.draw(st.one_of(existing, fresh))}
    if kind == "split":
        return kind, {"name": data.draw(existing), "into": data.draw(st.lists(fresh, min_size=2, max_size=3))}
    if kind == "deprecate":
        return kind, {"name": data.draw(existing)}
    if kind == "set_parent":
        return kind, {"name": data.draw(existing), "parent": data.draw(st.none() | some)}
    if kind == "set_color":
        return kind, {"name": data.draw(existing), "color": data.draw(st.sampled_from(["#000000", "#abc"]))}
    return kind, {}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.integers(min_value=1, max_value=30))
def test_random_op_sequences_keep_invariants(data: st.DataObject, n_calls: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        tax = Taxonomy(Store.create(d))
        for _ in range(n_calls):
            kind, args = draw_call(data, tax.preview(include_retired=False)["name"].to_list())
            if kind == "commit":
                if tax.staged:
                    tax.commit("step")
                continue
            before = (len(tax.staged), tax.preview())
            try:
                getattr(tax, kind)(**args)
            except TaxonomyError:
                assert len(tax.staged) == before[0]
                assert tax.preview().equals(before[1])
            active = tax.preview(include_retired=False)
            assert active["name"].n_unique() == active.height
        if tax.staged:
            tax.commit("last")
        latest = tax.version
        final = tax.classes()
        status = dict(zip(final["id"], final["status"]))
        ids, versions = [], []
        for v in range(1, latest + 1):
            cls = tax.classes(v)
            active = cls.filter(pl.col("status") == "active")
            assert active["name"].n_unique() == active.height
            assert set(active["parent"].drop_nulls()) <= set(active["id"])  # active classes have active parents
            assert set(cls["id"]) <= set(status)  # no class ever disappears
            ids += cls["id"].to_list()
            versions += [v] * cls.height
        if not ids:
            return
        for to in range(1, latest + 1):
            out = tax.resolve(ids, versions, to_version=to)
            at = dict(zip(tax.classes(to)["id"], tax.classes(to)["status"]))
            for r in out.iter_rows(named=True):
                if r["from_version"] > to:
                    continue
                assert r["status"] != "unknown"
                if r["status"] in ("ok", "renamed", "merged"):
                    assert at[r["class_id"]] == "active"
                elif r["status"] == "deprecated":
                    assert at[r["class_id"]] == "deprecated"
                else:
                    assert r["status"] == "needs_review" and r["class_id"] is None
                    assert all(isinstance(n, str) for n in r["candidates"])


def test_commit_at_backfills_time_in_order(tmp_path) -> None:  # noqa: ANN001
    from datetime import datetime, timezone

    from jupyter_cvops._store import Store
    from jupyter_cvops.taxonomy.facade import Taxonomy, TaxonomyError

    tax = Taxonomy(Store.create(tmp_path / "ws"))
    tax.add("dent")
    t1 = datetime(2026, 1, 5, tzinfo=timezone.utc)
    tax.commit("init", author="qa", at=t1)
    assert tax.history()["created_at"][0] == t1
    tax.redefine("dent", "deeper")
    import pytest

    with pytest.raises(TaxonomyError, match="earlier than version 1"):
        tax.commit("too early", at=datetime(2025, 12, 1))
    tax.commit("later", at=datetime(2026, 2, 2))  # naive times are taken as UTC
    assert tax.history()["created_at"][1] == datetime(2026, 2, 2, tzinfo=timezone.utc)
