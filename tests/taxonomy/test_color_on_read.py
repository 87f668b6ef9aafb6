"""Class colors are checked when read, not only when written: a color edited straight into the
stored taxonomy table (bypassing the API) never reaches CSS in the taxonomy's HTML or in the
review widget; anything but ``#rrggbb`` shows as neutral grey."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from jupyter_cvops import Workspace
from jupyter_cvops.taxonomy._ops import ClassRec
from jupyter_cvops.widgets import review

HOSTILE = "red;background:url(https://evil.example/x)"
HEX = re.compile(r"^#[0-9a-f]{6}$")


def tampered(tmp_path: Path) -> Path:
    """A workspace whose committed taxonomy had its colors rewritten in the table itself."""
    path = tmp_path / "ws"
    ws = Workspace.create(path)
    ws.taxonomy.add("dent", color="#112233")
    ws.taxonomy.add("scratch")
    ws.taxonomy.add("stain", color="#ABC")
    ws.taxonomy.commit("init")
    tbl = ws.store.table("taxonomy_versions")
    (classes,) = tbl.search().where("version = 1").select(["classes"]).to_arrow()["classes"].to_pylist()
    recs = json.loads(classes)
    recs[0]["color"] = HOSTILE
    recs[1]["color"] = '#fff" onmouseover="alert(1)'
    recs[2]["color"] = "#ABC"  # short form is valid input, normalised on read
    tbl.update(where="version = 1", values={"classes": json.dumps(recs)})
    return path


def test_hostile_colors_in_the_table_never_reach_html(tmp_path: Path) -> None:
    ws = Workspace.open(tampered(tmp_path))
    colors = ws.taxonomy.classes()["color"].to_list()
    assert colors == ["#888888", "#888888", "#aabbcc"]
    page = ws.taxonomy._repr_html_()
    assert "url(" not in page and "evil.example" not in page and "onmouseover" not in page
    css = re.findall(r"background:([^\"]*)\"", page)
    assert css and all(HEX.match(c) for c in css), css
    assert "url(" not in repr(ws.taxonomy)
    payload = review(ws).widget.classes
    assert [c["color"] for c in payload] == ["#888888", "#888888", "#aabbcc"]
    assert all(HEX.match(c["color"]) and "url(" not in c["color"] and ";" not in c["color"] for c in payload)


@pytest.mark.parametrize("value, expected", [
    ("#1F77B4", "#1f77b4"), ("#abc", "#aabbcc"), (HOSTILE, "#888888"), ("", "#888888"), (None, "#888888"),
    (12, "#888888"), ("#12345g", "#888888"), ("#1234567", "#888888"), ("#123456\n", "#888888"),
])
def test_safe_color(value: object, expected: str) -> None:
    from jupyter_cvops.taxonomy._ops import safe_color

    assert safe_color(value) == expected
    assert ClassRec.from_json({"id": "c0001", "name": "a", "color": value}).color == (
        expected if value not in (None, "") else ClassRec("c0001", "a").color)
