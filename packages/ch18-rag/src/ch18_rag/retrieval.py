"""Retrieval over an index: BM25, dense, hybrid (RRF or weighted scores), reranked hybrid.

* dense  -- the query's MiniLM vector against FAISS (cosine, since all vectors are unit length);
* bm25   -- :class:`ch18_rag.bm25.BM25` (Lucene variant) over the chunk texts;
* hybrid -- a weighted sum of min-max-normalised scores (default: ``0.3 dense + 0.7 BM25``, the
  best on the pydoc eval set), or reciprocal-rank fusion, ``sum 1 / (60 + rank)`` over both lists
  (Cormack et al. 2009, ``fusion="rrf"``);
* hybrid-rerank -- the hybrid candidates re-scored by late interaction over MiniLM token
  embeddings (ColBERT's MaxSim) or by a cross-encoder folder (:mod:`ch18_rag.rerank`).

Metadata filters apply to every mode (SQL for BM25's candidates, a FAISS ID selector for dense).
Query expansion: ``queries`` (multi-query, e.g. paraphrases from a generator) are fused by RRF;
``hyde`` text (a generator's hypothetical answer) is embedded in place of the question.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ch18_rag.bm25 import tokenize
from ch18_rag.index import RagIndex
from ch18_rag.store import faiss_search
from llmpath_core import UserError

MODES = ("bm25", "dense", "hybrid", "hybrid-rerank")
RRF_K = 60


@dataclass
class Hit:
    chunk_id: str
    source: str
    score: float
    text: str
    position: int = -1
    metadata: dict[str, Any] | None = None
    parent_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "chunk_id": self.chunk_id,
            "source": self.source,
            "score": round(float(self.score), 6),
            "text": self.text,
        }


def rrf(rankings: list[list[int]], k: int = RRF_K) -> dict[int, float]:
    """Reciprocal-rank fusion of ranked position lists."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, pos in enumerate(ranking, 1):
            fused[pos] = fused.get(pos, 0.0) + 1.0 / (k + rank)
    return fused


def weighted(scored: list[dict[int, float]], weights: list[float]) -> dict[int, float]:
    """Weighted sum of min-max-normalised scores (missing = the list's minimum -> 0)."""
    fused: dict[int, float] = {}
    for scores, w in zip(scored, weights, strict=True):
        if not scores:
            continue
        lo, hi = min(scores.values()), max(scores.values())
        for pos, s in scores.items():
            fused[pos] = fused.get(pos, 0.0) + w * ((s - lo) / (hi - lo) if hi > lo else 1.0)
    return fused


def _top(scores: dict[int, float], k: int) -> list[tuple[int, float]]:
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:k]


class Retriever:
    """Search one :class:`RagIndex` in any mode."""

    def __init__(self, index: RagIndex, reranker=None) -> None:
        self.index = index
        self._reranker = reranker

    @property
    def reranker(self):
        if self._reranker is None:
            from ch18_rag.rerank import LateInteractionReranker

            self._reranker = LateInteractionReranker(self.index.embedder)
        return self._reranker

    def dense_scores(
        self, query: str, k: int, filters=None, vector: np.ndarray | None = None
    ) -> dict[int, float]:
        allowed = self.index.table.allowed(filters)
        if allowed is not None and len(allowed) == 0:
            return {}
        q = vector if vector is not None else self.index.embedder.encode([query])[0]
        ids, scores = faiss_search(self.index.faiss, q, k, allowed)
        return {int(i): float(s) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0}

    def bm25_scores(self, query: str, k: int, filters=None) -> dict[int, float]:
        scores = self.index.bm25.scores(tokenize(query))
        allowed = self.index.table.allowed(filters)
        if allowed is not None:
            mask = np.full(len(scores), -np.inf)
            mask[allowed] = 0.0
            scores = scores + mask
        order = np.lexsort((np.arange(len(scores)), -scores))[:k]
        return {int(i): float(scores[i]) for i in order if np.isfinite(scores[i]) and scores[i] > 0}

    def search(
        self,
        query: str,
        k: int = 5,
        mode: str = "hybrid",
        *,
        filters: dict[str, Any] | None = None,
        fusion: str = "weighted",
        alpha: float = 0.3,
        candidates: int = 50,
        rerank_depth: int = 20,
        queries: list[str] | None = None,
        hyde: str | None = None,
        return_parents: bool | None = None,
    ) -> list[Hit]:
        """The ``k`` best chunks for ``query`` (see the module docstring for the options)."""
        if not query or not query.strip():
            raise UserError("the query is empty: give a question or keywords")
        if mode not in MODES:
            raise UserError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
        pool = max(candidates, k)
        all_queries = [query, *(queries or [])]
        vector = None
        if hyde:
            vector = self.index.embedder.encode([hyde])[0]
        lists: list[dict[int, float]] = []
        kinds: list[str] = []
        for i, q in enumerate(all_queries):
            if mode in ("bm25", "hybrid", "hybrid-rerank"):
                lists.append(self.bm25_scores(q, pool, filters))
                kinds.append("bm25")
            if mode in ("dense", "hybrid", "hybrid-rerank"):
                lists.append(self.dense_scores(q, pool, filters, vector if i == 0 else None))
                kinds.append("dense")
        if len(lists) == 1:
            scored = lists[0]
        elif fusion == "weighted":
            weights = [alpha if kind == "dense" else 1 - alpha for kind in kinds]
            scored = weighted(lists, weights)
        elif fusion == "rrf":
            scored = rrf([[p for p, _ in _top(s, pool)] for s in lists])
        else:
            raise UserError(f"unknown fusion {fusion!r}: use rrf or weighted")
        ranked = _top(scored, max(rerank_depth, k) if mode == "hybrid-rerank" else k)
        rows = self.index.rows([p for p, _ in ranked])
        hits = [
            Hit(r["chunk_id"], r["source"], s, r["text"], p, r["metadata"], r["parent_id"])
            for (p, s), r in zip(ranked, rows, strict=True)
        ]
        if mode == "hybrid-rerank" and hits:
            scores = self.reranker.score(query, [h.text for h in hits])
            for h, s in zip(hits, scores, strict=True):
                h.score = float(s)
            hits.sort(key=lambda h: (-h.score, h.position))
        if return_parents is None:
            return_parents = self.index.chunking.get("chunker") == "parent"
        if return_parents:
            hits = _parents(self.index, hits)
        return hits[:k]


def _parents(index: RagIndex, hits: list[Hit]) -> list[Hit]:
    """Replace child chunks by their parent's text, keeping the best child's rank and id."""
    out, seen = [], set()
    texts = dict(
        index.table.con.execute(
            "SELECT parent_id, parent_text FROM chunks WHERE parent_id IS NOT NULL"
        ).fetchall()
    )
    for h in hits:
        if h.parent_id is None:
            out.append(h)
        elif h.parent_id not in seen:
            seen.add(h.parent_id)
            h.text = texts[h.parent_id]
            out.append(h)
    return out


def multi_query(generate: Callable[[str], str], question: str, n: int = 3) -> list[str]:
    """Paraphrases of ``question`` from a generator, one per line (multi-query expansion)."""
    prompt = f"Write {n} different search queries for: {question}\nQueries:\n"
    lines = [line.strip(" -*0123456789.") for line in generate(prompt).splitlines()]
    return [line for line in lines if line and line.lower() != question.lower()][:n]


def hyde_passage(generate: Callable[[str], str], question: str) -> str:
    """A hypothetical answer passage (HyDE, Gao et al. 2022) to embed instead of the question."""
    return generate(f"Write a short passage that answers the question.\nQuestion: {question}\n")


__all__ = ["MODES", "Hit", "Retriever", "hyde_passage", "multi_query", "rrf", "weighted"]
