"""The scale-out backend: Qdrant through ``qdrant-client``.

``QdrantStore(location=":memory:")`` or ``QdrantStore(path=DIR)`` is qdrant-client's local mode
(the server's API, in process); ``QdrantStore(url="http://host:6333")`` is the same code against a
Qdrant server or cluster. Points carry the chunk's row as payload, so metadata filters are Qdrant
``FieldCondition``s; :func:`export_index` copies an embedded FAISS+SQLite index into a collection.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

PAYLOAD_KEYS = ("chunk_id", "source", "text", "type", "section", "title")


class QdrantStore:
    def __init__(
        self,
        collection: str = "chunks",
        *,
        url: str | None = None,
        path: str | None = None,
        location: str | None = None,
        api_key: str | None = None,
    ) -> None:
        from qdrant_client import QdrantClient

        if url:
            self.client = QdrantClient(url=url, api_key=api_key)
        elif path:
            self.client = QdrantClient(path=str(path))
        else:
            self.client = QdrantClient(location=location or ":memory:")
        self.collection = collection

    def create(self, dim: int) -> None:
        from qdrant_client import models

        if self.client.collection_exists(self.collection):
            self.client.delete_collection(self.collection)
        self.client.create_collection(
            self.collection,
            vectors_config=models.VectorParams(size=dim, distance=models.Distance.COSINE),
        )

    def upsert(
        self, ids: list[int], vectors: np.ndarray, payloads: list[dict[str, Any]], batch: int = 256
    ) -> None:
        from qdrant_client import models

        for i in range(0, len(ids), batch):
            self.client.upsert(
                self.collection,
                points=[
                    models.PointStruct(id=int(pid), vector=vec.tolist(), payload=payload)
                    for pid, vec, payload in zip(
                        ids[i : i + batch],
                        vectors[i : i + batch],
                        payloads[i : i + batch],
                        strict=True,
                    )
                ],
            )

    @staticmethod
    def make_filter(filters: dict[str, Any] | None):
        from qdrant_client import models

        if not filters:
            return None
        must = []
        for key, value in sorted(filters.items()):
            values = list(value) if isinstance(value, list | tuple | set) else [value]
            must.append(models.FieldCondition(key=key, match=models.MatchAny(any=values)))
        return models.Filter(must=must)

    def search(
        self, vector: np.ndarray, k: int, filters: dict[str, Any] | None = None
    ) -> list[tuple[int, float, dict]]:
        result = self.client.query_points(
            self.collection,
            query=np.asarray(vector, np.float32).tolist(),
            limit=k,
            query_filter=self.make_filter(filters),
            with_payload=True,
        )
        return [(int(p.id), float(p.score), p.payload or {}) for p in result.points]

    def close(self) -> None:
        self.client.close()


def export_index(index, store: QdrantStore) -> int:
    """Copy every chunk of a :class:`~ch18_rag.index.RagIndex` (vectors + payload) to Qdrant."""
    rows = index.table.con.execute(
        "SELECT position, chunk_id, source, text, type, section, title, metadata FROM chunks "
        "ORDER BY position"
    ).fetchall()
    payloads = []
    for row in rows:
        meta = json.loads(row[7])
        payloads.append(
            {
                **{k: v for k, v in meta.items() if isinstance(v, str | int | float)},
                **dict(zip(PAYLOAD_KEYS, row[1:7], strict=True)),
            }
        )
    store.create(int(index.meta["dim"]))
    store.upsert([r[0] for r in rows], np.asarray(index.vectors), payloads)
    return len(rows)


__all__ = ["QdrantStore", "export_index"]
