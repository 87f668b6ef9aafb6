"""Matching the images an export names to images the workspace has already registered.

Pure: names and a frame of registered ``(image_id, path)`` in, matches out.  No file is
opened or stat-ed here, so a name in an export can never make the workspace read a file
(the readers alone look for files, confined to their data root).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Literal
from urllib.parse import parse_qs, unquote, urlparse

import polars as pl

#: Registered paths listed in a problem about an ambiguous name.
SHOWN_CANDIDATES = 3

How = Literal["path", "name", "ambiguous"]


@dataclass(frozen=True)
class Match:
    """How one image of an export was matched to the registered images.

    ``how`` is ``"path"`` (the resolved path, or two or more trailing path components,
    name a single registered image), ``"name"`` (only the file name does, and only one
    registered image has it) or ``"ambiguous"`` (several registered images fit equally
    well; ``image_id`` is None).  ``paths`` holds the registered path of the match, or
    the paths of all candidates when ambiguous.
    """

    how: How
    image_id: str | None
    paths: tuple[str, ...] = field(default=())


def name_parts(name: str) -> tuple[str, ...]:
    """The path components of an image name from an export, after its last ``..``.

    Backslashes count as separators; ``.`` and empty components are dropped.

    Examples
    --------
    >>> name_parts("../../data/imgs/a.jpg"), name_parts(r"C:\\x\\.\\b.png"), name_parts("..")
    (('data', 'imgs', 'a.jpg'), ('C:', 'x', 'b.png'), ())
    """
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        parts = parts[len(parts) - parts[::-1].index(".."):]
    return tuple(parts)


def export_names(file_name: str) -> list[str]:
    """The relative names an export's ``file_name`` stands for.

    A Label Studio local-files URL names the file in ``?d=``; another URL by its path
    (also without Label Studio's ``/data/`` prefix); anything else is the name itself.

    Examples
    --------
    >>> export_names("/data/local-files/?d=imgs/a.jpg"), export_names("http://h/x/b%20c.png")
    (['imgs/a.jpg'], ['x/b c.png'])
    >>> export_names("train/c.jpg"), export_names("http://[::1")
    (['train/c.jpg'], ['http://[::1'])
    """
    try:
        url = urlparse(file_name)
    except ValueError:  # "http://[::1": no URL
        return [file_name]
    if url.path.startswith("/data/local-files"):
        return parse_qs(url.query).get("d", [])
    if url.scheme or url.path.startswith("/data/"):
        rel = unquote(url.path).removeprefix("/data/").lstrip("/")
        return [rel] if rel else []
    return [file_name]


def _tail(a: Sequence[str], b: Sequence[str], stem: bool) -> int:
    """How many trailing components ``a`` and ``b`` share (the last compared by stem when ``stem``)."""
    if not a or not b:
        return 0
    last = os.path.splitext(b[-1])[0] if stem else b[-1]
    if a[-1] != last:
        return 0
    n = 1
    while n < len(a) and n < len(b) and a[-1 - n] == b[-1 - n]:
        n += 1
    return n


def match_registered(
    wanted: Mapping[str, Sequence[str]],
    registered: pl.DataFrame,
    exact: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Match]:
    """Match images an export names to registered images, by path, then by file name.

    For each key of ``wanted`` (an export image and the relative names it goes by): a
    path in ``exact[key]`` equal to a registered path wins; else the registered paths
    sharing the longest tail of path components with one of the names (at least the
    file name; a name without a suffix may match a file's stem).  One image there is a
    match (``"path"`` when two or more components agree, else ``"name"``); several are
    ``"ambiguous"``.  Keys nothing fits are left out.

    Parameters
    ----------
    wanted : export image key -> relative names (``name_parts`` splits them).
    registered : the ``images`` table's ``image_id`` and ``path`` (absolute, resolved).
    exact : export image key -> absolute paths the names stand for, compared as they are.

    Examples
    --------
    >>> reg = pl.DataFrame({"image_id": ["i1", "i2", "i3"],
    ...                     "path": ["/d/a/x.jpg", "/d/b/x.jpg", "/d/b/y.jpg"]})
    >>> m = match_registered({"1": ["a/x.jpg"], "2": ["x.jpg"], "3": ["y"], "4": ["z.jpg"]}, reg)
    >>> m["1"].how, m["1"].image_id, m["2"].how, m["2"].paths, m["3"].how, "4" in m
    ('path', 'i1', 'ambiguous', ('/d/a/x.jpg', '/d/b/x.jpg'), 'name', False)
    """
    out: dict[str, Match] = {}
    if registered.is_empty():
        return out
    if exact:
        wanted_paths = {p for ps in exact.values() for p in ps}
        hits = registered.filter(pl.col("path").is_in(list(wanted_paths)))
        by_path = dict(zip(hits["path"].to_list(), hits["image_id"].to_list()))
        for key, paths in exact.items():
            iid = next((by_path[p] for p in paths if p in by_path), None)
            if iid is not None:
                out[key] = Match("path", iid, (next(p for p in paths if p in by_path),))
    parts = {key: [p for n in names if (p := name_parts(n))] for key, names in wanted.items() if key not in out}
    lasts = {ps[-1] for pss in parts.values() for ps in pss}
    stems = {s for s in lasts if not os.path.splitext(s)[1]}
    if not lasts:
        return out
    base = pl.col("path").str.extract(r"([^/]+)$")
    cands = registered.select("image_id", "path").with_columns(
        base.alias("_base"), base.str.replace(r"\.[^.]*$", "").alias("_stem")
    ).filter(pl.col("_base").is_in(list(lasts)) | pl.col("_stem").is_in(list(stems)))
    by_base: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {}
    by_stem: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {}
    for iid, path, b, s in cands.iter_rows():
        row = (iid, path, PurePath(path).parts)
        by_base.setdefault(b, []).append(row)
        if s != b and s in stems:
            by_stem.setdefault(s, []).append(row)
    for key, pss in parts.items():
        best, found = 0, {}
        for ps in pss:
            rows = [(r, False) for r in by_base.get(ps[-1], [])] + [(r, True) for r in by_stem.get(ps[-1], [])]
            for (iid, path, rparts), stem in rows:
                n = _tail(ps, rparts, stem)
                if n > best:
                    best, found = n, {iid: path}
                elif n == best and n:
                    found.setdefault(iid, path)
        if len(found) == 1:
            (iid, path), = found.items()
            out[key] = Match("path" if best >= 2 else "name", iid, (path,))
        elif found:
            out[key] = Match("ambiguous", None, tuple(sorted(found.values())))
    return out
