"""The demo: a seeded synthetic inspection line, and a workspace built from it.

:func:`generate_scenario` draws the images (OpenCV, procedurally) and simulates
the annotators; it returns a :class:`Scenario` whose ``ground_truth`` names every
planted effect, so later analyses (agreement, label drift, production drift,
lineage) can be checked against it. :func:`build_demo` turns a scenario into a
workspace: taxonomy v1, images, labels, the redefinition of "dent", more labels,
and a dataset snapshot; with ``model=True`` also a defect classifier trained in a
run, registered, aliased ``production``, evaluated, and served on both lines, one
of them with a planted preprocessing skew. ``cvops demo PATH`` runs it.

The story
---------
Line ``line-1`` photographs metal parts (plates, washers, hex nuts, brackets) on a
slatted conveyor. Defects are scratches (thin bright lines), dents (paired
dark/bright elliptical shading) and stains (soft tinted blobs), each faint or
clear. For eight weeks three annotators label the training images, 2 or 3 per
image: ana is lenient (misses faint defects), ben is strict (sees stains on clean
parts), chloe is accurate until week 5, when the guideline for "dent" is reworded
and she starts calling faint dents "scratch". A week after training ends the line
runs in production for 14 days: clean on days 1-6, a new lamp from day 7
(brighter, flatter, warmer light) and a camera knocked off axis from day 11
(rotation of about 7 degrees plus a slight keystone).

With ``model=True`` a small CNN (``defect-clf``) is trained on the snapshot in seconds on
CPU (run ``train-defect-clf``), aliased ``production`` and evaluated on the test split.
Line-1's production days are predicted through ``cv.Predictor``. A second line, line-2,
photographs the same parts over the same days; its server, outside the workspace, loads the
same model but resizes with OpenCV (no antialias) where training used PIL (antialias), and
logs its answers with ``ws.log_predictions``: the planted training/serving skew
(``ground_truth["serving_skew"]``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from ._labels import DENT_DEFINITION_V2, TAXONOMY_V1, Habit
from ._render import CLASSES, Lighting, Tilt
from ._scenario import DEFAULT_LIGHTING, DEFAULT_START, DEFAULT_TILT, Scenario, generate_scenario

if TYPE_CHECKING:
    from .model import TrainConfig

__all__ = [
    "CLASSES", "DEFAULT_LIGHTING", "DEFAULT_START", "DEFAULT_TILT", "DENT_DEFINITION_V2", "TAXONOMY_V1",
    "DemoReport", "Habit", "Lighting", "Scenario", "Tilt", "build_demo", "generate_scenario",
]


@dataclass
class DemoReport:
    """What :func:`build_demo` did.

    Examples
    --------
    >>> rep = build_demo("demo-ws")       # doctest: +SKIP
    >>> rep.to_dict()["n_images"]         # doctest: +SKIP
    1300
    """

    workspace: str
    scenario_dir: str
    n_images: int
    n_train: int
    n_production: int
    n_labels: int
    n_labels_v1: int
    n_labels_v2: int
    taxonomy_versions: list[int]
    dataset_version: str
    dataset_name: str
    ground_truth: dict[str, Any]
    timings: dict[str, float]
    notes: list[str] = field(default_factory=list)
    model: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (datetimes as ISO strings).

        Examples
        --------
        >>> json.dumps(rep.to_dict())        # doctest: +SKIP
        """
        d = dict(vars(self))
        text = json.dumps(d, default=lambda o: o.isoformat() if isinstance(o, datetime) else str(o))
        out: dict[str, Any] = json.loads(text)
        return out

    def summary(self) -> str:
        """A few lines saying what was built (what ``cvops demo`` prints).

        Examples
        --------
        >>> print(rep.summary())             # doctest: +SKIP
        """
        gt = self.ground_truth
        ld, tc = gt["label_drift"], gt["taxonomy_change"]
        lines = [
            f"demo workspace: {self.workspace}",
            f"  images:   {self.n_images} ({self.n_train} training over {gt['training_period']['weeks']} weeks, "
            f"{self.n_production} production over {gt['production_period']['days']} days) in {self.scenario_dir}",
            f"  labels:   {self.n_labels} by ana (lenient), ben (strict), chloe (drifts); "
            f"{self.n_labels_v1} under taxonomy v1, {self.n_labels_v2} under v2",
            f"  taxonomy: versions {self.taxonomy_versions}; v2 redefines {tc['class']!r} at "
            f"{tc['at']:%Y-%m-%d}",
            f"  dataset:  {self.dataset_name} = {self.dataset_version[:12]} (training images)",
            f"  planted:  {ld['annotator']} calls faint {ld['class']} {ld['confused_with']!r} from week "
            f"{ld['week_start']}; production lighting change from day "
            f"{gt['production_drift'][0]['from_day']}, camera tilt from day {gt['production_drift'][1]['from_day']}",
            f"  took {self.timings.get('total_s', 0.0):.1f} s",
        ]
        if self.model is not None:
            m, sk = self.model, gt["serving_skew"]
            lines[-1:-1] = [
                f"  model:    {m['name']}:{m['version'][:12]} @{m['alias']} (run {m['run_name']}), test accuracy "
                f"{m['test_accuracy']:.3f} on {m['test_n']} images (majority class {m['test_majority_baseline']:.3f})",
                "  served:   " + ", ".join(f"{k}: {v} predictions" for k, v in m["served"].items())
                + f"; planted skew on {sk['source']}: {sk['sentence']}",
            ]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def build_demo(path: str | Path, *, seed: int = 0, progress: bool = True, model: bool = False,
               model_config: TrainConfig | None = None, **scenario_kwargs: Any) -> DemoReport:
    """Build the demo workspace at ``path`` from a freshly generated scenario.

    Draws the scenario into ``path/scenario`` (see :func:`generate_scenario`),
    creates the workspace in ``path``, commits taxonomy v1, registers every image
    (source ``line-1``, capture times from the scenario), adds the labels made
    before the redefinition of "dent" under v1, commits v2, adds the later labels
    under v2, and snapshots the training images as ``demo-train``. With ``model=True``:
    draws a second line (``n_line2``, default a quarter of ``n_production``), trains
    ``defect-clf`` on ``demo-train`` in run ``train-defect-clf``, aliases it ``production``,
    evaluates it on the test split, predicts line-1's production days with ``cv.Predictor``
    and logs line-2's answers, made with a skewed preprocessing, with ``ws.log_predictions``.

    Parameters
    ----------
    path
        New (or empty) folder for the workspace.
    seed
        Scenario seed.
    progress
        Show progress bars and print the summary.
    model
        Train, register, alias, evaluate and serve the demo model (about 10 s more at the
        default size on two cores).
    model_config
        Training settings (default: ``TrainConfig.for_image_size(image_size, seed=seed)``).
    **scenario_kwargs
        Passed to :func:`generate_scenario` (e.g. ``n_train=200``).

    Returns
    -------
    DemoReport

    Examples
    --------
    >>> rep = build_demo("demo-ws", n_train=120, n_production=140)   # doctest: +SKIP
    >>> rep.taxonomy_versions                                         # doctest: +SKIP
    [1, 2]
    >>> rep = build_demo("demo-ws2", model=True)                      # doctest: +SKIP
    >>> rep.ground_truth["serving_skew"]["fields"]                    # doctest: +SKIP
    ['antialias', 'library']
    """
    from ..workspace import Workspace

    t0 = time.perf_counter()
    root = Path(path).resolve()
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty: the demo builds a new workspace")
    if model and "n_line2" not in scenario_kwargs:
        scenario_kwargs["n_line2"] = scenario_kwargs.get("n_production", 700) // 4
    scenario = generate_scenario(root / "scenario", seed=seed, **scenario_kwargs)
    if progress:
        n_tr, n_pr = scenario.train.height, scenario.production.height
        print(f"generated {n_tr + n_pr} images in {scenario.timings['total_s']:.1f} s")
    t1 = time.perf_counter()
    ws = Workspace.create(root, exist_ok=True)
    notes: list[str] = []
    author = "demo"
    for name, (definition, color) in TAXONOMY_V1.items():
        ws.taxonomy.add(name, definition=definition, color=color)
    tc = scenario.ground_truth["taxonomy_change"]
    v1 = ws.taxonomy.commit("Inspection classes for line-1 (guidelines v1)", author="qa-lead",
                            at=scenario.ground_truth["training_period"]["start"])
    images = scenario.images
    captured = dict(zip(images["path"].to_list(), images["captured_at"].to_list()))
    ids: dict[str, str] = {}
    for (source,), group in images.group_by("source", maintain_order=True):
        reg = ws.add_images(group["path"].to_list(), source=str(source), captured_at=captured, progress=progress)
        if reg.problems:
            notes.append(f"{len(reg.problems)} images were refused: {reg.problems[0].reason}")
        ids |= {str(Path(p).resolve()): i for p, i in reg.paths.items()}
    labels = scenario.labels.with_columns(
        pl.col("path").replace_strict(ids, default=None).alias("image_id"))
    cols = ["image_id", "annotator", "created_at", "class_name", "kind", "x0", "y0", "x1", "y1",
            "taxonomy_version"]
    before = labels.filter(pl.col("taxonomy_version") == 1).select(cols)
    after = labels.filter(pl.col("taxonomy_version") == 2).select(cols)
    tv1 = v1.version
    rep1 = ws.add_annotations(before.with_columns(pl.lit(tv1, pl.Int64).alias("taxonomy_version")),
                              source="demo")
    ws.taxonomy.redefine("dent", DENT_DEFINITION_V2)
    v2 = ws.taxonomy.commit("Reword 'dent': paired shading, shallow dents included; lines are scratches",
                            author="qa-lead", at=tc["at"])
    tv2 = v2.version
    rep2 = ws.add_annotations(after.with_columns(pl.lit(tv2, pl.Int64).alias("taxonomy_version")),
                              source="demo")
    for rep in (rep1, rep2):
        if rep.problems:
            notes.append(f"{len(rep.problems)} labels were refused: {rep.problems[0].reason}")
    train_ids = [ids[p] for p in scenario.train["path"].to_list() if p in ids]
    version = ws.snapshot(name="demo-train", author=author, images=train_ids,
                          message=f"Demo training set: {len(train_ids)} line-1 images, weeks 1-"
                                  f"{scenario.params['train_weeks']}, labels by ana/ben/chloe")
    t2 = time.perf_counter()
    ground_truth = dict(scenario.ground_truth)
    timings = scenario.timings | {"workspace_s": t2 - t1}
    facts = None
    if model:
        from ._serving import build_model_story

        facts = build_model_story(ws, scenario, dataset="demo-train", seed=seed, config=model_config)
        ground_truth |= {"model": facts["model"], "serving_skew": facts["serving_skew"]}
        timings |= facts["timings"]
    t3 = time.perf_counter()
    report = DemoReport(
        workspace=ws.uri, scenario_dir=str(scenario.root), n_images=images.height,
        n_train=scenario.train.height, n_production=scenario.production.height,
        n_labels=rep1.n_labels_added + rep2.n_labels_added,
        n_labels_v1=rep1.n_labels_added, n_labels_v2=rep2.n_labels_added,
        taxonomy_versions=[tv1, tv2], dataset_version=version.id, dataset_name="demo-train",
        ground_truth=ground_truth, timings=timings | {"model_s": t3 - t2, "total_s": t3 - t0}, notes=notes,
        model=None if facts is None else facts["model"],
    )
    if progress:
        print(report.summary())
    return report
