"""Label mapping of :class:`~jupyter_cvops.taxonomy.Taxonomy`: (class id, version) pairs to a later version."""

from __future__ import annotations

from typing import Any

import polars as pl

from ._ops import TaxonomyError, resolve_one
from ._records import _TaxonomyBase

RESOLVE_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "from_class_id": pl.String,
    "from_version": pl.Int32,
    "class_id": pl.String,
    "class_name": pl.String,
    "status": pl.String,
    "candidates": pl.List(pl.String),
}


def _as_series(values: Any, name: str, dtype: pl.DataType, n: int | None) -> pl.Series:
    if isinstance(values, pl.Series):
        s = values.rename(name)
    elif values is None or isinstance(values, str | int):
        s = pl.Series(name, [values] * (1 if n is None else n), dtype=dtype)
    else:
        s = pl.Series(name, list(values), dtype=dtype, strict=False)
    return s if s.dtype == dtype else s.cast(dtype)


class _ResolveMixin(_TaxonomyBase):
    """:meth:`~jupyter_cvops.taxonomy.Taxonomy.resolve`, vectorized over labels."""

    # -- mapping labels -------------------------------------------------------------
    def resolve(self, class_ids: Any, from_versions: Any, to_version: int | None = None) -> pl.DataFrame:
        """Map labels (class id + taxonomy version they were made under) to ``to_version``.

        Vectorized: the distinct (id, version) pairs are resolved once, then joined
        back onto the labels, so a million labels take well under a second.

        Parameters
        ----------
        class_ids
            Class ids of the labels (polars Series or any sequence; nulls allowed).
        from_versions
            Taxonomy version of each label (Series/sequence), or one int for all.
            A null version reads the id directly under ``to_version``.
        to_version
            Version to map to; the latest by default.

        Returns
        -------
        polars.DataFrame
            One row per label, in input order: ``from_class_id, from_version``,
            ``class_id`` and ``class_name`` under ``to_version``, ``status`` and
            ``candidates``. Status is ``ok`` (same class, same name), ``renamed``
            (same id, new name), ``merged`` (mapped through one or more merges to
            the target), ``needs_review`` (the class was split: ``class_id`` is null
            and ``candidates`` lists the classes it was split into), ``deprecated``
            (the id is kept) or ``unknown`` (id not in the label's version).

        Examples
        --------
        >>> import tempfile
        >>> from jupyter_cvops._store import Store
        >>> from jupyter_cvops.taxonomy import Taxonomy
        >>> tax = Taxonomy(Store.create(tempfile.mkdtemp()))
        >>> tax.add("stain"); tax.add("dirt"); tax.add("defect"); v = tax.commit("init")
        >>> tax.merge(["stain", "dirt"], into="dirt"); tax.split("defect", ["scratch", "dent"])
        >>> v = tax.commit("v2")
        >>> tax.resolve(["c0001", "c0002", "c0003"], 1).select("class_name", "status").rows()
        [('dirt', 'merged'), ('dirt', 'ok'), (None, 'needs_review')]
        """
        latest = self.version
        to_v = latest if to_version is None else self._check_version(to_version)
        ids = _as_series(class_ids, "from_class_id", pl.String(), None)
        versions = _as_series(from_versions, "from_version", pl.Int32(), ids.len())
        if versions.len() != ids.len():
            raise TaxonomyError(f"{ids.len()} class ids but {versions.len()} versions")
        labels = pl.DataFrame([ids, versions])
        if labels.height == 0:
            return pl.DataFrame(schema=RESOLVE_SCHEMA)
        pairs = labels.unique()
        known = {v for v in pairs["from_version"].drop_nulls().unique().to_list() if 0 < v <= latest}
        self._load(known | {to_v})
        to_state = self._state(to_v)
        rows = []
        for cid, v in pairs.iter_rows():
            from_state = None if v is None else self._states.get(v, {})
            rows.append((cid, v, *resolve_one(cid, from_state, to_state, from_known=v is None or v in known)))
        mapping = pl.DataFrame(rows, schema=RESOLVE_SCHEMA, orient="row")
        return labels.join(
            mapping, on=["from_class_id", "from_version"], how="left", nulls_equal=True, maintain_order="left"
        )
