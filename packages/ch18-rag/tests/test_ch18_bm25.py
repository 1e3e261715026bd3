"""BM25 from scratch held to bm25s (all five variants) and rank-bm25 (Okapi, BM25+)."""

from __future__ import annotations

import bm25s
import numpy as np
import pytest
import rank_bm25

from ch18_rag.bm25 import BM25, tokenize
from ch18_rag.documents import pydoc_documents

DOCS = [d.text for d in pydoc_documents()[:30]]
QUERIES = [
    "assert statement debugging",
    "augmented assignment operator",
    "await coroutine",
    "binary arithmetic operations",
    "class attribute reference",
]


def test_tokenization_matches_bm25s():
    ours = [tokenize(d) for d in DOCS[:5]]
    theirs = bm25s.tokenize(DOCS[:5], stopwords="en", return_ids=False, show_progress=False)
    assert ours == theirs


@pytest.mark.parametrize("variant", ["lucene", "robertson", "atire", "bm25l", "bm25+"])
def test_scores_equal_bm25s(variant):
    corpus = [tokenize(d) for d in DOCS]
    ours = BM25(variant=variant, k1=1.2, b=0.7, delta=0.5).index(corpus)
    ref = bm25s.BM25(method=variant, k1=1.2, b=0.7, delta=0.5)
    ref.index(corpus, show_progress=False)
    for q in QUERIES:
        tokens = [t for t in tokenize(q) if t in ours.postings]
        np.testing.assert_allclose(
            ours.scores(tokens), ref.get_scores(tokens), rtol=2e-5, atol=2e-5
        )  # bm25s keeps float32


@pytest.mark.parametrize(
    ("variant", "cls"),
    [("okapi", rank_bm25.BM25Okapi), ("bm25+", rank_bm25.BM25Plus)],
)
def test_scores_equal_rank_bm25(variant, cls):
    """rank-bm25's BM25L multiplies its term by tf once more than Lv & Zhai's BM25L (and bm25s),
    so the variants agree only for Okapi and BM25+."""
    corpus = [tokenize(d) for d in DOCS]
    ours = BM25(variant=variant, k1=1.5, b=0.75, delta=1.0).index(corpus)
    kwargs = {"delta": 1.0} if variant != "okapi" else {"epsilon": 0.25}
    ref = cls(corpus, k1=1.5, b=0.75, **kwargs)
    for q in QUERIES:
        tokens = tokenize(q)
        # Okapi agrees where every idf is positive (rank-bm25 floors negatives with epsilon)
        assert all(ours.postings[t][0].size < len(DOCS) / 2 for t in tokens if t in ours.postings)
        np.testing.assert_allclose(ours.scores(tokens), ref.get_scores(tokens), rtol=1e-9)


def test_top_k_orders_by_score():
    bm = BM25().index([tokenize(d) for d in DOCS])
    ids, scores = bm.top_k(tokenize("assert statement"), 3)
    assert ids[0] == 0 and list(scores) == sorted(scores, reverse=True)
