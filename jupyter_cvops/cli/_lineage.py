"""The lineage commands: ``cvops lineage ID`` (a prediction back to its data, an image forward) and
``cvops impact`` (the blast radius of a set of labels)."""

from __future__ import annotations

import argparse
from typing import Any

import polars as pl

from ._common import CliError, _out, _ws, time_arg


def _table(title: str, frame: pl.DataFrame, columns: list[str]) -> None:
    if frame.height == 0:
        return
    shown = frame.select([c for c in columns if c in frame.columns])
    print(f"{title}:")
    with pl.Config(tbl_rows=50, tbl_cols=10, fmt_str_lengths=40, tbl_width_chars=160, tbl_hide_dataframe_shape=True):
        print(shown)


def cmd_lineage(args: argparse.Namespace) -> None:
    """``cvops lineage ID``: a prediction back to its data, or an image forward.

    Examples
    --------
    $ cvops -w ws lineage 2fd4beb3242c4b38a5d4000000000042
    """
    chain = _ws(args).lineage(args.id, k=args.k, embedding=args.embedding)
    if args.json:
        _out(args, chain.to_dict() | {"summary": chain.summary()})
        return
    print(chain.summary())
    _table("nearest training images", chain.neighbors,
           ["image_id", "distance", "class_name", "annotators", "decision", "path"])
    _table("dataset versions", chain.versions, ["version_id", "name", "created_at", "split"])
    _table("model versions", chain.models, ["model", "version_id", "aliases", "via"])
    _table("predictions", chain.predictions, ["prediction_id", "time", "model", "model_version", "predicted_class"])
    for note in chain.notes:
        print(f"note: {note}")


def cmd_impact(args: argparse.Namespace) -> None:
    """``cvops impact``: the dataset versions, model versions and predictions some labels touched.

    Examples
    --------
    $ cvops -w ws impact --annotator eve --since 2026-11-01
    """
    from ..checks.results import time_bound

    if not any(v is not None for v in (args.annotator, args.classes, args.since, args.until, args.images,
                                       args.taxonomy_version)):
        raise CliError("say which labels: --annotator, --classes, --since/--until, --images or --taxonomy-version")
    rep = _ws(args).impact(annotator=args.annotator, classes=args.classes, since=time_bound(args.since, "since"),
                           until=time_bound(args.until, "until"), images=args.images,
                           taxonomy_version=args.taxonomy_version)
    if args.json:
        _out(args, rep.to_dict() | {"summary": rep.summary()})
        return
    print(rep.summary())
    _table("dataset versions", rep.dataset_versions, ["version_id", "name", "n_labels_touched", "share"])
    _table("model versions", rep.model_versions, ["model", "version_id", "via", "aliases"])
    _table("predictions", rep.predictions, ["model", "model_version", "n_predictions", "first", "last"])
    for note in rep.notes:
        print(f"note: {note}")


def add_lineage_parsers(command: Any, common: argparse.ArgumentParser) -> None:
    """``cvops lineage`` and ``cvops impact``."""
    s = command("lineage", "a prediction back to its model, run, data, taxonomy and nearest training images; "
                           "an image forward to the versions, models and predictions that used it",
                cmd_lineage, [common])
    s.add_argument("id", help="a prediction id or an image id")
    s.add_argument("-k", type=int, default=5, help="nearest training images shown (default: 5)")
    s.add_argument("--embedding", help="embedding model searched (default: the most recent embeddings)")

    s = command("impact", "the blast radius of a set of labels: dataset versions, model versions and predictions "
                          "they touched", cmd_impact, [common])
    s.add_argument("--annotator", action="extend", nargs="+", help="labels made by these annotators")
    s.add_argument("--classes", action="extend", nargs="+", help="labels of these classes (current names)")
    s.add_argument("--since", type=time_arg, help="labels made from this time on (ISO date or datetime)")
    s.add_argument("--until", type=time_arg, help="labels made before this time (ISO date or datetime)")
    s.add_argument("--images", action="extend", nargs="+", help="labels of these image ids")
    s.add_argument("--taxonomy-version", type=int, help="labels made under this taxonomy version")
