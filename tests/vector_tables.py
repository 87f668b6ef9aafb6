"""Shared test helper: embedding tables written straight from arrays (no model, no images)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from jupyter_cvops import Workspace
from jupyter_cvops.embeddings import _index as ix
from jupyter_cvops.embeddings import tables as E


class VectorBackend:
    """Only the table identity of a backend: vectors are written directly."""

    def __init__(self, name: str, dim: int, metric: str = "cosine") -> None:
        self.model_id, self.table_slug, self.dim, self.metric, self.device = name, name, dim, metric, "cpu"

    def describe(self) -> dict[str, object]:
        return {"fingerprint": {"vectors": self.model_id}}

    def spec(self) -> dict[str, object]:
        return {"model": self.model_id}


def vector_table(ws: Workspace, name: str, vecs: np.ndarray, metric: str = "cosine") -> str:
    backend = VectorBackend(name, vecs.shape[1], metric)
    table = "emb_" + name
    ws.store.ensure_table(table, E._schema(backend))  # type: ignore[arg-type]
    fp = E.eb.fingerprint(backend)  # type: ignore[arg-type]
    ix.put_record(ws, E._record_for(backend, table, fp) | {"updated_at": "test"})  # type: ignore[arg-type]
    ids = [f"{name}-{i:06d}" for i in range(len(vecs))]
    ws.store.append(table, E._rows(ids, vecs.astype(np.float32), fp, vecs.shape[1]))
    ws.store.append("images", pa.table({"image_id": ids, "path": [f"/v/{i}.png" for i in ids]}))
    return table
