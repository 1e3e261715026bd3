"""Vector search from scratch: exact top-k, an IVF index and an HNSW graph (inner product).

All three take unit-length float32 rows, so the inner product is the cosine similarity.

- :class:`ExactIndex` scores every vector (``X @ q``) and keeps the top k: the ground truth that
  FAISS's ``IndexFlatIP`` also computes.
- :class:`IVFIndex` (Jégou et al., 2011; FAISS's ``IndexIVFFlat``): spherical k-means splits the
  vectors into ``nlist`` cells; a query scans only the ``nprobe`` cells whose centroids are
  closest. Fewer cells scanned = faster and less recall.
- :class:`HNSWIndex` (Malkov & Yashunin, 2018; FAISS's ``IndexHNSWFlat``): a layered proximity
  graph. Each vector gets a random top layer (``P(level >= l) = M^-l``); search descends greedily
  through the sparse upper layers, then runs a best-first search keeping ``ef`` candidates on the
  dense bottom layer. Neighbours are chosen with the paper's diversity heuristic (keep a candidate
  only if it is closer to the new node than to every neighbour already kept), ``M`` per node on
  upper layers and ``2M`` on layer 0.
"""

from __future__ import annotations

import heapq
import math

import numpy as np


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the ``k`` largest scores, best first (ties: lower index first)."""
    k = min(k, scores.shape[-1])
    if k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    part = np.argpartition(-scores, k - 1)[:k] if k < scores.shape[-1] else np.arange(len(scores))
    order = np.lexsort((part, -scores[part]))
    idx = part[order]
    return idx.astype(np.int64), scores[idx]


class ExactIndex:
    """Brute-force inner-product search."""

    def __init__(self, vectors: np.ndarray) -> None:
        self.x = np.ascontiguousarray(vectors, dtype=np.float32)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(scores, ids)`` of shape ``(len(queries), k)``, like FAISS."""
        q = np.atleast_2d(queries).astype(np.float32)
        all_scores = q @ self.x.T
        ids = np.full((len(q), k), -1, dtype=np.int64)
        scores = np.full((len(q), k), -np.inf, dtype=np.float32)
        for row, s in enumerate(all_scores):
            i, v = top_k(s, k)
            ids[row, : len(i)], scores[row, : len(i)] = i, v
        return scores, ids


def spherical_kmeans(x: np.ndarray, k: int, iters: int = 20, seed: int = 0) -> np.ndarray:
    """``k`` unit-length centroids maximising the summed cosine of each vector to its centroid."""
    rng = np.random.default_rng(seed)
    centroids = x[rng.choice(len(x), size=k, replace=False)].copy()
    for _ in range(iters):
        assign = np.argmax(x @ centroids.T, axis=1)
        sums = np.zeros_like(centroids)
        np.add.at(sums, assign, x)
        empty = np.linalg.norm(sums, axis=1) == 0
        # an empty cell restarts at a random vector, as FAISS splits a big cell
        sums[empty] = x[rng.choice(len(x), size=int(empty.sum()), replace=False)]
        centroids = sums / np.linalg.norm(sums, axis=1, keepdims=True)
    return centroids.astype(np.float32)


class IVFIndex:
    """Inverted-file index: k-means cells, scan ``nprobe`` of them per query."""

    def __init__(self, vectors: np.ndarray, nlist: int = 16, seed: int = 0) -> None:
        self.x = np.ascontiguousarray(vectors, dtype=np.float32)
        self.nlist = min(nlist, len(self.x))
        self.centroids = spherical_kmeans(self.x, self.nlist, seed=seed)
        assign = np.argmax(self.x @ self.centroids.T, axis=1)
        self.lists = [np.flatnonzero(assign == c) for c in range(self.nlist)]
        self.nprobe = 1

    def search(
        self, queries: np.ndarray, k: int, nprobe: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        nprobe = min(nprobe or self.nprobe, self.nlist)
        q = np.atleast_2d(queries).astype(np.float32)
        ids = np.full((len(q), k), -1, dtype=np.int64)
        scores = np.full((len(q), k), -np.inf, dtype=np.float32)
        cells = np.argsort(-(q @ self.centroids.T), axis=1)[:, :nprobe]
        for row in range(len(q)):
            cand = np.concatenate([self.lists[c] for c in cells[row]])
            i, v = top_k(self.x[cand] @ q[row], k)
            ids[row, : len(i)], scores[row, : len(i)] = cand[i], v
        return scores, ids


class HNSWIndex:
    """Hierarchical navigable small-world graph over inner product."""

    def __init__(
        self, vectors: np.ndarray, m: int = 16, ef_construction: int = 40, seed: int = 0
    ) -> None:
        self.x = np.ascontiguousarray(vectors, dtype=np.float32)
        self.m = m
        self.ef_construction = ef_construction
        self.ef_search = 16
        self.rng = np.random.default_rng(seed)
        self.level_mult = 1 / math.log(m)
        self.graph: list[dict[int, list[int]]] = []  # graph[layer][node] = neighbours
        self.entry = -1
        self.top = -1
        for node in range(len(self.x)):
            self._insert(node)

    def _capacity(self, layer: int) -> int:
        return 2 * self.m if layer == 0 else self.m

    def _search_layer(self, q: np.ndarray, entries: list[int], ef: int, layer: int) -> list:
        """Best-first search: up to ``ef`` ``(similarity, node)`` pairs, best first."""
        links = self.graph[layer]
        visited = set(entries)
        sims = self.x[entries] @ q
        candidates = [(-float(s), e) for s, e in zip(sims, entries, strict=True)]
        heapq.heapify(candidates)
        best = [
            (float(s), e) for s, e in zip(sims, entries, strict=True)
        ]  # min-heap of the ef best
        heapq.heapify(best)
        while len(best) > ef:
            heapq.heappop(best)
        while candidates:
            neg, node = heapq.heappop(candidates)
            if -neg < best[0][0] and len(best) >= ef:
                break
            fresh = [n for n in links.get(node, ()) if n not in visited]
            if not fresh:
                continue
            visited.update(fresh)
            for s, n in zip(self.x[fresh] @ q, fresh, strict=True):
                s = float(s)
                if len(best) < ef or s > best[0][0]:
                    heapq.heappush(candidates, (-s, n))
                    heapq.heappush(best, (s, n))
                    if len(best) > ef:
                        heapq.heappop(best)
        return sorted(best, reverse=True)

    def _select(self, candidates: list, limit: int) -> list[int]:
        """The diversity heuristic over ``(similarity, node)`` pairs sorted best first."""
        kept: list[int] = []
        for sim, node in candidates:
            if len(kept) >= limit:
                break
            if not kept or np.all(self.x[kept] @ self.x[node] < sim):
                kept.append(node)
        return kept

    def _insert(self, node: int) -> None:
        level = int(-math.log(1.0 - self.rng.random()) * self.level_mult)
        while len(self.graph) <= level:
            self.graph.append({})
        for layer in range(level + 1):
            self.graph[layer][node] = []
        if self.entry < 0:
            self.entry, self.top = node, level
            return
        q = self.x[node]
        entry = [self.entry]
        for layer in range(self.top, level, -1):
            entry = [self._search_layer(q, entry, 1, layer)[0][1]]
        for layer in range(min(level, self.top), -1, -1):
            found = self._search_layer(q, entry, self.ef_construction, layer)
            neighbours = self._select(found, self.m)
            self.graph[layer][node] = neighbours
            cap = self._capacity(layer)
            for other in neighbours:
                links = self.graph[layer][other]
                links.append(node)
                if len(links) > cap:
                    sims = self.x[links] @ self.x[other]
                    ranked = sorted(zip(sims.tolist(), links, strict=True), reverse=True)
                    self.graph[layer][other] = self._select(ranked, cap)
            entry = [n for _, n in found]
        if level > self.top:
            self.entry, self.top = node, level

    def search(
        self, queries: np.ndarray, k: int, ef: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        ef = max(ef or self.ef_search, k)
        q = np.atleast_2d(queries).astype(np.float32)
        ids = np.full((len(q), k), -1, dtype=np.int64)
        scores = np.full((len(q), k), -np.inf, dtype=np.float32)
        for row in range(len(q)):
            entry = [self.entry]
            for layer in range(self.top, 0, -1):
                entry = [self._search_layer(q[row], entry, 1, layer)[0][1]]
            found = self._search_layer(q[row], entry, ef, 0)[:k]
            for col, (s, n) in enumerate(found):
                ids[row, col], scores[row, col] = n, s
        return scores, ids


def recall_at_k(found: np.ndarray, truth: np.ndarray, k: int) -> float:
    """Mean fraction of each query's true top-k ids that ``found``'s top-k contains."""
    hits = [
        len(set(f[:k].tolist()) & set(t[:k].tolist())) for f, t in zip(found, truth, strict=True)
    ]
    return float(np.mean(hits) / k)


__all__ = ["ExactIndex", "HNSWIndex", "IVFIndex", "recall_at_k", "spherical_kmeans", "top_k"]
