"""Our exact, IVF and HNSW search against FAISS at matched settings."""

from __future__ import annotations

import numpy as np
import pytest

from ch04_embeddings.ann import ExactIndex, HNSWIndex, IVFIndex, recall_at_k


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    d, n = 32, 1000
    centres = rng.normal(size=(30, d))

    def sample(m):
        x = centres[rng.integers(0, 30, m)] + 1.0 * rng.normal(size=(m, d))
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    return sample(n), sample(100)


@pytest.fixture(scope="module")
def truth(data):
    import faiss

    x, q = data
    flat = faiss.IndexFlatIP(x.shape[1])
    flat.add(x)
    return flat.search(q, 10)


def test_exact_equals_faiss_flat(data, truth):
    scores, ids = ExactIndex(data[0]).search(data[1], 10)
    assert (ids == truth[1]).all()
    assert np.abs(scores - truth[0]).max() < 1e-5


@pytest.mark.parametrize("nprobe", [1, 3])
def test_ivf_recall_matches_faiss(data, truth, nprobe):
    import faiss

    x, q = data
    ours = recall_at_k(IVFIndex(x, nlist=24).search(q, 10, nprobe)[1], truth[1], 10)
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(32), 32, 24, faiss.METRIC_INNER_PRODUCT)
    ivf.train(x)
    ivf.add(x)
    ivf.nprobe = nprobe
    theirs = recall_at_k(ivf.search(q, 10)[1], truth[1], 10)
    assert ours < 0.99  # approximate: the test would not tell a broken index from exact search
    assert abs(ours - theirs) <= 0.02, (ours, theirs)


def test_hnsw_recall_matches_faiss(data, truth):
    import faiss

    x, q = data
    ours_index = HNSWIndex(x, m=8, ef_construction=32)
    h = faiss.IndexHNSWFlat(32, 8, faiss.METRIC_INNER_PRODUCT)
    h.hnsw.efConstruction = 32
    h.add(x)
    for ef in (10, 40):
        h.hnsw.efSearch = ef
        ours = recall_at_k(ours_index.search(q, 10, ef)[1], truth[1], 10)
        theirs = recall_at_k(h.search(q, 10)[1], truth[1], 10)
        assert abs(ours - theirs) <= 0.02, (ef, ours, theirs)
    assert ours > recall_at_k(ours_index.search(q, 10, 10)[1], truth[1], 10) - 1e-9
