"""The monitoring commands a scheduler runs: ``cvops embed``, and the checks ``cvops agreement``, ``drift``,
``shadow`` and ``audit`` (each recorded in the workspace's ``checks`` table, exit 4 on an alert, ``--notify``)."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

import polars as pl

from ._common import EXIT_ALERT, EXIT_OK, CliError, _frame_json, _line, _out, _ws, local_weights, time_arg
from ._notify import CheckOutcome, finish


def _recorded(ws: Any, kind: str, since: datetime) -> str | None:
    """The id of the newest ``kind`` check recorded from ``since`` on (the one the verb just wrote)."""
    rows = ws.checks(kind=kind, since=since)
    return str(rows["check_id"][-1]) if rows.height else None


def _selection(ws: Any, args: argparse.Namespace, *, frame_ok: bool) -> Any:
    """The images ``--dataset``, ``--predictions``, ``--source``, ``--since``/``--until`` select (None: all).

    With ``--predictions`` the times bound the prediction time and the result is the prediction frame
    (its ``image_id`` column); otherwise they bound the images' capture time (a polars expression)."""
    from ..checks.results import time_bound

    if args.dataset and args.predictions:
        raise CliError("give --dataset or --predictions, not both")
    if args.dataset:
        if args.source or args.since or args.until:
            raise CliError("--dataset selects its own images: drop --source/--since/--until")
        return ws.version(args.dataset).items()["image_id"].unique(maintain_order=True).to_list()
    if args.predictions:
        served = ws.predictions(args.predictions, since=args.since, until=args.until, source=args.source)
        served = served.filter(pl.col("image_id").is_not_null())
        if served.is_empty():
            raise CliError(f"no prediction of {args.predictions} with an image in the selection")
        ids = served["image_id"].unique(maintain_order=True)
        return served.select("image_id").unique(maintain_order=True) if frame_ok else ids.to_list()
    expr: pl.Expr | None = None

    def both(e: pl.Expr) -> None:
        nonlocal expr
        expr = e if expr is None else expr & e

    if args.source:
        both(pl.col("source").is_in(args.source) if len(args.source) > 1 else pl.col("source") == args.source[0])
    if args.since:
        both(pl.col("captured_at") >= time_bound(args.since, "since"))
    if args.until:
        both(pl.col("captured_at") < time_bound(args.until, "until"))
    return expr


def cmd_embed(args: argparse.Namespace) -> int:
    """``cvops embed``: embed images not embedded yet (local weights only); exit 1 when every one failed.

    Examples
    --------
    $ cvops -w ws embed --predictions defect-clf@production --since 2026-11-30
    """
    from ..embeddings.tables import embed

    ws = _ws(args)
    model, weights = local_weights(args.model, args.weights)
    images = _selection(ws, args, frame_ok=False)
    rep = embed(ws, model=model, images=images, pretrained=weights, batch_size=args.batch_size, device=args.device,
                num_workers=args.num_workers, progress=not args.json, precision=args.precision)
    text = (f"embedded {rep.n_computed} images with {rep.model} into {rep.table} ({rep.n_skipped} already there, "
            f"{len(rep.failures)} failed)")
    text += "".join(f"\n  {_line(p or i)}: {_line(r)}" for i, p, r in rep.failures[:10])
    _out(args, rep.to_dict(), text)
    if rep.failures and rep.n_computed == 0 and rep.n_skipped == 0:
        raise CliError(f"no image embedded: all {len(rep.failures)} failed (first: "
                       f"{_line(rep.failures[0][1] or rep.failures[0][0])}: {_line(rep.failures[0][2])})")
    return EXIT_OK


def cmd_agreement(args: argparse.Namespace) -> int:
    """``cvops agreement``: annotator agreement and label drift, recorded as a check; exit 4 on an alert.

    Examples
    --------
    $ cvops -w ws agreement --every 1w --notify https://hooks.example/x
    """
    from ..checks.summaries import agreement_summary, describe_selection

    ws = _ws(args)
    images = _selection(ws, args, frame_ok=False)
    from .._store import now_utc

    t0 = now_utc()
    rep = ws.agreement(kind=args.kind, images=images, consensus=args.consensus, bootstrap=args.bootstrap,
                       every=args.every, seed=args.seed)
    found = agreement_summary(rep)
    target = "annotations" if images is None else f"annotations of {describe_selection(images)}"
    outcome = CheckOutcome("agreement", target, found.alert, found.summary, found.result,
                           check_id=_recorded(ws, "agreement", t0))
    report = {"overall": _frame_json(rep.overall), "alerts": _frame_json(rep.alerts)}
    return finish(args, outcome, ws.uri, report)


def cmd_drift(args: argparse.Namespace) -> int:
    """``cvops drift REFERENCE``: input drift per window, recorded as a check; exit 4 when a window drifted.

    Examples
    --------
    $ cvops -w ws drift baseline --source line-1 --since 2026-11-01 --by 1d
    """
    from ..checks.summaries import describe_selection, drift_summary

    ws = _ws(args)
    model, weights = local_weights(args.model, args.weights)
    current = _selection(ws, args, frame_ok=True)
    options: dict[str, Any] = {"model": model, "alpha": args.alpha, "seed": args.seed, "progress": not args.json}
    if weights:
        options["pretrained"] = weights
    if args.permutations:
        options["n_permutations"] = args.permutations
    from .._store import now_utc

    t0 = now_utc()
    frame = ws.drift(args.reference, current, by=args.by, **options)
    target = describe_selection(args.reference)
    found = drift_summary(frame, reference=target, current=describe_selection(current))
    outcome = CheckOutcome("drift", target, found.alert, found.summary, found.result,
                           check_id=_recorded(ws, "input_drift", t0))
    if args.json:
        return finish(args, outcome, ws.uri, _frame_json(frame))
    flags = " ".join(f"{str(w)[:16]}:{'DRIFT' if d else 'ok'}" for w, d in frame.select("window", "drifted").rows())
    return finish(args, outcome, ws.uri, text=f"{found.summary}\n  {flags}" if flags else found.summary)


def cmd_shadow(args: argparse.Namespace) -> int:
    """``cvops shadow NAME``: a candidate against production on served images (``ws.shadow``); exit 4 on an alert.

    Examples
    --------
    $ cvops -w ws shadow defect-clf --candidate @candidate --since 2026-11-01
    """
    ws = _ws(args)
    rep = ws.shadow(args.name, candidate=args.candidate, production=args.production, since=args.since,
                    until=args.until, source=args.source, sample=args.sample, seed=args.seed,
                    bootstrap=args.bootstrap, min_agreement=args.min_agreement, logged=args.logged,
                    batch_size=args.batch_size, device=args.device, progress=not args.json)
    outcome = CheckOutcome("shadow", args.name, bool(rep.alert), rep.summary, rep.result(), check_id=rep.check_id)
    return finish(args, outcome, ws.uri, rep.to_dict(limit=args.disagreements))


def cmd_audit(args: argparse.Namespace) -> int:
    """``cvops audit``: the ten questions, recorded as a check of kind ``audit``; exit 4 under ``--fail-under``.

    Examples
    --------
    $ cvops -w ws audit --fail-under 8 --json
    """
    from ..checks.results import record_check

    ws = _ws(args)
    rep = ws.audit(args.as_of, alias=args.alias, model=args.model, max_age_days=args.max_age_days,
                   verify=args.verify)
    alert = args.fail_under is not None and rep.score < args.fail_under
    summary = rep.summary() + (f"; under --fail-under {args.fail_under}" if alert else "")
    result = {"score": rep.score, "of": len(rep.answers), "partial": rep.n_partial, "as_of": rep.as_of.isoformat(),
              "fail_under": args.fail_under, "answers": {str(a.number): a.answer for a in rep.answers},
              "areas": rep.areas}
    target = args.model or f"@{args.alias}"
    check_id = None
    if not ws.store.readonly:
        check_id = record_check(ws.store, "audit", target, parameters={
            "as_of": args.as_of, "alias": args.alias, "model": args.model, "max_age_days": args.max_age_days,
            "verify": args.verify, "fail_under": args.fail_under}, result=result, alert=alert, summary=summary)
    outcome = CheckOutcome("audit", target, alert, summary, result, check_id=check_id,
                           code=EXIT_ALERT if alert else EXIT_OK)
    text = rep.text() + (f"\nscore {rep.score} is under --fail-under {args.fail_under}" if alert else "")
    return finish(args, outcome, ws.uri, rep.to_dict(), text if args.full else
                  "\n".join([summary] + [f"{a.number:>2}. {a.answer:<7} {a.question}" +
                                         (f"\n      next: {a.next_step}" if a.next_step else "")
                                         for a in rep.answers]))


def _selection_options(s: argparse.ArgumentParser, what: str) -> None:
    g = s.add_argument_group(f"which images ({what})")
    g.add_argument("--source", action="extend", nargs="+", help="images of these sources (camera, line)")
    g.add_argument("--since", type=time_arg, help="captured (with --predictions: predicted) from this time on "
                                                  "(ISO date or datetime; naive: UTC)")
    g.add_argument("--until", type=time_arg, help="captured (with --predictions: predicted) before this time")
    g.add_argument("--predictions", metavar="MODEL", help="the images NAME or NAME@ALIAS made predictions on")
    g.add_argument("--dataset", metavar="VERSION", help="the images of this dataset version")


def _embedding_options(s: argparse.ArgumentParser) -> None:
    s.add_argument("--model", help="imgstats (no weights) or open_clip:ARCH with --weights (default: "
                                   "open_clip when $CVOPS_CLIP_WEIGHTS names a local file, else imgstats)")
    s.add_argument("--weights", metavar="FILE", help="a local checkpoint file of the --model (never downloaded)")


def add_monitoring_parsers(command: Any, common: argparse.ArgumentParser, notify: argparse.ArgumentParser) -> None:
    """``cvops embed``, ``agreement``, ``drift``, ``shadow`` and ``audit``."""
    s = command("embed", "embed images into the workspace's embedding table (incremental: only new images)",
                cmd_embed, [common])
    _embedding_options(s)
    _selection_options(s, "default: every registered image")
    s.add_argument("--batch-size", type=int, default=64, help="images per forward pass (default: 64)")
    s.add_argument("--device", help="cpu, cuda, ... (default: CUDA when available)")
    s.add_argument("--num-workers", type=int,
                   help="loader threads (imgstats from 256 images: that many + 1 worker processes; "
                        "default: chosen for the device)")
    s.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"], default="auto",
                   help="GPU autocast (default: auto; the CPU computes in fp32)")

    s = command("agreement", "annotator agreement and label drift (exit 4 on a label-drift alert)", cmd_agreement,
                [common, notify])
    _selection_options(s, "default: every labelled image")
    s.add_argument("--kind", choices=["image", "box"], default="image", help="image labels or boxes (default: image)")
    s.add_argument("--consensus", choices=["dawid-skene", "majority"], default="dawid-skene",
                   help="how the consensus label is estimated (default: dawid-skene)")
    s.add_argument("--bootstrap", type=int, default=1000, help="bootstrap replicates of the CIs (default: 1000)")
    s.add_argument("--every", default="1w", help="label-drift window (polars duration; default: 1w)")
    s.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default: 0)")

    s = command("drift", "input drift of current images against a reference, per window (exit 4 when a window "
                         "drifted)", cmd_drift, [common, notify])
    s.add_argument("reference", help="the reference: a dataset version name or id (e.g. the training data)")
    _selection_options(s, "the current side; default: every image not in the reference")
    s.add_argument("--by", default="1d", help="window length (polars duration: 1d, 6h, 1w; default: 1d)")
    _embedding_options(s)
    s.add_argument("--alpha", type=float, default=0.05, help="family-wise error rate across windows (default: 0.05)")
    s.add_argument("--permutations", type=int, help="permutations of the MMD test (default: chosen by size)")
    s.add_argument("--seed", type=int, default=0, help="seed of the permutations (default: 0)")

    s = command("shadow", "a candidate model version against production on served images (exit 4 when they "
                          "agree less than --min-agreement or the candidate is worse on reviewed images)",
                cmd_shadow, [common, notify])
    s.add_argument("name", help="the model name")
    s.add_argument("--candidate", default="@candidate", metavar="REF",
                   help="NAME@ALIAS, @ALIAS or a version id (6+ characters; default: @candidate)")
    s.add_argument("--production", default="@production", metavar="REF",
                   help="the production version (default: @production)")
    s.add_argument("--since", type=time_arg, help="served from this time on (ISO date or datetime; naive: UTC)")
    s.add_argument("--until", type=time_arg, help="served before this time")
    s.add_argument("--source", help="only images served to this source")
    s.add_argument("--sample", type=int, help="at most this many images (a seeded sample)")
    s.add_argument("--seed", type=int, default=0, help="seed of the sample and the bootstrap (default: 0)")
    s.add_argument("--bootstrap", type=int, default=1000, help="bootstrap replicates (default: 1000; 0: no CIs)")
    s.add_argument("--min-agreement", type=float, default=0.9,
                   help="top-1 agreement under which the report alerts (default: 0.9)")
    s.add_argument("--logged", action="store_true",
                   help="pair the shadow rows cv.Predictor(..., shadow=) logged instead of re-running the candidate")
    s.add_argument("--batch-size", type=int, default=32, help="images per forward pass (default: 32)")
    s.add_argument("--device", help="cpu, cuda, ... (default: CUDA when available)")
    s.add_argument("--disagreements", type=int, default=100, metavar="N",
                   help="disagreements listed in --json, worst first (default: 100)")

    s = command("audit", "the ten operational questions answered from the workspace (exit 4 when the score is "
                         "under --fail-under)", cmd_audit, [common, notify])
    s.add_argument("--fail-under", type=int, metavar="N", help="alert (exit 4) when fewer than N answers are yes")
    s.add_argument("--as-of", type=time_arg, help="the time the audit speaks for (default: now)")
    s.add_argument("--alias", default="production", help="the alias that means in production (default: production)")
    s.add_argument("--model", help="audit only this model (default: every model the alias points at)")
    s.add_argument("--max-age-days", type=float, default=30.0,
                   help="a check older than this is stale: partial (default: 30)")
    s.add_argument("--verify", choices=["fast", "full"], default="fast",
                   help="how the recipe's data files are verified (default: fast)")
    s.add_argument("--full", action="store_true", help="print each answer's evidence too")
