"""Simulated annotators for the demo scenario: habits, a planted label drift, jittered boxes.

Each annotator sees an image's ground truth (class, visibility, box) and answers
with an image-level class and, for a defect class, a box. Habits are stationary
except for the one planted drift: from ``drift.at`` on, one annotator calls
faint examples of one class by another class's name.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from ._render import CLASSES


#: Taxonomy v1: name -> (guideline definition, display color).
TAXONOMY_V1: dict[str, tuple[str, str]] = {
    "ok": ("No visible defect anywhere on the part surface.", "#2e7d32"),
    "scratch": ("A thin linear mark cut into the surface (bright line, sometimes with a dark edge); "
                "much longer than it is wide.", "#1565c0"),
    "dent": ("Any local deformation of the surface, seen as shading: a depression or a bulge, "
             "shallow or deep.", "#ef6c00"),
    "stain": ("A soft-edged discoloured patch (oil, coolant, rust) with no change of surface shape.",
              "#6a1b9a"),
}
#: Taxonomy v2 rewords "dent" (same class, clearer guideline), committed at the start of week 5.
DENT_DEFINITION_V2 = (
    "A local depression or bulge of the surface, seen as a paired dark/bright shading (light comes "
    "from the upper left); shallow dents whose shading is faint are still dents. Linear marks are "
    "scratches, not dents."
)
# Fixed PNG parameters (byte-identical output): Huffman-only zlib with the Up filter is about
# twice as fast as the defaults at the same size on these noisy frames.


@dataclass(frozen=True)
class Habit:
    """How one annotator labels.

    Parameters
    ----------
    name
        Annotator id.
    style
        One word for reports: ``"lenient"``, ``"strict"``, ``"accurate"``.
    p_ok_faint, p_ok_clear
        Probability of calling a faint / clear defect ``"ok"`` (missing it).
    p_false_stain
        Probability of calling a clean part ``"stain"``.
    p_slip
        Probability of any other slip: a uniformly random wrong class.
    box_pad, box_sd
        Boxes are the true box grown by ``box_pad`` pixels a side (negative:
        tighter) plus Gaussian noise of ``box_sd`` pixels per coordinate, at 160 px
        (scaled with the image size).

    Examples
    --------
    >>> Habit("ana", "lenient", p_ok_faint=0.5).p_ok_faint
    0.5
    """

    name: str
    style: str
    p_ok_faint: float = 0.05
    p_ok_clear: float = 0.0
    p_false_stain: float = 0.0
    p_slip: float = 0.015
    box_pad: float = 0.0
    box_sd: float = 1.0


@dataclass(frozen=True)
class LabelDrift:
    """The planted drift: from ``at`` on, ``annotator`` calls faint ``cls`` ``confused_with``.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> LabelDrift("chloe", "dent", "scratch", 0.8, datetime(2026, 2, 2, tzinfo=timezone.utc)).p
    0.8
    """

    annotator: str
    cls: str
    confused_with: str
    p: float
    at: datetime
    visibility: str = "faint"


#: The three demo annotators.
DEFAULT_HABITS: tuple[Habit, ...] = (
    Habit("ana", "lenient", p_ok_faint=0.55, p_ok_clear=0.04, box_pad=2.5, box_sd=1.5),
    Habit("ben", "strict", p_ok_faint=0.04, p_false_stain=0.18, box_pad=-0.5, box_sd=1.0),
    Habit("chloe", "accurate", p_ok_faint=0.06, box_pad=0.5, box_sd=0.8),
)


@dataclass
class LabelingPlan:
    """Who labels, how, and when: the inputs of :func:`simulate_labels`.

    Examples
    --------
    >>> LabelingPlan().p_three
    0.35
    """

    habits: tuple[Habit, ...] = DEFAULT_HABITS
    drift: LabelDrift | None = None
    p_three: float = 0.35
    delay_hours: tuple[float, float] = (2.0, 52.0)


def _choose(rng: np.random.Generator, habit: Habit, drift: LabelDrift | None, true_cls: str,
            vis: str | None, when: datetime) -> str:
    if drift is not None and habit.name == drift.annotator and when >= drift.at \
            and true_cls == drift.cls and vis == drift.visibility and rng.random() < drift.p:
        return drift.confused_with
    u = rng.random()
    if true_cls == "ok":
        if u < habit.p_false_stain:
            return "stain"
    else:
        if u < (habit.p_ok_faint if vis == "faint" else habit.p_ok_clear):
            return "ok"
    if rng.random() < habit.p_slip:
        others = [c for c in CLASSES if c != true_cls]
        return others[int(rng.integers(len(others)))]
    return true_cls


def _box(rng: np.random.Generator, habit: Habit, true_box: tuple[float, float, float, float] | None,
         part_box: tuple[float, float, float, float], size: int) -> tuple[float, float, float, float]:
    s = size / 160.0
    if true_box is None:
        # A defect the annotator believes to see on a clean part: a region on the part.
        px0, py0, px1, py1 = part_box
        w = rng.uniform(0.12, 0.22) * size
        h = w * rng.uniform(0.7, 1.3)
        cx = rng.uniform(px0 + w / 2, max(px0 + w / 2 + 1, px1 - w / 2))
        cy = rng.uniform(py0 + h / 2, max(py0 + h / 2 + 1, py1 - h / 2))
        base = np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
    else:
        base = np.asarray(true_box, dtype=np.float64)
    pad = habit.box_pad * s
    b = base + np.array([-pad, -pad, pad, pad]) + rng.normal(0.0, habit.box_sd * s, 4)
    b = np.clip(b, 0.0, float(size))
    x0, y0, x1, y1 = (float(v) for v in b)
    if x1 - x0 < 2.0:
        x0, x1 = max(0.0, min(x0, size - 2.0)), min(float(size), max(x0, 0.0) + 2.0)
    if y1 - y0 < 2.0:
        y0, y1 = max(0.0, min(y0, size - 2.0)), min(float(size), max(y0, 0.0) + 2.0)
    return round(x0, 1), round(y0, 1), round(x1, 1), round(y1, 1)


LABEL_SCHEMA: dict[str, Any] = {
    "name": pl.String, "path": pl.String, "annotator": pl.String,
    "created_at": pl.Datetime("us", "UTC"), "class_name": pl.String, "kind": pl.String,
    "x0": pl.Float64, "y0": pl.Float64, "x1": pl.Float64, "y1": pl.Float64,
    "taxonomy_version": pl.Int64,
}


def simulate_labels(
    images: pl.DataFrame,
    *,
    seed: int,
    image_size: int,
    plan: LabelingPlan,
    redefined_at: datetime | None = None,
) -> pl.DataFrame:
    """Labels of the training images by 2 or 3 simulated annotators each.

    Every (image, annotator) pair gives one image-level label (``kind="image"``)
    and, when the class is a defect, one box (``kind="box"``) with the annotator's
    jitter. ``taxonomy_version`` is 1 before ``redefined_at`` and 2 from then on.

    Parameters
    ----------
    images
        The training images with ``name, path, captured_at, true_class, visibility,
        true_x0..true_y1, part_x0..part_y1``.
    seed
        Seed of the annotators' generator (independent of the rendering).
    image_size
        Pixel size of the images (boxes are clipped to it).
    plan
        Habits, the planted drift, overlap and labeling delays.
    redefined_at
        When the taxonomy was redefined (version 2 starts).

    Returns
    -------
    polars.DataFrame
        Columns of :data:`LABEL_SCHEMA`, sorted by ``created_at``.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> t = datetime(2026, 1, 5, tzinfo=timezone.utc)
    >>> img = pl.DataFrame({"name": ["a.png"], "path": ["/x/a.png"], "captured_at": [t],
    ...     "true_class": ["ok"], "visibility": [None], "true_x0": [None], "true_y0": [None],
    ...     "true_x1": [None], "true_y1": [None], "part_x0": [40.0], "part_y0": [40.0],
    ...     "part_x1": [120.0], "part_y1": [120.0]})
    >>> simulate_labels(img, seed=0, image_size=160, plan=LabelingPlan()).height >= 2
    True
    """
    rng = np.random.default_rng([seed, 2])
    habits = plan.habits
    rows: list[dict[str, Any]] = []
    lo, hi = plan.delay_hours
    for r in images.iter_rows(named=True):
        k = 3 if (len(habits) >= 3 and rng.random() < plan.p_three) else min(2, len(habits))
        chosen = sorted(rng.choice(len(habits), size=k, replace=False).tolist())
        true_box = None if r["true_x0"] is None else (
            r["true_x0"], r["true_y0"], r["true_x1"], r["true_y1"])
        part_box = (r["part_x0"], r["part_y0"], r["part_x1"], r["part_y1"])
        for j in chosen:
            h = habits[j]
            when = r["captured_at"] + timedelta(seconds=int(rng.uniform(lo, hi) * 3600))
            cls = _choose(rng, h, plan.drift, r["true_class"], r["visibility"], when)
            tv = 1 if redefined_at is None or when < redefined_at else 2
            base = {"name": r["name"], "path": r["path"], "annotator": h.name, "created_at": when,
                    "class_name": cls, "taxonomy_version": tv}
            rows.append(base | {"kind": "image", "x0": None, "y0": None, "x1": None, "y1": None})
            if cls != "ok":
                x0, y0, x1, y1 = _box(rng, h, true_box, part_box, image_size)
                rows.append(base | {"kind": "box", "x0": x0, "y0": y0, "x1": x1, "y1": y1})
    df = pl.DataFrame(rows, schema=LABEL_SCHEMA)
    return df.sort("created_at", "name", "annotator", "kind", maintain_order=True)


def habits_summary(plan: LabelingPlan) -> dict[str, dict[str, Any]]:
    """The planted habits as plain data (for the scenario's ground truth).

    Examples
    --------
    >>> habits_summary(LabelingPlan())["ben"]["style"]
    'strict'
    """
    out: dict[str, dict[str, Any]] = {}
    for h in plan.habits:
        d = asdict(h)
        d.pop("name")
        out[h.name] = d
    return out


def week_of(t: datetime, start: datetime) -> int:
    """1-based week number of ``t`` counted from ``start``.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> s = datetime(2026, 1, 5, tzinfo=timezone.utc)
    >>> week_of(s, s), week_of(datetime(2026, 2, 2, tzinfo=timezone.utc), s)
    (1, 5)
    """
    return (t - start).days // 7 + 1
