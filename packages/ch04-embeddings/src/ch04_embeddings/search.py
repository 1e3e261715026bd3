"""A semantic search engine: documents -> MiniLM vectors -> a FAISS index on disk -> top-k.

``build_index`` embeds every document (a document that fits the model's window is embedded whole;
a longer one is cut into window-sized passages, each its own vector) and writes a folder:

- ``index.faiss`` — FAISS ``flat`` (``IndexFlatIP``, exact), ``ivf`` (``IndexIVFFlat``), ``hnsw``
  (``IndexHNSWFlat``) or ``pq`` (``IndexPQ``, 8-bit codes per 8 dimensions: 48 bytes a vector
  instead of 1,536);
- ``passages.jsonl`` (vector row -> document id, passage text), ``documents.jsonl`` (id, text,
  metadata) and ``index.json`` (model id, dimension, kind, parameters).

``SearchIndex.search`` embeds the query, asks FAISS for passages, keeps each document's best
passage, applies metadata filters and returns :class:`Hit` rows ``(id, text, score)``; the score
is the cosine similarity. With ``flat`` and short documents that is exactly MiniLM + FAISS flat's
top-k. The folder is written atomically: a failed build never replaces a good index.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ch04_embeddings.documents import Document, matches
from llmpath_core import UserError

KINDS = ("flat", "ivf", "hnsw", "pq")
FORMAT = 1


@dataclass
class IndexConfig:
    """Which FAISS index and its knobs (``0`` = chosen from the corpus size)."""

    kind: str = "flat"
    nlist: int = 0  # ivf cells
    nprobe: int = 0  # ivf cells scanned per query
    hnsw_m: int = 32
    ef_search: int = 64
    pq_m: int = 0  # pq sub-quantizers (dimension must divide by it)


@dataclass
class Hit:
    """One search result: a document id, its text (the best passage if it was split), a score."""

    id: str
    text: str
    score: float
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "score": self.score, "metadata": self.metadata}


def make_faiss_index(vectors: np.ndarray, config: IndexConfig):
    """Train (if the kind needs it) and fill a FAISS inner-product index over ``vectors``."""
    import faiss

    n, dim = vectors.shape
    ip = faiss.METRIC_INNER_PRODUCT
    if config.kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif config.kind == "ivf":
        config.nlist = config.nlist or max(1, min(round(math.sqrt(n)), n // 8 or 1))
        config.nprobe = config.nprobe or max(1, config.nlist // 4)
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, config.nlist, ip)
        index.nprobe = config.nprobe
    elif config.kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, config.hnsw_m, ip)
        index.hnsw.efSearch = config.ef_search
    elif config.kind == "pq":
        config.pq_m = config.pq_m or max(1, dim // 8)
        if dim % config.pq_m:
            raise UserError(
                f"pq: the dimension {dim} must divide by the sub-quantizers {config.pq_m}"
            )
        bits = max(1, min(8, int(math.log2(n)))) if n > 1 else 1
        index = faiss.IndexPQ(dim, config.pq_m, bits, ip)
    else:
        raise UserError(f"unknown index kind {config.kind!r}: use one of {', '.join(KINDS)}")
    if not index.is_trained:
        index.train(vectors)
    index.add(vectors)
    return index


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def build_index(
    documents: list[Document],
    folder: str | Path,
    encoder,
    config: IndexConfig | None = None,
) -> dict[str, Any]:
    """Embed ``documents`` with ``encoder`` and write a searchable index folder; a summary."""
    import faiss

    from llmpath_core.io import atomic_dir

    config = config or IndexConfig()
    if config.kind not in KINDS:
        raise UserError(f"unknown --kind {config.kind!r}: use one of {', '.join(KINDS)}")
    if not documents:
        raise UserError("the corpus is empty: nothing to index")
    start = time.perf_counter()
    passages = []
    for doc in documents:
        for piece in encoder.split_to_window(doc.text):
            passages.append({"doc": doc.id, "text": piece, "whole": piece == doc.text})
    vectors = encoder.encode([p["text"] for p in passages])
    index = make_faiss_index(vectors, config)
    folder = Path(folder)
    with atomic_dir(folder) as tmp:
        faiss.write_index(index, str(tmp / "index.faiss"))
        _write_jsonl(tmp / "passages.jsonl", passages)
        _write_jsonl(tmp / "documents.jsonl", [asdict(d) for d in documents])
        meta = {
            "format": FORMAT,
            "model": encoder.model_id,
            "dim": int(vectors.shape[1]),
            "config": asdict(config),
            "documents": len(documents),
            "passages": len(passages),
        }
        (tmp / "index.json").write_text(json.dumps(meta, indent=2) + "\n")
    return {
        "index": str(folder),
        "kind": config.kind,
        "documents": len(documents),
        "passages": len(passages),
        "dim": int(vectors.shape[1]),
        "model": encoder.model_id,
        "bytes": sum(p.stat().st_size for p in folder.iterdir()),
        "seconds": round(time.perf_counter() - start, 2),
    }


def _encoder_for(built_with: str, model: str | None, folder: Path):
    """The encoder an index was built with; a different ``model`` is an error."""
    from ch04_embeddings.encoder import DEFAULT_MODEL, load_encoder, resolve_model

    wanted = built_with if model is None else resolve_model(model)[1]
    if wanted != built_with:
        raise UserError(
            f"the index at {folder} was built with {built_with}, not {wanted}: "
            "query it with the same model or rebuild it"
        )
    if not Path(built_with).is_dir() and built_with != DEFAULT_MODEL:
        raise UserError(f"the index was built with {built_with}, which is not available here")
    return load_encoder(None if built_with == DEFAULT_MODEL else built_with)


class SearchIndex:
    """An index folder written by :func:`build_index`, opened for queries."""

    def __init__(self, folder: str | Path, encoder=None, model: str | None = None) -> None:
        import faiss

        self.folder = Path(folder)
        meta_path = self.folder / "index.json"
        if not self.folder.is_dir():
            raise UserError(f"no index at {self.folder}: build one with `ch04-embeddings index`")
        if not meta_path.is_file():
            raise UserError(f"{self.folder} is not an index folder (no index.json)")
        self.meta = json.loads(meta_path.read_text())
        if encoder is None:
            encoder = _encoder_for(self.meta["model"], model, self.folder)
        if encoder.model_id != self.meta["model"] or encoder.dim != self.meta["dim"]:
            raise UserError(
                f"the index at {self.folder} was built with {self.meta['model']} "
                f"({self.meta['dim']} dims), not {encoder.model_id} ({encoder.dim} dims): "
                "query it with the same model or rebuild it"
            )
        self.encoder = encoder
        self.index = faiss.read_index(str(self.folder / "index.faiss"))
        cfg = self.meta["config"]
        if cfg["kind"] == "ivf":
            self.index.nprobe = cfg["nprobe"]
        elif cfg["kind"] == "hnsw":
            self.index.hnsw.efSearch = cfg["ef_search"]
        self.passages = _read_jsonl(self.folder / "passages.jsonl")
        self.documents = {d["id"]: d for d in _read_jsonl(self.folder / "documents.jsonl")}

    @property
    def kind(self) -> str:
        return self.meta["config"]["kind"]

    def search(
        self,
        query: str,
        k: int = 5,
        filters: dict[str, Any] | None = None,
        sort: str = "score",
    ) -> list[Hit]:
        """The ``k`` best documents for ``query`` (optionally filtered, then sorted)."""
        if not query.strip():
            raise UserError("the query is empty")
        if k < 1:
            raise UserError("--k must be at least 1")
        q = self.encoder.encode([query])
        return self.search_vector(q[0], k, filters, sort)

    def search_vector(
        self, q: np.ndarray, k: int, filters: dict[str, Any] | None = None, sort: str = "score"
    ) -> list[Hit]:
        """:meth:`search` for an already embedded query."""
        n = self.index.ntotal
        # over-fetch: several passages may belong to one document, and filters drop rows
        fetch = n if filters else min(n, k * 4 if len(self.passages) > len(self.documents) else k)
        scores, rows = self.index.search(np.asarray(q, np.float32)[None], fetch)
        best: dict[str, Hit] = {}
        for score, row in zip(scores[0], rows[0], strict=True):
            if row < 0:
                continue
            passage = self.passages[row]
            doc = self.documents[passage["doc"]]
            if passage["doc"] in best or not matches(doc["metadata"], filters):
                continue
            text = doc["text"] if passage["whole"] else passage["text"]
            best[passage["doc"]] = Hit(passage["doc"], text, float(score), doc["metadata"])
        hits = sorted(best.values(), key=lambda h: -h.score)[:k]
        if sort == "year":
            hits.sort(key=lambda h: (-(h.metadata.get("year") or 0), -h.score))
        elif sort != "score":
            raise UserError(f"unknown --sort {sort!r}: use score or year")
        return hits


__all__ = ["KINDS", "Hit", "IndexConfig", "SearchIndex", "build_index", "make_faiss_index"]
