"""Embedding compression and the recall it costs: PCA, int8 scalar quantisation, binary codes.

- **PCA** keeps the top principal directions (fit on the corpus), then re-normalises.
- **int8**: each dimension mapped linearly from its corpus [min, max] to 0..255 (4x smaller);
  scores are inner products of the dequantised vectors.
- **binary**: one sign bit per dimension (32x smaller); scores are ``dim - 2 * Hamming``.

Recall@k is measured against exact float32 search on the same queries.
"""

from __future__ import annotations

import numpy as np


def pca_compress(docs: np.ndarray, queries: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    mean = docs.mean(0)
    _, _, vt = np.linalg.svd(docs - mean, full_matrices=False)
    basis = vt[:dim].T

    def project(x: np.ndarray) -> np.ndarray:
        y = (x - mean) @ basis
        return y / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12)

    return project(docs), project(queries)


def int8_compress(docs: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    low, high = docs.min(0), docs.max(0)
    step = np.maximum(high - low, 1e-12) / 255
    codes = np.clip(np.round((docs - low) / step), 0, 255).astype(np.uint8)
    return codes.astype(np.float32) * step + low, queries


def binary_scores(docs: np.ndarray, queries: np.ndarray) -> np.ndarray:
    d = np.packbits(docs > 0, axis=1)
    q = np.packbits(queries > 0, axis=1)
    hamming = np.unpackbits(q[:, None, :] ^ d[None, :, :], axis=2).sum(2)
    return docs.shape[1] - 2.0 * hamming


def compression_table(docs: np.ndarray, queries: np.ndarray, k: int = 10) -> list[dict]:
    """Bytes per vector and recall@k vs exact float32 search, for each scheme."""
    k = min(k, len(docs))
    truth = np.argsort(-(queries @ docs.T), axis=1)[:, :k]

    def recall(scores: np.ndarray) -> float:
        top = np.argsort(-scores, axis=1)[:, :k]
        return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(top, truth, strict=True)]))

    dim = docs.shape[1]
    rows = [{"scheme": "float32", "bytes": 4 * dim, "recall": 1.0}]
    for target in (128, 64):
        if target < dim:
            d, q = pca_compress(docs, queries, target)
            rows.append({"scheme": f"pca-{target}", "bytes": 4 * target, "recall": recall(q @ d.T)})
    d, q = int8_compress(docs, queries)
    rows.append({"scheme": "int8", "bytes": dim, "recall": recall(q @ d.T)})
    rows.append(
        {"scheme": "binary", "bytes": dim // 8, "recall": recall(binary_scores(docs, queries))}
    )
    return rows


__all__ = ["binary_scores", "compression_table", "int8_compress", "pca_compress"]
