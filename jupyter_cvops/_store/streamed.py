"""Insert-or-replace a stream of row batches in ONE commit, holding one batch in memory at a time.

A Ray embedding of a million images produces ~2 GB of 512-d vectors. Collecting them before a
``merge_insert`` (which also materialises its whole source: measured, peak memory = the data) does
not scale, and committing piece by piece would make a failed job half-visible. Instead, every
:data:`FLUSH_BYTES` of rows go into new Lance data files of the table (``lance.fragment.write_fragments``:
files that no manifest references yet, invisible to every reader); when the stream ends, ONE commit
under the workspace write lock adds those fragments and deletes the rows they replace (rows with the
same key: deletion files on their fragments, ``LanceOperation.Update``), or is a plain append when no
key was there before. A stream that raises commits nothing; its written files are unreferenced and go
with a cleanup of old versions (:mod:`jupyter_cvops._store.compaction`) once they are 7 days old (Lance
spares younger unreferenced files: they may belong to a commit in progress).

Examples
--------
>>> import tempfile
>>> from jupyter_cvops._store import Store
>>> st = Store.create(tempfile.mkdtemp() + "/ws")
>>> batches = ([{"event_id": f"e{i}", "op": "a"}] for i in range(3))
>>> _ = stream_upsert(st, "events", "event_id", batches)
>>> st.count("events")
3
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from ._rows import Rows, to_arrow

if TYPE_CHECKING:
    from .store import Store

def _quote(key: Any) -> str:
    return "'" + str(key).replace("'", "''") + "'"


def _replaced(ds: Any, on: str, keys: pa.Array) -> tuple[list[int], list[Any]]:
    """``(removed fragment ids, updated fragment metadata)`` deleting the rows of ``ds`` whose ``on`` is in
    ``keys`` (deletion files are written now and take effect with the commit that names them; an ``IN``
    list of 100,000 keys takes ~0.6 s)."""
    removed: list[int] = []
    updated: list[Any] = []
    for frag in ds.get_fragments():
        present = frag.to_table(columns=[on])[on]
        hit = pc.unique(present.filter(pc.is_in(present, value_set=keys))).to_pylist()
        if hit:
            meta = frag.delete(f"{on} IN ({', '.join(_quote(k) for k in hit)})")
            if meta is None:  # every row of the fragment goes
                removed.append(frag.fragment_id)
            else:
                updated.append(meta)
    return removed, updated


FLUSH_BYTES = 64 << 20
"""Rows are buffered up to this size, then written as new data files (fragments) of the table."""


def stream_upsert(store: Store, name: str, on: str, batches: Iterable[Rows], *, flush_bytes: int | None = None
                  ) -> int:
    """Insert-or-replace the rows of ``batches`` (keyed by column ``on``) into table ``name`` in one commit.

    Memory holds up to ``flush_bytes`` (default :data:`FLUSH_BYTES`) of rows (plus the keys seen); the lock is taken only for the
    commit. ``batches`` is consumed on the calling thread, so an exception from it (or a keyboard
    interrupt) propagates as it is, and nothing is committed. Returns the table's new version (its
    current one when the batches held no rows). Keys must be unique across the batches.

    Examples
    --------
    >>> import tempfile
    >>> from jupyter_cvops._store import Store
    >>> st = Store.create(tempfile.mkdtemp() + "/ws")
    >>> _ = st.append("events", [{"event_id": "e1", "op": "old"}])
    >>> _ = stream_upsert(st, "events", "event_id", [[{"event_id": "e1", "op": "new"}], [{"event_id": "e2", "op": "b"}]])
    >>> sorted(st.read("events")["op"].to_list())
    ['b', 'new']
    """
    import lance

    limit = FLUSH_BYTES if flush_bytes is None else flush_bytes
    store._check_writable(f"writing to {name!r}")
    tbl = store.table(name)
    schema: pa.Schema = store._schemas[name]
    options = store.storage_options or None
    keys: list[pa.Array] = []
    fragments: list[Any] = []
    pending: list[pa.Table] = []
    size = 0

    def flush() -> None:
        nonlocal pending, size
        if pending:
            with store._committing(name, tbl):  # files no manifest names yet: invisible until the commit
                fragments.extend(lance.fragment.write_fragments(pa.concat_tables(pending), tbl.to_lance(),
                                                                schema=schema, storage_options=options))
            pending, size = [], 0

    for rows in batches:
        data = to_arrow(rows, schema)
        if data.num_rows:
            keys.append(data[on].combine_chunks())
            pending.append(data)
            size += data.nbytes
            if size >= limit:
                flush()
    flush()
    with store.lock:
        tbl = store.table(name)
        if not fragments:
            return int(tbl.version)
        store.lock.check()
        with store._committing(name, tbl):
            ds = tbl.to_lance()
            removed, updated = _replaced(ds, on, pa.concat_arrays(keys)) if ds.count_rows() else ([], [])
            if removed or updated:
                op: Any = lance.LanceOperation.Update(removed_fragment_ids=removed, updated_fragments=updated,
                                                      new_fragments=fragments)
            else:
                op = lance.LanceOperation.Append(fragments)
            lance.LanceDataset.commit(ds, op, read_version=ds.version, storage_options=options)
        return int(store.table(name).version)
