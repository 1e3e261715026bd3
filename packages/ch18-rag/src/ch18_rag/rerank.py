"""Reranking a candidate list.

``LateInteractionReranker`` is ColBERT's MaxSim (Khattab & Zaharia 2020) over the token
embeddings of the same MiniLM that embeds the chunks: every query token finds its most similar
passage token, and the passage scores the mean of those maxima

    s(q, d) = 1/|q| * sum_i max_j  <q_i, d_j>        (unit-length token vectors)

It needs no second model; passage token vectors are cached in memory by text. Any
sentence-transformers cross-encoder folder can be given instead (``CrossEncoderReranker``).
"""

from __future__ import annotations

import os

import numpy as np

from ch18_rag.embeddings import Embedder


def maxsim(query_tokens: np.ndarray, doc_tokens: np.ndarray) -> float:
    """Mean over query tokens of the best inner product with any document token."""
    return float((query_tokens @ doc_tokens.T).max(axis=1).mean())


class LateInteractionReranker:
    def __init__(self, embedder: Embedder, cache_size: int = 4096) -> None:
        self.embedder = embedder
        self.cache: dict[str, np.ndarray] = {}
        self.cache_size = cache_size

    def _tokens(self, texts: list[str]) -> list[np.ndarray]:
        todo = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if todo:
            if len(self.cache) + len(todo) > self.cache_size:
                self.cache.clear()
            for text, vecs in zip(todo, self.embedder.token_embeddings(todo), strict=True):
                self.cache[text] = vecs
        return [self.cache[t] for t in texts]

    def score(self, query: str, texts: list[str]) -> list[float]:
        q = self.embedder.token_embeddings([query])[0]
        return [maxsim(q, d) for d in self._tokens(texts)]


class CrossEncoderReranker:
    """A sentence-transformers ``CrossEncoder`` from a local folder (or hub id, online)."""

    def __init__(self, model: str | os.PathLike, device: str = "cpu") -> None:
        from sentence_transformers import CrossEncoder

        self.model = CrossEncoder(str(model), device=device)

    def score(self, query: str, texts: list[str]) -> list[float]:
        scores = self.model.predict([(query, t) for t in texts], show_progress_bar=False)
        return [float(s) for s in np.asarray(scores).reshape(len(texts), -1)[:, -1]]


__all__ = ["CrossEncoderReranker", "LateInteractionReranker", "maxsim"]
