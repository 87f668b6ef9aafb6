"""Dataset-version verbs of :class:`~jupyter_cvops.workspace.Workspace` (mixed into it).

``snapshot``, ``versions``, ``version``, the names (``name_version``,
``remove_version_name``, ``version_names``) and ``export``: thin bindings of
:mod:`jupyter_cvops.datasets.versions` and :mod:`jupyter_cvops.datasets._export` onto the
workspace's store and taxonomy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from .._store import Store, WorkspaceError
from .versions import (
    DatasetVersion,
    _get,
    list_versions,
    name_version,
    remove_version_name,
    take_snapshot,
    version_names,
)

if TYPE_CHECKING:
    from ..taxonomy.facade import Taxonomy


class DatasetVerbs:
    """Dataset versions: snapshot, look up, name, export (see the methods).

    Examples
    --------
    >>> import tempfile, jupyter_cvops as cv
    >>> ws = cv.Workspace.create(tempfile.mkdtemp() + "/ws")
    >>> ws.versions().height
    0
    """

    _store: Store
    taxonomy: Taxonomy

    if TYPE_CHECKING:
        def images(self) -> pl.DataFrame: ...  # provided by Workspace

    def snapshot(
        self,
        name: str | None = None,
        message: str | None = None,
        splits: Mapping[str, float] | None = None,
        *,
        images: pl.Series | Iterable[str] | pl.Expr | None = None,
        author: str | None = None,
        move: bool = False,
    ) -> DatasetVersion:
        """Freeze images, resolved labels and the taxonomy version into an immutable version.

        The id is the hash of the content (same content, same id). Splits come from
        each image's hash, so an image never moves between train/val/test.
        Reviewed labels win; otherwise every annotator's labels are kept side by
        side (the policy is recorded in the version).

        Parameters
        ----------
        name, message
            Human handle and description; ``ws.version(name)`` finds it later. A name is
            an alias of the content: snapshotting unchanged content with a new name adds
            the name to the existing version (its repr says ``content unchanged since``).
        move
            Take ``name`` from the version it points at now (kept in the name history);
            without it, a name in use for other content raises
            :class:`~jupyter_cvops.datasets._names.NameInUseError` before anything is written.
        splits
            Split fractions, default ``{"train": 0.8, "val": 0.1, "test": 0.1}``.
        images
            Which images: ids, or a polars expression over ``ws.images()`` columns
            (e.g. ``pl.col("source") == "line-1"``). Default: all.

        Examples
        --------
        >>> v = ws.snapshot(name="baseline", message="first labelled batch")   # doctest: +SKIP
        >>> v.id, v.splits                                                       # doctest: +SKIP
        """
        ids: pl.Series | None
        if images is None:
            ids = None
        elif isinstance(images, pl.Expr):
            ids = self.images().filter(images)["image_id"]
        elif isinstance(images, pl.Series):
            ids = images
        else:
            ids = pl.Series("image_id", list(images), dtype=pl.String)
        return take_snapshot(self._store, self.taxonomy, name=name, message=message,
                             splits=splits, image_ids=ids, author=author, move=move)

    def versions(self) -> pl.DataFrame:
        """Dataset versions, oldest first.

        Examples
        --------
        >>> ws.versions().select("name", "id", "n_images")   # doctest: +SKIP
        """
        return list_versions(self._store)

    def version(self, name_or_id: str) -> DatasetVersion:
        """A dataset version by name, alias, or id (any prefix of >= 6 characters).

        Examples
        --------
        >>> ws.version("baseline").verify()   # doctest: +SKIP
        """
        return _get(self._store, name_or_id)

    def name_version(self, name: str, version: DatasetVersion | str, *, move: bool = False,
                     message: str | None = None, author: str | None = None) -> DatasetVersion:
        """Give a dataset version (object, name or id) the name ``name``; recorded in the name history.

        A name points at one version; one already pointing at another version is refused
        unless ``move=True`` (the previous holder is recorded).

        Examples
        --------
        >>> ws.name_version("production-data", "baseline")             # doctest: +SKIP
        >>> ws.name_version("production-data", v2, move=True, message="relabelled")  # doctest: +SKIP
        """
        return name_version(self._store, name, version, move=move, author=author, message=message)

    def remove_version_name(self, name: str, *, message: str | None = None,
                            author: str | None = None) -> DatasetVersion:
        """Stop ``name`` naming a dataset version (the version and its other names stay).

        Examples
        --------
        >>> ws.remove_version_name("rc-1", message="superseded by rc-2")   # doctest: +SKIP
        """
        return remove_version_name(self._store, name, author=author, message=message)

    def version_names(self, *, history: bool = False, name: str | None = None) -> pl.DataFrame:
        """Names of dataset versions in use now, or (``history=True``) every set, move and remove.

        Examples
        --------
        >>> ws.version_names()                                  # doctest: +SKIP
        >>> ws.version_names(history=True, name="baseline")     # doctest: +SKIP
        """
        return version_names(self._store, history=history, name=name)

    def export(
        self,
        selection: DatasetVersion | str | pl.DataFrame | pl.Series | Iterable[str],
        path: str | Path,
        format: Literal["coco", "yolo", "cvat", "labelstudio"] = "coco",
        *,
        copy_images: bool | Literal["link"] = "link",
        include_needs_review: bool = False,
        **options: Any,
    ) -> Path:
        """Write a dataset version, or a selection of images, as COCO, YOLO, CVAT or Label Studio.

        ``selection`` is a dataset version (object, name or id), or images: a frame with
        an ``image_id`` column (``ws.review_queue(...)``), a drift view's
        ``view.selected``, or any iterable of image ids.  A selection of images is first
        frozen into a dataset version (``ws.snapshot(images=..., name=None)``), so every
        export names the content it came from: the version id is written into the
        export (COCO ``info``, CVAT ``<meta><cvops>``, Label Studio task ``meta``, the
        YOLO sidecar) and into the workspace's events.

        Labels keep annotator, time, polygon and attributes. Image paths in the export
        are relative to it: by default (``"link"``) the images are hard-linked into the
        export (a copy across file systems; no disk space on the same file system), so it
        is self-contained and moves as one folder; ``True`` copies them; ``False`` copies
        nothing and names the images by paths that climb out of the export. Re-importing an export with default arguments gives the
        same labels (COCO, YOLO, CVAT; Label Studio with ``as_annotations=True``); an
        export that does not hold its images finds them in a workspace that registered
        them (else add them first, or pass ``data_root``). For Label Studio the labels
        are pre-filled as ``predictions`` (to correct in the tool, not labels when read
        back); ``options`` go to the writer, e.g. ``as_annotations=True`` to also write
        them as annotations (see :func:`jupyter_cvops.formats.labelstudio.write`).

        Labels that need review (those of a class split since they were made) are left
        out, with an :class:`~jupyter_cvops.datasets._export.ExportWarning` giving the
        count; ``include_needs_review=True`` writes them too, under their old class name.

        Examples
        --------
        >>> ws.export("baseline", "out/coco", format="coco")                         # doctest: +SKIP
        >>> q = ws.review_queue(disputed_only=True)                                  # doctest: +SKIP
        >>> ws.export(q.head(50), "out/ls", format="labelstudio", copy_images=True)  # doctest: +SKIP
        >>> ws.export(view.selected, "out/cvat", format="cvat", copy_images="link")  # doctest: +SKIP
        """
        from ._export import EXPORT_FORMATS, export_version, selected_image_ids

        if format not in EXPORT_FORMATS:
            raise ValueError(f"cannot export as {format!r}; choose one of {', '.join(EXPORT_FORMATS)}")
        kind = "version"
        if isinstance(selection, DatasetVersion):
            v = selection
        elif isinstance(selection, str):
            v = self.version(selection)
        else:
            kind = "selection"
            ids = selected_image_ids(selection)
            known = set(self._store.read("images", columns=["image_id"])["image_id"].to_list())
            unknown = [i for i in ids if i not in known]
            if unknown:
                raise WorkspaceError(f"{len(unknown)} of the {len(ids)} selected image ids are not registered "
                                     f"in this workspace (e.g. {unknown[0]!r})")
            v = self.snapshot(images=ids, message=f"export selection of {len(ids)} images as {format}")
        out = export_version(self.taxonomy, v, Path(path), format, copy_images=copy_images,
                             include_needs_review=include_needs_review, **options)
        self._store.event("dataset.export", {"version_id": v.id, "format": format, "path": str(out),
                                             "selection": kind, "copy_images": copy_images})
        return out
