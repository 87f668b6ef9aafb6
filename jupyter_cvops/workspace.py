"""``Workspace``: one folder (or LanceDB URI) holding a team's versioned CV data.

The workspace binds the verbs (register images, import labels, version the
taxonomy, snapshot, export) onto one store; every write goes through the store's
lock as one commit.
"""

from __future__ import annotations

import os
import uuid
import weakref
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import polars as pl

from .labels._importing import ImportReport, import_result, store_labels
from .images._register import CapturedAt, RegisterReport, register_scan
from ._store import Store, WorkspaceError
from ._store.statcache import StatCache
from .images._objects import use_storage_options
from ._store.store import read_only_error
from .labels.annotations import records_from_frame
from .audit._verbs import AuditVerbs
from .checks._verbs import CheckVerbs
from .checks.summaries import agreement_summary, describe_selection, drift_summary
from .datasets._verbs import DatasetVerbs
from .lineage._verbs import LineageVerbs
from .models._verbs import ModelVerbs
from .predictions._verbs import PredictionVerbs
from .recipes._verbs import RecipeVerbs
from .shadow._verbs import ShadowVerbs
from .runs._verbs import RunVerbs
from .retention._verbs import RetentionVerbs
from .images._bucket import scan_any
from .taxonomy.facade import Taxonomy

PathsOrGlob = str | Path | Iterable[str | Path]
#: Default cap on width x height; larger images are refused as decompression bombs.
MAX_PIXELS = 178_956_970


class Workspace(DatasetVerbs, RunVerbs, ModelVerbs, PredictionVerbs, CheckVerbs, LineageVerbs, RecipeVerbs,
                AuditVerbs, ShadowVerbs, RetentionVerbs):
    """A versioned store of images, labels, taxonomy and dataset versions.

    Verbs of a domain with many of them live beside it and are mixed in here (each
    folder's ``_verbs.py``: dataset versions, runs, models, predictions, checks, lineage).

    Examples
    --------
    >>> import tempfile
    >>> ws = Workspace.create(tempfile.mkdtemp() + "/ws")
    >>> ws.images().height
    0
    >>> ws.taxonomy.version
    0
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self.taxonomy = Taxonomy(store)
        self._cache: StatCache | None = None
        self._cache_pid = 0  # an SQLite connection must not be used across fork()
        if store.storage_options:  # reads of s3:// images (thumbnails, embed, verify) use the same credentials
            use_storage_options(store.storage_options)

    # -- life cycle ------------------------------------------------------------
    @classmethod
    def create(
        cls, path: str | Path, *, exist_ok: bool = False, storage_options: Mapping[str, str] | None = None
    ) -> Workspace:
        """Create a new workspace at ``path`` (folder, or any URI LanceDB accepts).

        A missing or empty folder becomes a workspace; a folder holding other files is
        refused (:class:`WorkspaceError`) unless ``exist_ok=True``, and so is an existing
        workspace (use :meth:`open`). ``storage_options`` (``endpoint``, ``region``,
        ``aws_access_key_id``, ``allow_http``, ...) reach an object store such as
        ``s3://bucket/team-ws``; without them LanceDB reads the environment (``AWS_*``).

        Examples
        --------
        >>> ws = Workspace.create("inspection-ws")     # doctest: +SKIP
        >>> ws = Workspace.create("s3://bucket/team-ws", storage_options={"region": "eu-west-1"})  # doctest: +SKIP
        """
        return cls(Store.create(path, exist_ok=exist_ok, storage_options=storage_options))

    @classmethod
    def open(
        cls, path: str | Path, *, readonly: bool = False, storage_options: Mapping[str, str] | None = None
    ) -> Workspace:
        """Open an existing workspace; a clear error if ``path`` holds none.

        Parameters
        ----------
        path
            The workspace folder or LanceDB URI.
        readonly
            Open to read only: nothing on disk changes (no migration of an older
            workspace, no ``.cvops/`` lock or stat-cache file) and every write
            (``add_images``, ``snapshot``, taxonomy commits, ...) raises
            :class:`WorkspaceError` before touching disk.
        storage_options
            Object-store options of a remote workspace (see :meth:`create`).

        Examples
        --------
        >>> ws = Workspace.open("inspection-ws")                  # doctest: +SKIP
        >>> viewer = Workspace.open("inspection-ws", readonly=True)  # doctest: +SKIP
        """
        return cls(Store.open(path, readonly=readonly, storage_options=storage_options))

    @property
    def uri(self) -> str:
        """Where the workspace lives (absolute folder or URI)."""
        return self._store.uri

    @property
    def store(self) -> Store:
        """The underlying store (tables, lock); for extensions and tools."""
        return self._store

    def _statcache(self) -> StatCache:
        """The stat cache, opened once and kept: its entries stay in memory between scans
        (reloaded when another process or Workspace object has written to it).

        Only registering images uses it, so a read-only workspace refuses here, before a
        file is scanned or a cache file created."""
        if self._store.readonly:
            raise read_only_error(self.uri, "registering images")
        if self._cache is None or not self._cache.enabled or self._cache_pid != os.getpid():
            self._cache = StatCache(self._store.meta_dir / "statcache.sqlite")
            self._cache_pid = os.getpid()
            weakref.finalize(self, self._cache.close)
        return self._cache

    # -- images ----------------------------------------------------------------
    def add_images(
        self,
        paths_or_glob: PathsOrGlob,
        source: str | None = None,
        *,
        captured_at: CapturedAt = None,
        check: Literal["header", "decode"] = "header",
        max_pixels: int = MAX_PIXELS,
        progress: bool = True,
        engine: Literal["local", "ray"] = "local",
        ray_address: str | None = None,
    ) -> RegisterReport:
        """Register image files by content hash (XXH3-128); incremental and idempotent.

        Unchanged files (same size, mtime and inode as last time) are not re-read;
        a moved file keeps its identity; refused files get one clear reason each
        in the report while the rest of the batch proceeds.

        Parameters
        ----------
        paths_or_glob
            A file, a folder (recursive), a glob (``"imgs/**/*.png"``) or a list of them.
        source
            Camera / line / dataset tag stored with each image.
        captured_at
            Capture times: one datetime, a ``{path: datetime}`` mapping, or a
            function of the path. Default: EXIF DateTimeOriginal when present.
        check
            ``"header"`` reads headers and checks files are complete; ``"decode"``
            also decodes every pixel (slower, catches corrupt data).
        max_pixels
            Images with more pixels are refused as decompression bombs.
        engine, ray_address
            ``"ray"``: read, hash and probe in Ray Data tasks (a first registration of a very large
            folder; no stat cache), one commit here; see :func:`jupyter_cvops.images._ray.scan_on_ray`.

        Examples
        --------
        >>> rep = ws.add_images("images/**/*.jpg", source="line-1")   # doctest: +SKIP
        >>> rep.added, rep.problems                                    # doctest: +SKIP
        """
        if engine == "ray":
            from .images._ray import scan_on_ray

            scan = scan_on_ray(paths_or_glob, source=source, max_pixels=max_pixels, check=check, progress=progress,
                               address=ray_address)
            return register_scan(self._store, scan, source=source, captured_at=captured_at)
        scan = scan_any(  # files, folders, globs, and s3:// prefixes or globs
            paths_or_glob,
            cache=self._statcache(),
            source=source,
            max_pixels=max_pixels,
            check=check,
            progress=progress,
            storage_options=self._store.storage_options or None,  # s3:// images: the workspace's credentials
        )
        return register_scan(self._store, scan, source=source, captured_at=captured_at)

    def images(self) -> pl.DataFrame:
        """Registered images (image_id, path, width, height, channels, format, bytes, source,
        captured_at, registered_at).

        Examples
        --------
        >>> ws.images().select("image_id", "path").head()   # doctest: +SKIP
        """
        return self._store.read("images").sort("path")

    # -- annotations -------------------------------------------------------------
    def import_annotations(
        self,
        path: str | Path,
        format: str,
        *,
        data_root: str | Path | None = None,
        annotator: str | None = None,
        add_missing_classes: bool = True,
        source: str | None = None,
        progress: bool = True,
        **reader_options: Any,
    ) -> ImportReport:
        """Import an export of COCO, CVAT (for images 1.1), Label Studio, YOLO, Pascal VOC or LabelMe.

        The export's images are registered (from ``data_root``, default: the
        export's natural image folder); its labels are stored with annotator, time,
        source file and import batch. A malformed file raises and writes nothing;
        bad records (unknown categories, boxes outside the image, paths escaping
        the data root, ...) are skipped with one reason each. An image not found
        under the data root is matched to an image this workspace has already
        registered, by path, then by file name (a name several registered images
        have is a problem listing them); a file found there that is a copy of a
        registered image is that image (content hash). No file outside the data
        root is read. The report says where it looked and how many images matched
        each way. Re-importing the same export adds nothing.

        Examples
        --------
        >>> rep = ws.import_annotations("annotations.xml", format="cvat")   # doctest: +SKIP
        >>> rep.n_labels_added, rep.problems_frame()                         # doctest: +SKIP
        """
        from . import formats

        result = formats.read(path, format, data_root=data_root, annotator=annotator, **reader_options)

        def register(paths: list[str]) -> RegisterReport:
            return self.add_images(paths, source=source, progress=progress)

        return import_result(
            self._store,
            self.taxonomy,
            result,
            register=register,
            add_missing_classes=add_missing_classes,
            annotator=annotator,
        )

    def add_annotations(
        self,
        frame: pl.DataFrame,
        *,
        annotator: str | None = None,
        source: str = "api",
        add_missing_classes: bool = True,
    ) -> ImportReport:
        """Add labels from a polars frame (``image_id, annotator, created_at, class_name, kind,
        x0, y0, x1, y1``; optional ``taxonomy_version``: names are read under that version).

        Examples
        --------
        >>> df = pl.DataFrame({"image_id": [iid], "annotator": ["ana"], "class_name": ["dent"],
        ...                    "kind": ["image"]})                        # doctest: +SKIP
        >>> ws.add_annotations(df).n_labels_added                          # doctest: +SKIP
        1
        """
        report = ImportReport(import_batch=uuid.uuid4().hex[:16], source_file=source, format="frame",
                              n_labels_read=frame.height)
        ids = frame["image_id"].unique().to_list()
        known = set(self._store.read("images", columns=["image_id"])["image_id"].to_list())
        image_ids = {i: i for i in ids if i in known}
        report.n_images, report.n_images_found = len(ids), len(image_ids)
        groups: list[tuple[int | None, pl.DataFrame]]
        if "taxonomy_version" in frame.columns:
            groups = [(int(k[0]) if k[0] is not None else None, g)
                      for k, g in frame.group_by("taxonomy_version", maintain_order=True)]
        else:
            groups = [(None, frame)]
        with self._store.lock:
            for version, part in groups:
                store_labels(
                    self._store, self.taxonomy, records_from_frame(part), image_ids, report,
                    add_missing_classes=add_missing_classes and version is None,
                    taxonomy_version=version, default_annotator=annotator,
                )
        self._store.event("annotations.add", report.to_dict() | {"problems": len(report.problems)})
        return report

    def annotations(self, *, resolve: bool = True) -> pl.DataFrame:
        """All labels, with class names read under the current taxonomy version.

        With ``resolve=True`` (default) class ids are mapped forward through renames and
        merges (``class_id``/``class_name``), the original id is kept in
        ``class_id_original`` and ``status`` says ok / renamed / merged /
        needs_review (class split since) / deprecated.

        Examples
        --------
        >>> ws.annotations().group_by("annotator", "class_name").len()   # doctest: +SKIP
        """
        anns = self._store.read("annotations")
        if not resolve or anns.height == 0 or self.taxonomy.version == 0:
            return anns
        mapped = self.taxonomy.resolve(anns["class_id"], anns["taxonomy_version"])
        return anns.rename({"class_id": "class_id_original"}).with_columns(
            mapped["class_id"].alias("class_id"),
            mapped["class_name"].alias("class_name"),
            mapped["status"].alias("status"),
        )

    # -- agreement -------------------------------------------------------------------
    def agreement(
        self,
        *,
        kind: Literal["image", "box"] = "image",
        images: pl.Expr | Iterable[str] | None = None,
        consensus: Literal["dawid-skene", "majority"] = "dawid-skene",
        bootstrap: int = 1000,
        every: str = "1w",
        seed: int = 0,
        **options: Any,
    ) -> Any:
        """The full annotator-agreement report of this workspace's labels.

        Labels are read under the current taxonomy (renames and merges mapped
        forward; labels of split classes left out). Label-drift alerts name the
        nearest taxonomy version change. ``kind="box"`` adds box agreement (IoU
        matching). See :func:`jupyter_cvops.agreement.agreement_report` for options.

        Each call records a check (kind ``"agreement"``, target ``"annotations"`` or ``"annotations of
        <selection>"``: overall metrics with CIs, label-drift alerts; ``alert`` when any) in
        ``ws.checks()``. A read-only workspace computes the report the same and records nothing.

        Examples
        --------
        >>> rep = ws.agreement()                       # doctest: +SKIP
        >>> rep.overall                                # doctest: +SKIP
        >>> rep.alerts.select("annotator", "class_name", "window", "taxonomy_version")  # doctest: +SKIP
        """
        from .agreement.metrics import agreement_report

        anns = self.annotations()
        if "class_name" in anns.columns:  # absent when nothing was imported yet
            anns = anns.filter(pl.col("class_name").is_not_null())
        selection = describe_selection(None)
        if images is not None:
            ids = (self.images().filter(images)["image_id"] if isinstance(images, pl.Expr)
                   else pl.Series(list(images), dtype=pl.String))
            anns = anns.filter(pl.col("image_id").is_in(ids.implode()))
            selection = describe_selection(images if isinstance(images, pl.Expr) else ids)
        taxonomy = self.taxonomy.history() if self.taxonomy.version else None
        parameters = {"kind": kind, "images": selection, "consensus": consensus,
                      "bootstrap": bootstrap, "every": every, "seed": seed, **options}
        report = agreement_report(
            anns, consensus=consensus, bootstrap=bootstrap, every=every, seed=seed,
            taxonomy=taxonomy, kind=None if kind == "box" else kind,
            boxes=True if kind == "box" else options.pop("boxes", None), **options,
        )
        target = "annotations" if images is None else f"annotations of {selection}"
        self._record_check("agreement", target, parameters, agreement_summary(report))
        return report

    # -- embeddings and drift ------------------------------------------------------------
    def embed(self, model: str | None = None, images: Any = None, batch_size: int = 64, **options: Any) -> Any:
        """Compute image embeddings into LanceDB, incrementally (one table per model).

        ``model="imgstats"`` (named image statistics, no weights) or
        ``"open_clip:ViT-B-32"`` with ``pretrained=`` a local checkpoint or a tag
        (only a tag may download). Default: open_clip when ``$CVOPS_CLIP_WEIGHTS`` is
        set, else imgstats. See :func:`jupyter_cvops.embeddings.embed`.

        Examples
        --------
        >>> ws.embed("imgstats")                                           # doctest: +SKIP
        >>> ws.embed("open_clip:ViT-B-32", pretrained="/models/vitb32.pt")  # doctest: +SKIP
        """
        from .embeddings.tables import embed

        return embed(self, model=model, images=images, batch_size=batch_size, **options)

    def embeddings(self) -> pl.DataFrame:
        """Embedding tables: model, dim, rows, and the ANN index (type, partitions, tuned nprobes).

        Examples
        --------
        >>> ws.embeddings().select("table", "rows", "nprobes")   # doctest: +SKIP
        """
        from .embeddings.tables import list_embeddings

        return list_embeddings(self)

    def neighbors(self, image_or_vector: Any, k: int = 10, model: str | None = None, **options: Any) -> pl.DataFrame:
        """The ``k`` most similar images (image id, path or vector); ANN index when large.

        Examples
        --------
        >>> ws.neighbors(image_id, k=5, model="imgstats")   # doctest: +SKIP
        """
        from .embeddings.tables import neighbors

        return neighbors(self, image_or_vector, k=k, model=model, **options)

    def drift(self, reference: Any, current: Any = None, by: str = "1d", **options: Any) -> pl.DataFrame:
        """Drift of production images against a reference, per time window.

        Parameters
        ----------
        reference
            A dataset version (or its name), image ids, or a polars expression over
            ``ws.images()`` columns.
        current
            Image ids, an expression (e.g. ``pl.col("source") == "line-1"``) or a frame with an
            ``image_id`` column (e.g. ``ws.predictions(model="clf")``; failed rows without an id are
            left out); default: every registered image. Images of the reference are never part of it.
        by
            Window length (polars duration: ``"1d"``, ``"6h"``, ``"1w"``) over capture time.
        **options
            ``model`` (default ``"imgstats"``), ``alpha``, ``n_permutations``, ``seed``, ...
            see :func:`jupyter_cvops.drift.drift_by_window`.

        Each call records a check in ``ws.checks()`` (kind ``"input_drift"``, target the reference as
        given: its name, an expression's text or ``"<n> images (<digest>)"``; result: per-window flags,
        max statistic, novel fraction; ``alert`` when a window drifted). A read-only workspace
        computes the same frame and records nothing.

        Returns
        -------
        polars.DataFrame
            window, n, statistic (MMD^2), p_value, q_value (Holm-corrected across
            windows), drifted, novel_frac (share of the window's images whose conformal kNN
            novelty p-value is <= alpha, searched in LanceDB; about alpha without drift),
            top_novel / top_witness (image ids), top_features (drifted image statistics vs
            the reference), new_features (vs the 3 windows before), n_reference, embedding.

        Examples
        --------
        >>> ws.drift("demo-train", pl.col("source") == "line-1", by="1d")   # doctest: +SKIP
        """
        from .drift._windows import workspace_drift

        def once(x: Any) -> Any:  # an iterator of ids is read twice: by the test and by its description
            return x if x is None or isinstance(x, (str, pl.Expr, pl.DataFrame)) or hasattr(x, "n_images") \
                else list(x)

        reference, current = once(reference), once(current)
        frame = workspace_drift(self, reference, current, by=by, **options)
        target, cur = describe_selection(reference), describe_selection(current)
        parameters = {"reference": target, "current": cur, "by": by,
                      **{k: v for k, v in options.items() if k != "progress"}}
        self._record_check("input_drift", target, parameters, drift_summary(frame, reference=target, current=cur))
        return frame

    def drift_images(self, reference: Any, current: Any = None, by: str = "1d", **options: Any) -> pl.DataFrame:
        """Which images drive the drift: one row per current image, from the same tests as
        :meth:`drift` (same arguments, same seeds, so the same windows and flags).

        Returns
        -------
        polars.DataFrame
            image_id, window, captured_at, window_drifted, witness (the MMD witness
            function at the image, in its window: > 0 where the window has more mass than
            the reference; null in windows too small to test), novelty_p (conformal kNN
            p-value, searched in LanceDB) and knn_distance; by window, highest witness first.

        Examples
        --------
        >>> imgs = ws.drift_images("demo-train", by="1d")                       # doctest: +SKIP
        >>> imgs.filter(pl.col("window_drifted")).head(10)                     # doctest: +SKIP
        """
        from .drift._windows import workspace_drift

        return workspace_drift(self, reference, current, by=by, per_image=True, **options)

    def novel_regions(self, reference: Any, current: Any = None, **options: Any) -> pl.DataFrame:
        """Clusters of current images unlike anything in the reference (conformal kNN novelty
        + k-means): which images and which region of embedding space drive a drift.

        Examples
        --------
        >>> ws.novel_regions("demo-train").select("cluster", "size", "exemplar")   # doctest: +SKIP
        """
        from .drift._windows import novel_regions

        return novel_regions(self, reference, current, **options)

    # -- review ----------------------------------------------------------------------
    def review_queue(self, filter: pl.Expr | None = None, **options: Any) -> pl.DataFrame:
        """Images ranked by annotator disagreement, or behind production predictions (``predictions=``);
        see :func:`jupyter_cvops.reviews.review_queue`.

        Examples
        --------
        >>> ws.review_queue(pl.col("classes").list.contains("dent"), disputed_only=True)  # doctest: +SKIP
        >>> ws.review_queue(predictions="low_confidence", below=0.6, since="2026-11-01")   # doctest: +SKIP
        """
        from .reviews.decisions import review_queue

        return review_queue(self, filter=filter, **options)

    def decide(self, image_id: str, decision: str, **details: Any) -> str:
        """Record a review decision (accept | set | flag | comment | clear); see
        :func:`jupyter_cvops.reviews.decide`.

        Examples
        --------
        >>> ws.decide(image_id, "accept", annotator="majority")   # doctest: +SKIP
        """
        from .reviews.decisions import decide

        return decide(self, image_id, decision, **details)

    def reviews(self, image_id: str | None = None) -> pl.DataFrame:
        """Review history, oldest first, with ``superseded`` flags.

        Examples
        --------
        >>> ws.reviews().filter(~pl.col("superseded"))   # doctest: +SKIP
        """
        from .reviews.decisions import review_history

        return review_history(self, image_id)

    # -- runs and events -------------------------------------------------------------
    def events(self) -> pl.DataFrame:
        """The audit log of every operation, oldest first."""
        return self._store.read("events").sort("time")

    def __repr__(self) -> str:
        st = self._store
        return (
            f"<Workspace {self.uri}: {st.count('images')} images, {st.count('annotations')} labels, "
            f"taxonomy v{self.taxonomy.version}, {st.count('dataset_versions')} dataset versions>"
        )
