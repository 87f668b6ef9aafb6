"""Retention verbs of :class:`~jupyter_cvops.workspace.Workspace` (mixed into it): ``ws.compact()``,
``ws.gc_artifacts()``, ``ws.forget()``, ``ws.forgotten()``."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING

import polars as pl

from .._store import forgotten as _forgotten
from .._store.compaction import DEFAULT_OLDER_THAN, CompactionReport, compact
from .forget import ForgetReport, forget
from .gc import DEFAULT_MIN_AGE, GcReport, gc_artifacts

if TYPE_CHECKING:
    from ..workspace import Workspace


class RetentionVerbs:
    """Keep a growing workspace small: compaction, unreferenced artifacts, forgetting images.

    Examples
    --------
    >>> import tempfile, jupyter_cvops as cv
    >>> ws = cv.Workspace.create(tempfile.mkdtemp() + "/ws")
    >>> ws.compact(dry_run=True).versions_removed
    0
    """

    def compact(self, tables: Iterable[str] | str | None = None, *, older_than: timedelta = DEFAULT_OLDER_THAN,
                dry_run: bool = False) -> CompactionReport:
        """Compact the prediction log (and events, checks) and remove their old versions.

        Small fragments (one per logged batch) are rewritten into few large ones (every row kept),
        then versions older than ``older_than`` are removed, except the newest, tagged ones and
        those a dataset version records: they still ``checkout``. Run it nightly
        (``cvops compact``).

        Parameters
        ----------
        tables
            Table names (default: ``predictions``, ``events``, ``checks``); any table of the
            workspace may be named (``images``, an ``emb_*`` table, ...).
        older_than
            Keep versions younger than this (default 7 days: a reader in another process may
            still be reading one).
        dry_run
            Report what would be removed (versions, bytes) without changing anything.

        Returns
        -------
        CompactionReport
            Per table: rows, fragments before/after, versions removed and kept (and why), bytes freed.

        Examples
        --------
        >>> ws.compact()                                          # doctest: +SKIP
        >>> ws.compact(["predictions"], older_than=timedelta(days=1), dry_run=True)   # doctest: +SKIP
        """
        ws: Workspace = self  # type: ignore[assignment]
        return compact(ws.store, tables, older_than=older_than, dry_run=dry_run)

    def gc_artifacts(self, *, dry_run: bool = True, min_age: timedelta = DEFAULT_MIN_AGE) -> GcReport:
        """Remove model artifacts and tables no row references (a dry run unless ``dry_run=False``).

        See :func:`jupyter_cvops.retention.gc.gc_artifacts`: artifact folders no model version
        records, interrupted writes' temporary folders, embedding and cache tables without a
        record, each untouched for ``min_age``. Anything a model version (and so alias history,
        a recipe or a run) references is kept.

        Examples
        --------
        >>> ws.gc_artifacts()                  # what would go, with sizes       # doctest: +SKIP
        >>> ws.gc_artifacts(dry_run=False)                                         # doctest: +SKIP
        """
        ws: Workspace = self  # type: ignore[assignment]
        return gc_artifacts(ws, dry_run=dry_run, min_age=min_age)

    def forget(self, image_ids: str | Iterable[str], *, reason: str, purge: bool = False, dry_run: bool = False,
               actor: str | None = None) -> ForgetReport:
        """Delete images everywhere the workspace stores them; keep a record that they existed and why.

        Rows of the images in ``images``, ``annotations``, ``reviews``, ``predictions``,
        ``dataset_items``, ``dataset_labels`` and every ``emb_*`` table go, drift reference
        caches are dropped, the stat cache forgets their paths; files the workspace owns are
        deleted, the user's own image files are not (listed in ``files_kept``). A row in the
        ``forgotten`` table (``ws.forgotten()``) keeps the image id, the reason, when, who and the
        dataset versions that contained it; their ``verify`` says "image forgotten on <date>:
        <reason>".

        Deleting makes new table versions: older versions still hold the rows until
        ``ws.compact()`` removes them (after ``older_than``), or at once with ``purge=True``.
        Tagged versions (each dataset version's ``images``/``annotations``/``reviews``
        history) are never removed: the images' rows (paths, sizes, labels; never pixels,
        which the workspace does not store) stay in them until those dataset versions' tags
        are deleted; ``report.held`` lists them.

        Parameters
        ----------
        image_ids
            One image id or several.
        reason
            Why (required; kept in the audit record).
        purge
            Also compact the touched tables and remove all their untagged old versions now (a process
            reading one of them at that moment may then fail).
        dry_run
            Change nothing; the report lists what would be removed, per table.
        actor
            Who (default ``$CVOPS_USER`` or the login name).

        Examples
        --------
        >>> ws.forget(ids, reason="customer asked", dry_run=True)     # doctest: +SKIP
        >>> ws.forget(ids, reason="customer asked", purge=True)        # doctest: +SKIP
        """
        ws: Workspace = self  # type: ignore[assignment]
        return forget(ws, image_ids, reason=reason, purge=purge, dry_run=dry_run, actor=actor)

    def forgotten(self) -> pl.DataFrame:
        """Records of forgotten images: image_id, forgotten_at, actor, reason, dataset_versions, removed, purged.

        Examples
        --------
        >>> ws.forgotten().select("image_id", "reason")          # doctest: +SKIP
        """
        ws: Workspace = self  # type: ignore[assignment]
        return _forgotten.read(ws.store)
