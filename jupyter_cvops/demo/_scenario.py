"""Generating the demo scenario: plan the line, draw every frame, simulate the annotators.

See :mod:`jupyter_cvops.demo` for the story and the public entry points.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import polars as pl

from ._labels import (
    DEFAULT_HABITS,
    DENT_DEFINITION_V2,
    TAXONOMY_V1,
    Habit,
    LabelDrift,
    LabelingPlan,
    habits_summary,
    simulate_labels,
)
from ._render import CLASSES, Lighting, Tilt, make_assets, render

UTC = timezone.utc
#: Monday of the first training week.
DEFAULT_START = datetime(2026, 1, 5, tzinfo=UTC)
#: The new lamp from production day 7: brighter, a little flatter and warmer, stronger on the left.
DEFAULT_LIGHTING = Lighting(gain=0.85, offset=48.0, gradient=-0.35, tint=(0.95, 1.0, 1.05))
#: The camera knocked off axis from production day 11.
DEFAULT_TILT = Tilt(rotation_deg=7.0, keystone=0.08, jitter_deg=0.3)
_PNG = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY]
if hasattr(cv2, "IMWRITE_PNG_FILTER"):  # OpenCV >= 4.11
    _PNG += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP]
_SCHEMA_VERSION = 1
#: Source tag of the second line's images (``n_line2``).
LINE2 = "line-2"


@dataclass
class Scenario:
    """A generated inspection scenario: where its files are, what they show, and what was planted.

    Attributes
    ----------
    root
        The folder holding ``train/``, ``production/`` and ``scenario.json``.
    params
        Every parameter of :func:`generate_scenario` (JSON-able).
    images
        One row per image: ``name`` (path relative to ``root``), ``path`` (absolute),
        ``split_hint`` (train / production), ``captured_at``, ``source``, ``week``
        (train, 1-based), ``day`` (production, 1-based), ``shape``, ``true_class``,
        ``visibility`` (faint / clear, null for ok), ``strength``,
        ``true_x0..true_y1`` (defect box, pixel xyxy, null for ok),
        ``part_x0..part_y1``, ``lighting_shift``, ``tilt``.
    labels
        One row per label: ``name, path, annotator, created_at, class_name, kind``
        (``image``: the image-level verdict; ``box``: the defect box), ``x0..y1``,
        ``taxonomy_version`` (1 before the redefinition of "dent", 2 after).
    ground_truth
        Every planted effect: ``label_drift``, ``annotator_habits``,
        ``taxonomy_change``, ``production_drift``, ``clean_days``, timings.

    Examples
    --------
    >>> import tempfile
    >>> sc = generate_scenario(tempfile.mkdtemp(), n_train=16, n_production=14, image_size=64)
    >>> sc.ground_truth["label_drift"]["annotator"]
    'chloe'
    """

    root: Path
    params: dict[str, Any]
    images: pl.DataFrame
    labels: pl.DataFrame
    ground_truth: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def train(self) -> pl.DataFrame:
        """The training images."""
        return self.images.filter(pl.col("split_hint") == "train")

    @property
    def production(self) -> pl.DataFrame:
        """The production images."""
        return self.images.filter(pl.col("split_hint") == "production")

    def label_rates(self) -> pl.DataFrame:
        """Observed habit rates per annotator from the generated labels.

        Columns: ``annotator``, ``ok_rate_faint`` (faint defects called ok),
        ``ok_rate_clear``, ``stain_rate_clean`` (clean parts called stain),
        ``dent_as_scratch_before`` / ``dent_as_scratch_after`` (faint dents called
        scratch before / after the drift point), ``accuracy``.

        Examples
        --------
        >>> sc.label_rates().columns[0]    # doctest: +SKIP
        'annotator'
        """
        at = self.ground_truth["label_drift"]["at"]
        lab = self.labels.filter(pl.col("kind") == "image").join(
            self.images.select("name", "true_class", "visibility"), on="name")
        defect = pl.col("true_class") != "ok"
        faint_dent = (pl.col("true_class") == "dent") & (pl.col("visibility") == "faint")

        def rate(cond: pl.Expr, hit: pl.Expr) -> pl.Expr:
            return (hit & cond).sum() / cond.sum()

        return lab.group_by("annotator").agg(
            rate(defect & (pl.col("visibility") == "faint"), pl.col("class_name") == "ok").alias("ok_rate_faint"),
            rate(defect & (pl.col("visibility") == "clear"), pl.col("class_name") == "ok").alias("ok_rate_clear"),
            rate(~defect, pl.col("class_name") == "stain").alias("stain_rate_clean"),
            rate(faint_dent & (pl.col("created_at") < at), pl.col("class_name") == "scratch")
            .alias("dent_as_scratch_before"),
            rate(faint_dent & (pl.col("created_at") >= at), pl.col("class_name") == "scratch")
            .alias("dent_as_scratch_after"),
            (pl.col("class_name") == pl.col("true_class")).mean().alias("accuracy"),
            pl.len().alias("n_labels"),
        ).sort("annotator")

    @classmethod
    def load(cls, root: str | Path) -> Scenario:
        """Read a scenario written by :func:`generate_scenario` (no re-rendering).

        Examples
        --------
        >>> sc2 = Scenario.load(sc.root)      # doctest: +SKIP
        >>> sc2.images.equals(sc.images)      # doctest: +SKIP
        True
        """
        root = Path(root).resolve()
        meta = json.loads((root / "scenario.json").read_text())
        images = pl.read_parquet(root / "images.parquet").with_columns(
            pl.concat_str(pl.lit(str(root) + os.sep), pl.col("name")).alias("path"))
        labels = pl.read_parquet(root / "labels.parquet").with_columns(
            pl.concat_str(pl.lit(str(root) + os.sep), pl.col("name")).alias("path"))
        return cls(root, meta["params"], _order_images(images), _order_labels(labels),
                   _decode_times(meta["ground_truth"]))


def _order_images(df: pl.DataFrame) -> pl.DataFrame:
    cols = ["name", "path", "split_hint", "captured_at", "source", "week", "day", "shape", "true_class",
            "visibility", "strength", "true_x0", "true_y0", "true_x1", "true_y1",
            "part_x0", "part_y0", "part_x1", "part_y1", "lighting_shift", "tilt"]
    return df.select(cols)


def _order_labels(df: pl.DataFrame) -> pl.DataFrame:
    cols = ["name", "path", "annotator", "created_at", "class_name", "kind", "x0", "y0", "x1", "y1",
            "taxonomy_version"]
    return df.select(cols)


def _encode_times(obj: Any) -> Any:
    if isinstance(obj, datetime):
        return {"$datetime": obj.isoformat()}
    if isinstance(obj, dict):
        return {k: _encode_times(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_encode_times(v) for v in obj]
    return obj


def _decode_times(obj: Any) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {"$datetime"}:
            return datetime.fromisoformat(obj["$datetime"])
        return {k: _decode_times(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode_times(v) for v in obj]
    return obj


def _times_in_period(rng: np.random.Generator, n: int, first: datetime, days: int, *,
                     weekdays_only: bool) -> list[datetime]:
    """``n`` capture times spread evenly over ``days`` days, within shifts 06:00-22:00."""
    out = []
    for i in range(n):
        day = i * days // n
        if weekdays_only:  # 5 working days in each 7-day week
            week, _ = divmod(day, 7)
            day = week * 7 + int(rng.integers(5))
        sec = int(rng.uniform(6 * 3600, 22 * 3600))
        out.append(first + timedelta(days=day, seconds=sec))
    return sorted(out)


def _write_png(path: Path, data: bytes) -> None:
    """Write ``data`` unless the file already holds exactly it (keeps mtimes, so stat caches hit)."""
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _prepare_root(root: Path) -> set[Path]:
    """Check ``root`` is empty or a previous scenario; return that scenario's PNG files."""
    if not root.exists():
        root.mkdir(parents=True)
        return set()
    if not root.is_dir():
        raise NotADirectoryError(f"{root} exists and is not a folder")
    entries = [p for p in root.iterdir()]
    if entries and not (root / "scenario.json").is_file():
        raise FileExistsError(
            f"{root} is not empty and holds no earlier demo scenario (scenario.json); "
            "pick an empty or new folder")
    return {p for sub in ("train", "production", "line-2") for p in (root / sub).rglob("*.png")}


def generate_scenario(
    out_dir: str | Path,
    *,
    seed: int = 0,
    n_train: int = 1200,
    n_production: int = 700,
    image_size: int = 160,
    start: datetime = DEFAULT_START,
    train_weeks: int = 8,
    change_week: int = 5,
    production_gap_days: int = 7,
    production_days: int = 14,
    lighting_day: int = 7,
    tilt_day: int = 11,
    class_priors: dict[str, float] | None = None,
    faint_fraction: float = 0.45,
    lighting: Lighting = DEFAULT_LIGHTING,
    tilt: Tilt = DEFAULT_TILT,
    drift_rate: float = 0.8,
    habits: tuple[Habit, ...] = DEFAULT_HABITS,
    p_three_annotators: float = 0.35,
    camera: str = "line-1",
    n_line2: int = 0,
    workers: int | None = None,
) -> Scenario:
    """Draw the synthetic inspection line and simulate its annotators.

    Writes ``out_dir/train/week_WW/tNNNNN.png``, ``out_dir/production/day_DD/pNNNNN.png``
    (and ``out_dir/line-2/day_DD/qNNNNN.png``), ``images.parquet``, ``labels.parquet`` and
    ``scenario.json`` (parameters and ground truth; :meth:`Scenario.load` reads them back). The same parameters give
    byte-identical files and identical frames. ``out_dir`` must be new, empty, or
    hold an earlier scenario (whose stale images are then removed).

    Parameters
    ----------
    out_dir
        Folder to write into.
    seed
        Seeds the textures, every frame (each has its own generator, so frames
        can be drawn in parallel) and the annotators.
    n_train, n_production
        Number of training and production images.
    image_size
        Width and height in pixels (square, BGR, PNG).
    start
        Start of training week 1 (timezone-aware; naive times are taken as UTC).
    train_weeks, change_week
        Length of the labeling period, and the week (1-based) from whose start
        chloe's drift and the redefinition of "dent" apply.
    production_gap_days, production_days
        Days between the end of training and production day 1; production length.
    lighting_day, tilt_day
        First production day (1-based) with the new lamp / the tilted camera.
    class_priors
        Class frequencies, default ``{"ok": 0.4, "scratch": 0.2, "dent": 0.25, "stain": 0.15}``;
        the same in training and in production.
    faint_fraction
        Share of defects drawn faint (the rest clear).
    lighting, tilt
        The production changes (see :class:`Lighting`, :class:`Tilt`).
    drift_rate
        Probability that chloe calls a faint dent "scratch" after the change point.
    habits
        The annotators (default: ana, ben, chloe); the drift applies to "chloe"
        when she is among them, else to the last annotator.
    p_three_annotators
        Probability that an image gets three labelers instead of two.
    camera
        Source tag of every image of the line.
    n_line2
        Production images of a second line, ``"line-2"`` (``split_hint`` "production", ``source``
        "line-2"), over the same days: the same parts under its own, unchanged lamp and camera.
        Drawn after everything else, so they change no other frame.
    workers
        Drawing threads (default: the number of CPUs).

    Returns
    -------
    Scenario

    Examples
    --------
    >>> import tempfile
    >>> sc = generate_scenario(tempfile.mkdtemp(), seed=1, n_train=24, n_production=28, image_size=64)
    >>> sc.images.height, sorted(sc.labels["annotator"].unique())
    (52, ['ana', 'ben', 'chloe'])
    >>> [d["kind"] for d in sc.ground_truth["production_drift"]]
    ['lighting', 'tilt']
    """
    t0 = time.perf_counter()
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    priors = dict(class_priors or {"ok": 0.4, "scratch": 0.2, "dent": 0.25, "stain": 0.15})
    if set(priors) - set(CLASSES) or min(priors.values()) < 0 or sum(priors.values()) <= 0:
        raise ValueError(f"class_priors must map some of {CLASSES} to non-negative weights: {priors}")
    if not 1 <= change_week <= train_weeks:
        raise ValueError(f"change_week must lie in 1..{train_weeks}, got {change_week}")
    if not 1 <= lighting_day <= tilt_day <= production_days:
        raise ValueError("need 1 <= lighting_day <= tilt_day <= production_days")
    if min(n_train, n_production, n_line2) < 0 or image_size < 32:
        raise ValueError("n_train, n_production and n_line2 must be >= 0 and image_size >= 32")
    root = Path(out_dir).resolve()
    stale = _prepare_root(root)

    rng = np.random.default_rng([seed, 0])
    names = [c for c in CLASSES if c in priors]
    p = np.array([priors[c] for c in names], dtype=np.float64)
    p /= p.sum()
    change_at = start + timedelta(weeks=change_week - 1)
    prod_start = start + timedelta(weeks=train_weeks, days=production_gap_days)
    lighting_at = prod_start + timedelta(days=lighting_day - 1)
    tilt_at = prod_start + timedelta(days=tilt_day - 1)

    specs: list[dict[str, Any]] = []
    for split, n, first, days in (("train", n_train, start, 7 * train_weeks),
                                  ("production", n_production, prod_start, production_days)):
        times = _times_in_period(rng, n, first, days, weekdays_only=split == "train")
        classes = rng.choice(len(names), size=n, p=p)
        faint = rng.random(n) < faint_fraction
        for i, t in enumerate(times):
            cls = names[int(classes[i])]
            k = (t - first).days
            if split == "train":
                week, day = k // 7 + 1, None
                name = f"train/week_{week:02d}/t{i:05d}.png"
            else:
                week, day = None, k + 1
                name = f"production/day_{day:02d}/p{i:05d}.png"
            specs.append({
                "name": name, "split_hint": split, "captured_at": t, "source": camera, "week": week,
                "day": day, "true_class": cls,
                "visibility": None if cls == "ok" else ("faint" if faint[i] else "clear"),
                "lighting_shift": split == "production" and t >= lighting_at,
                "tilt": split == "production" and t >= tilt_at,
            })
    if n_line2:  # drawn last: the plan above and every frame index before are unchanged
        times = _times_in_period(rng, n_line2, prod_start, production_days, weekdays_only=False)
        classes = rng.choice(len(names), size=n_line2, p=p)
        faint = rng.random(n_line2) < faint_fraction
        for i, t in enumerate(times):
            cls = names[int(classes[i])]
            day = (t - prod_start).days + 1
            specs.append({
                "name": f"{LINE2}/day_{day:02d}/q{i:05d}.png", "split_hint": "production", "captured_at": t,
                "source": LINE2, "week": None, "day": day, "true_class": cls,
                "visibility": None if cls == "ok" else ("faint" if faint[i] else "clear"),
                "lighting_shift": False, "tilt": False,
            })
    assets = make_assets(np.random.default_rng([seed, 1]), image_size)

    def draw(j: int) -> dict[str, Any]:
        sp = specs[j]
        out = render(np.random.default_rng([seed, 3, j]), assets, sp["true_class"], sp["visibility"],
                     lighting=lighting if sp["lighting_shift"] else None,
                     tilt=tilt if sp["tilt"] else None)
        ok, buf = cv2.imencode(".png", out.image, _PNG)
        if not ok:  # pragma: no cover - OpenCV always encodes uint8 BGR
            raise RuntimeError(f"PNG encoding failed for {sp['name']}")
        _write_png(root / sp["name"], buf.tobytes())
        b = out.box or (None, None, None, None)
        return {"shape": out.shape, "strength": round(out.strength, 4),
                "true_x0": b[0], "true_y0": b[1], "true_x1": b[2], "true_y1": b[3],
                "part_x0": out.part_box[0], "part_y0": out.part_box[1],
                "part_x1": out.part_box[2], "part_y1": out.part_box[3]}

    t1 = time.perf_counter()
    n_workers = max(1, workers or os.cpu_count() or 1)
    if n_workers == 1:
        drawn = [draw(j) for j in range(len(specs))]
    else:
        with ThreadPoolExecutor(n_workers) as pool:
            drawn = list(pool.map(draw, range(len(specs)), chunksize=16))
    t2 = time.perf_counter()
    for sp, d in zip(specs, drawn):
        sp.update(d)
        sp["path"] = str(root / sp["name"])
    for old in stale - {root / sp["name"] for sp in specs}:
        old.unlink()
    img_schema: dict[str, pl.DataType | type[pl.DataType]] = {
        "name": pl.String, "path": pl.String, "split_hint": pl.String,
        "captured_at": pl.Datetime("us", "UTC"), "source": pl.String, "week": pl.Int32,
        "day": pl.Int32, "shape": pl.String, "true_class": pl.String, "visibility": pl.String,
        "strength": pl.Float64, **{f"{a}_{c}": pl.Float64 for a in ("true", "part")
                                   for c in ("x0", "y0", "x1", "y1")},
        "lighting_shift": pl.Boolean, "tilt": pl.Boolean,
    }
    images = _order_images(pl.DataFrame(specs, schema=img_schema))

    drifter = "chloe" if any(h.name == "chloe" for h in habits) else habits[-1].name
    drift = LabelDrift(drifter, "dent", "scratch", drift_rate, change_at)
    plan = LabelingPlan(habits=habits, drift=drift, p_three=p_three_annotators)
    labels = simulate_labels(images.filter(pl.col("split_hint") == "train"), seed=seed,
                             image_size=image_size, plan=plan, redefined_at=change_at)
    labels = _order_labels(labels)
    t3 = time.perf_counter()

    params = {
        "seed": seed, "n_train": n_train, "n_production": n_production, "image_size": image_size,
        "start": start, "train_weeks": train_weeks, "change_week": change_week,
        "production_gap_days": production_gap_days, "production_days": production_days,
        "lighting_day": lighting_day, "tilt_day": tilt_day, "class_priors": priors,
        "faint_fraction": faint_fraction, "lighting": _dc(lighting), "tilt": _dc(tilt),
        "drift_rate": drift_rate, "habits": habits_summary(plan),
        "p_three_annotators": p_three_annotators, "camera": camera, "n_line2": n_line2,
    }
    ground_truth = _ground_truth(params, drift, change_at, prod_start, lighting_at, tilt_at,
                                 lighting, tilt, plan)
    (root / "scenario.json").write_text(json.dumps(
        {"schema": _SCHEMA_VERSION, "params": _encode_times(params),
         "ground_truth": _encode_times(ground_truth)}, indent=1, sort_keys=True) + "\n")
    images.drop("path").write_parquet(root / "images.parquet")
    labels.drop("path").write_parquet(root / "labels.parquet")
    t4 = time.perf_counter()
    timings = {"plan_s": t1 - t0, "draw_s": t2 - t1, "labels_s": t3 - t2, "write_s": t4 - t3,
               "total_s": t4 - t0}
    return Scenario(root, params, images, labels, ground_truth, timings)


def _dc(obj: Lighting | Tilt) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(obj).items()}


def _ground_truth(params: dict[str, Any], drift: LabelDrift, change_at: datetime, prod_start: datetime,
                  lighting_at: datetime, tilt_at: datetime, lighting: Lighting, tilt: Tilt,
                  plan: LabelingPlan) -> dict[str, Any]:
    start = params["start"]
    return {
        "label_drift": {
            "annotator": drift.annotator, "class": drift.cls, "confused_with": drift.confused_with,
            "visibility": drift.visibility, "rate": drift.p, "at": change_at,
            "week_start": params["change_week"], "week_start_at": change_at,
            "affected_classes": [drift.cls, drift.confused_with],
            "note": "only this annotator changes; every other habit is stationary",
        },
        "annotator_habits": habits_summary(plan),
        "taxonomy_change": {
            "class": "dent", "at": change_at, "version_before": 1, "version_after": 2,
            "definition_before": TAXONOMY_V1["dent"][0], "definition_after": DENT_DEFINITION_V2,
            "changes_meaning": False,
            "note": "a rewording (faint dents stay dents); the label drift starts at the same time",
        },
        "production_drift": [
            {"kind": "lighting", "from_day": params["lighting_day"], "from": lighting_at,
             "camera": params["camera"], **_dc(lighting),
             "expected_features": ["brightness", "contrast", "colorfulness", "saturation", "hsv_histogram"]},
            {"kind": "tilt", "from_day": params["tilt_day"], "from": tilt_at, "camera": params["camera"],
             **_dc(tilt), "expected_features": ["edge_orientation"]},
        ],
        "clean_days": list(range(1, params["lighting_day"])),
        "training_period": {"start": start, "end": start + timedelta(weeks=params["train_weeks"]),
                            "weeks": params["train_weeks"]},
        "production_period": {"start": prod_start,
                              "end": prod_start + timedelta(days=params["production_days"]),
                              "days": params["production_days"]},
        "reference": "training images = production days before the lighting change (same conditions)",
    }
