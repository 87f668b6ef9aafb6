"""The demo: a seeded synthetic inspection line, and a workspace built from it.

:func:`generate_scenario` draws the images (OpenCV, procedurally) and simulates
the annotators; it returns a :class:`Scenario` whose ``ground_truth`` names every
planted effect, so later analyses (agreement, label drift, production drift,
lineage) can be checked against it. :func:`build_demo` turns a scenario into a
workspace: taxonomy v1, images, labels, the redefinition of "dent", more labels,
and a dataset snapshot. ``cvops demo PATH`` runs it.

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
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from ._labels import DENT_DEFINITION_V2, TAXONOMY_V1, Habit
from ._render import CLASSES, Lighting, Tilt
from ._scenario import DEFAULT_LIGHTING, DEFAULT_START, DEFAULT_TILT, Scenario, generate_scenario

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
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def build_demo(path: str | Path, *, seed: int = 0, progress: bool = True, **scenario_kwargs: Any) -> DemoReport:
    """Build the demo workspace at ``path`` from a freshly generated scenario.

    Draws the scenario into ``path/scenario`` (see :func:`generate_scenario`),
    creates the workspace in ``path``, commits taxonomy v1, registers every image
    (source ``line-1``, capture times from the scenario), adds the labels made
    before the redefinition of "dent" under v1, commits v2, adds the later labels
    under v2, and snapshots the training images as ``demo-train``.

    Parameters
    ----------
    path
        New (or empty) folder for the workspace.
    seed
        Scenario seed.
    progress
        Show progress bars and print the summary.
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
    """
    from ..workspace import Workspace

    t0 = time.perf_counter()
    root = Path(path).resolve()
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty: the demo builds a new workspace")
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
    reg = ws.add_images(images["path"].to_list(), source=scenario.params["camera"],
                        captured_at=captured, progress=progress)
    if reg.problems:
        notes.append(f"{len(reg.problems)} images were refused: {reg.problems[0].reason}")
    ids = {str(Path(p).resolve()): i for p, i in reg.paths.items()}
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
    report = DemoReport(
        workspace=ws.uri, scenario_dir=str(scenario.root), n_images=images.height,
        n_train=scenario.train.height, n_production=scenario.production.height,
        n_labels=rep1.n_labels_added + rep2.n_labels_added,
        n_labels_v1=rep1.n_labels_added, n_labels_v2=rep2.n_labels_added,
        taxonomy_versions=[tv1, tv2], dataset_version=version.id, dataset_name="demo-train",
        ground_truth=scenario.ground_truth,
        timings=scenario.timings | {"workspace_s": t2 - t1, "total_s": t2 - t0}, notes=notes,
    )
    if progress:
        print(report.summary())
    return report
