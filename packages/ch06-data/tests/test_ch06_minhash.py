"""MinHash and LSH held to datasketch: same signatures, same (b, r), same candidate pairs."""

from __future__ import annotations

import numpy as np
import pytest
from datasketch import MinHash, MinHashLSH

from ch06_data.corpus import pair_metrics, planted_corpus
from ch06_data.dedup import verified_pairs
from ch06_data.lsh import buckets, candidate_pairs, collision_probability, optimal_params
from ch06_data.minhash import MinHasher, shingle_hash, shingles

TEXTS = [
    "The quick brown fox jumps over the lazy dog while the cat watches from the fence.",
    "short text",
    "",
    "Ünïcödé wörds, ÇAPITALS and punctuation!!! all normalised the same way, twice over.",
]


def _datasketch(text: str, num_perm: int, seed: int, hashfunc=None) -> MinHash:
    kw = {"hashfunc": hashfunc} if hashfunc else {}
    m = MinHash(num_perm=num_perm, seed=seed, **kw)
    for s in shingles(text):
        m.update(s.encode("utf-8"))
    return m


@pytest.mark.parametrize("hashing", ["sha1", "words"])
def test_signatures_equal_datasketch(hashing):
    ours = MinHasher(num_perm=96, seed=7, hashing=hashing).signatures(TEXTS)
    hashfunc = shingle_hash if hashing == "words" else None
    for text, sig in zip(TEXTS, ours, strict=True):
        ref = _datasketch(text, 96, 7, hashfunc).hashvalues
        assert ref.dtype == sig.dtype
        np.testing.assert_array_equal(sig, ref)


def test_different_seed_gives_different_signature():
    a = MinHasher(num_perm=32, seed=1).signatures(TEXTS[:1])
    b = MinHasher(num_perm=32, seed=2).signatures(TEXTS[:1])
    assert (a != b).mean() > 0.8


@pytest.mark.parametrize("threshold", [0.5, 0.8, 0.9])
def test_band_rows_equal_datasketch(threshold):
    lsh = MinHashLSH(threshold=threshold, num_perm=128)
    assert optimal_params(threshold, 128) == (lsh.b, lsh.r)


def test_s_curve_formula():
    b, r = optimal_params(0.8, 128)
    assert collision_probability(0.0, b, r) == 0.0
    assert collision_probability(1.0, b, r) == 1.0
    # the steep part sits near (1/b)^(1/r)
    assert abs(collision_probability((1 / b) ** (1 / r), b, r) - (1 - (1 - 1 / b) ** b)) < 1e-9


@pytest.fixture(scope="module")
def planted():
    corpus = planted_corpus(n_base=300, copies_per_level=12, seed=3)
    texts = [r["text"] for r in corpus.records]
    return corpus, texts, MinHasher(seed=1).signatures(texts)


def test_candidate_pairs_equal_datasketch_lsh(planted):
    _, texts, sigs = planted
    b, r = optimal_params(0.8, 128)
    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    mhs = [_datasketch(t, 128, 1, shingle_hash) for t in texts]
    for i, m in enumerate(mhs):
        lsh.insert(i, m)
    ref = {(min(i, j), max(i, j)) for i, m in enumerate(mhs) for j in lsh.query(m) if j != i}
    ours = candidate_pairs(sigs, b, r)
    assert len(ours) > 20
    assert ours == ref


def test_precision_recall_side_by_side_with_datasketch(planted):
    corpus, texts, sigs = planted
    b, r = optimal_params(0.8, 128)
    ours = set()
    for group in buckets(sigs, b, r):
        ours |= set(verified_pairs(group.tolist(), sigs[group], 0.8))
    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    mhs = [_datasketch(t, 128, 1, shingle_hash) for t in texts]
    for i, m in enumerate(mhs):
        lsh.insert(i, m)
    ref = {
        (min(i, j), max(i, j))
        for i, m in enumerate(mhs)
        for j in lsh.query(m)
        if j != i and m.jaccard(mhs[j]) >= 0.8
    }
    assert ours == ref
    metrics = pair_metrics(ours, corpus, 0.8)
    assert metrics["recall"] >= 0.95 and metrics["precision"] >= 0.95
    # the planted pairs below the threshold are not reported
    low = {(a, c) for a, c, s in corpus.pairs if s < 0.75}
    assert not ours & low
