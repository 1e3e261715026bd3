"""FAISS at scale: build throughput, single-query latency p50/p99 and recall@10 against flat.

Embedding 100k chunks with MiniLM on 2 CPU cores takes too long for a benchmark run, so the
vectors are synthetic but shaped like sentence embeddings: unit vectors drawn around 200 topic
centres (a Gaussian mixture in 384 dimensions), queries drawn from the same mixture.
"""

from __future__ import annotations

import time

import numpy as np

from ch18_rag.store import FaissConfig, build_faiss


def clustered_vectors(
    n: int, dim: int = 384, centres: int = 200, spread: float = 0.6, seed: int = 0
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centres, dim)).astype(np.float32)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    x = c[rng.integers(0, centres, n)] + spread * rng.standard_normal((n, dim)).astype(
        np.float32
    ) / np.sqrt(dim)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def recall_at_k(found: np.ndarray, truth: np.ndarray, k: int = 10) -> float:
    return float(
        np.mean([len(set(f[:k]) & set(t[:k])) / k for f, t in zip(found, truth, strict=True)])
    )


def faiss_scale_bench(n: int, n_queries: int = 200, k: int = 10, seed: int = 0) -> list[dict]:
    """One row per index kind at ``n`` vectors."""
    data = clustered_vectors(n + n_queries, seed=seed)
    base, queries = data[:n], data[n:]
    rows, truth = [], None
    for kind in ("flat", "hnsw", "ivf"):
        t0 = time.perf_counter()
        index = build_faiss(base, FaissConfig(kind=kind))
        build = time.perf_counter() - t0
        latencies, found = [], []
        for q in queries:
            t = time.perf_counter()
            _, ids = index.search(q[None, :], k)
            latencies.append(time.perf_counter() - t)
            found.append(ids[0])
        found = np.array(found)
        if truth is None:
            truth = found
        rows.append(
            {
                "n": n,
                "index": kind,
                "build s": round(build, 2),
                "vectors/s": int(n / build) if build > 0 else 0,
                "p50 ms": round(1000 * float(np.percentile(latencies, 50)), 3),
                "p99 ms": round(1000 * float(np.percentile(latencies, 99)), 3),
                "recall@10": round(recall_at_k(found, truth, k), 4),
            }
        )
    return rows


__all__ = ["clustered_vectors", "faiss_scale_bench", "recall_at_k"]
