"""BM25 from scratch, in the five variants of Kamphuis et al. (ECIR 2020) that ``bm25s`` ships.

    score(q, d) = sum over query tokens t of  idf(t) * tfc(tf(t, d), |d|)

==========  =====================================  ===========================================
variant     idf(t)                                 tfc(tf, |d|), with L = 1 - b + b |d| / avgdl
==========  =====================================  ===========================================
robertson   log((N - df + .5) / (df + .5)), >= 0   tf / (k1 L + tf)
lucene      log(1 + (N - df + .5) / (df + .5))     tf / (k1 L + tf)
atire       log(N / df)                            (k1 + 1) tf / (k1 L + tf)
bm25l       log((N + 1) / (df + .5))               (k1 + 1)(tf/L + delta) / (k1 + tf/L + delta)
bm25+       log((N + 1) / df)                      (k1 + 1) tf / (k1 L + tf) + delta
okapi       robertson idf                          atire tfc   (rank-bm25's ``BM25Okapi``)
==========  =====================================  ===========================================

For bm25l and bm25+ a document without the term still scores ``idf * tfc(0)`` (as in both
``bm25s`` and ``rank-bm25``). Tokenization is ``bm25s.tokenize``'s: lower case, the regex
``(?u)\\b\\w\\w+\\b``, English stop words removed.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

VARIANTS = ("lucene", "robertson", "atire", "bm25l", "bm25+", "okapi")
TOKEN_PATTERN = re.compile(r"(?u)\b\w\w+\b")


def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


def tokenize(text: str, stopwords: frozenset[str] | None = None) -> list[str]:
    """Lower-cased word tokens of 2+ characters, stop words dropped."""
    stop = _STOP if stopwords is None else stopwords
    return [t for t in TOKEN_PATTERN.findall(text.lower()) if t not in stop]


_STOP = _stopwords()


def idf(variant: str, df: int, n: int) -> float:
    if variant in ("robertson", "okapi"):
        return math.log(max((n - df + 0.5) / (df + 0.5), 1.0))
    if variant == "lucene":
        return math.log(1 + (n - df + 0.5) / (df + 0.5))
    if variant == "atire":
        return math.log(n / df)
    if variant == "bm25l":
        return math.log((n + 1) / (df + 0.5))
    if variant == "bm25+":
        return math.log((n + 1) / df)
    raise ValueError(f"unknown BM25 variant {variant!r}: use one of {VARIANTS}")


def tfc(variant: str, tf, length, avg: float, k1: float, b: float, delta: float):
    norm = 1 - b + b * length / avg
    if variant in ("robertson", "lucene"):
        return tf / (k1 * norm + tf)
    if variant in ("atire", "okapi"):
        return tf * (k1 + 1) / (k1 * norm + tf)
    if variant == "bm25l":
        c = tf / norm
        return (k1 + 1) * (c + delta) / (k1 + c + delta)
    if variant == "bm25+":
        return (k1 + 1) * tf / (k1 * norm + tf) + delta
    raise ValueError(f"unknown BM25 variant {variant!r}: use one of {VARIANTS}")


@dataclass
class BM25:
    """An inverted index with precomputed per-posting scores; ``scores(query)`` sums them."""

    variant: str = "lucene"
    k1: float = 1.5
    b: float = 0.75
    delta: float = 0.5

    def index(self, corpus: list[list[str]]) -> BM25:
        """Index pre-tokenized documents (see :func:`tokenize`)."""
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown BM25 variant {self.variant!r}: use one of {VARIANTS}")
        self.n_docs = len(corpus)
        lengths = np.array([len(doc) for doc in corpus], dtype=np.float64)
        self.avg_len = float(lengths.mean()) if len(corpus) else 1.0
        postings: dict[str, tuple[list[int], list[int]]] = {}
        for i, doc in enumerate(corpus):
            for term, count in Counter(doc).items():
                docs, tfs = postings.setdefault(term, ([], []))
                docs.append(i)
                tfs.append(count)
        self.postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.absent: dict[str, float] = {}
        args = (self.avg_len, self.k1, self.b, self.delta)
        for term, (docs, tfs) in postings.items():
            ids = np.array(docs, dtype=np.int64)
            weight = idf(self.variant, len(docs), self.n_docs)
            scores = weight * tfc(self.variant, np.array(tfs, np.float64), lengths[ids], *args)
            base = 0.0
            if self.variant in ("bm25l", "bm25+"):
                base = weight * float(tfc(self.variant, 0.0, self.avg_len, *args))
                scores = scores - base
            self.postings[term] = (ids, scores)
            self.absent[term] = base
        return self

    def scores(self, query: list[str]) -> np.ndarray:
        """Scores of every document for a tokenized query (unknown tokens add nothing)."""
        out = np.zeros(self.n_docs, dtype=np.float64)
        for term in query:
            if term in self.postings:
                ids, scores = self.postings[term]
                np.add.at(out, ids, scores)
                out += self.absent[term]
        return out

    def top_k(self, query: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """(indices, scores) of the ``k`` best documents, best first (ties by index)."""
        scores = self.scores(query)
        k = min(k, len(scores))
        order = np.lexsort((np.arange(len(scores)), -scores))[:k]
        return order, scores[order]


__all__ = ["BM25", "VARIANTS", "idf", "tfc", "tokenize"]
