"""Exact and near-duplicate removal over JSONL(.gz) shards, on one machine.

Two passes over the shards, so memory holds signatures, not texts:

1. **exact**: SHA-1 of the normalised text (:func:`~ch06_data.minhash.normalize`); the first
   occurrence survives.
2. **near**: MinHash signatures of the survivors (batched, optionally over worker processes),
   LSH buckets, candidate pairs verified by the signature estimate of Jaccard
   (``>= threshold``), union-find over the verified pairs; each cluster keeps its first document.

The second pass streams the input again and writes the kept records, all fields intact, atomically.
:mod:`ch06_data.spark_dedup` runs the same plan on Spark and gives the same output.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ch06_data.lsh import buckets, optimal_params
from ch06_data.minhash import MinHasher, normalize
from ch06_data.shards import iter_records, write_records
from llmpath_core import UserError

BIG_BUCKET = 64  # buckets larger than this are verified as a star around their first member


@dataclass
class DedupConfig:
    """Near-duplicate settings: Jaccard ``threshold`` on word ``k``-shingles, ``num_perm``."""

    threshold: float = 0.8
    num_perm: int = 128
    k: int = 5
    seed: int = 1
    hashing: str = "words"
    workers: int = 1
    batch_docs: int = 2000

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise UserError(f"--threshold {self.threshold}: must be in (0, 1], e.g. 0.8")
        if self.num_perm < 2:
            raise UserError("num_perm must be at least 2")

    def bands_rows(self) -> tuple[int, int]:
        return optimal_params(self.threshold, self.num_perm)


@dataclass
class DedupReport:
    """What a dedup run did: the funnel and the LSH settings."""

    documents_in: int
    documents_out: int
    exact_duplicates: int
    near_duplicates: int
    clusters: int
    threshold: float
    bands: int
    rows: int
    engine: str
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


class UnionFind:
    """Disjoint sets over ``0..n-1``; the root of a set is always its smallest member."""

    def __init__(self, n: int) -> None:
        self.parent = np.arange(n)

    def find(self, x: int) -> int:
        p = self.parent
        root = x
        while p[root] != root:
            root = p[root]
        while p[x] != root:  # path compression
            p[x], x = root, p[x]
        return int(root)

    def union(self, x: int, y: int) -> None:
        rx, ry = self.find(x), self.find(y)
        if rx != ry:
            lo, hi = (rx, ry) if rx < ry else (ry, rx)
            self.parent[hi] = lo


def exact_key(text: str) -> bytes:
    """The exact-duplicate key: SHA-1 of the normalised text."""
    return hashlib.sha1(normalize(text).encode("utf-8")).digest()


def verified_pairs(
    members: list[int], sigs: np.ndarray, threshold: float
) -> Iterator[tuple[int, int]]:
    """Pairs of one LSH bucket whose estimated Jaccard reaches ``threshold``.

    ``members`` are sorted document ids and ``sigs`` their signatures (same order). Small buckets
    check every pair; a big one (many exact-ish copies) checks each member against the first only.
    """
    if len(members) > BIG_BUCKET:
        est = (sigs[1:] == sigs[0]).mean(axis=1)
        for j in np.flatnonzero(est >= threshold):
            yield members[0], members[j + 1]
        return
    for x in range(len(members) - 1):
        est = (sigs[x + 1 :] == sigs[x]).mean(axis=1)
        for j in np.flatnonzero(est >= threshold):
            yield members[x], members[x + 1 + j]


def _signature_worker(args: tuple[dict, list[str]]) -> np.ndarray:
    settings, texts = args
    return MinHasher(**settings).signatures(texts)


def compute_signatures(texts: Iterable[str], config: DedupConfig) -> np.ndarray:
    """Signatures of ``texts`` in batches of ``config.batch_docs`` over ``config.workers``."""
    settings = dict(num_perm=config.num_perm, seed=config.seed, k=config.k, hashing=config.hashing)

    def batches() -> Iterator[tuple[dict, list[str]]]:
        batch: list[str] = []
        for t in texts:
            batch.append(t)
            if len(batch) >= config.batch_docs:
                yield settings, batch
                batch = []
        if batch:
            yield settings, batch

    parts: list[np.ndarray]
    if config.workers > 1:
        with ProcessPoolExecutor(config.workers) as pool:
            parts = list(pool.map(_signature_worker, batches()))
    else:
        hasher = MinHasher(**settings)
        parts = [hasher.signatures(batch) for _, batch in batches()]
    if not parts:
        return np.empty((0, config.num_perm), dtype=np.uint32)
    return np.concatenate(parts)


def near_duplicate_roots(signatures: np.ndarray, config: DedupConfig) -> np.ndarray:
    """For each row, the smallest row of its near-duplicate cluster."""
    bands, rows = config.bands_rows()
    uf = UnionFind(len(signatures))
    for group in buckets(signatures, bands, rows):
        members = group.tolist()
        for i, j in verified_pairs(members, signatures[group], config.threshold):
            uf.union(i, j)
    return np.array([uf.find(i) for i in range(len(signatures))], dtype=np.int64)


def keep_mask(texts: Iterable[str], config: DedupConfig) -> tuple[np.ndarray, int, int, int]:
    """``(keep, exact_removed, near_removed, clusters)`` for ``texts``, in order."""
    seen: set[bytes] = set()
    first: list[bool] = []

    def survivor_texts() -> Iterator[str]:
        for text in texts:
            key = exact_key(text)
            is_new = key not in seen
            if is_new:
                seen.add(key)
                yield text
            first.append(is_new)

    sigs = compute_signatures(survivor_texts(), config)
    first_arr = np.array(first, dtype=bool)
    roots = near_duplicate_roots(sigs, config)
    near_keep = roots == np.arange(len(roots))
    keep = np.zeros(len(first_arr), dtype=bool)
    keep[np.flatnonzero(first_arr)] = near_keep
    clusters = len(np.unique(roots[~near_keep])) if (~near_keep).any() else 0
    return keep, int((~first_arr).sum()), int((~near_keep).sum()), clusters


def dedup_records(records: list[dict], config: DedupConfig | None = None) -> list[dict]:
    """In-memory dedup of records (``"text"`` field): the kept records, in order."""
    config = config or DedupConfig()
    keep, *_ = keep_mask((r["text"] for r in records), config)
    return [r for r, k in zip(records, keep, strict=True) if k]


def dedup_shards(
    inputs: str | Path | Iterable[str | Path], out: str | Path, config: DedupConfig | None = None
) -> DedupReport:
    """Dedup JSONL(.gz) shards into ``out`` (one JSONL file) in two streaming passes."""
    config = config or DedupConfig()
    start = time.perf_counter()
    keep, exact_removed, near_removed, clusters = keep_mask(
        (r["text"] for r in iter_records(inputs)), config
    )
    kept = (r for r, k in zip(iter_records(inputs), keep, strict=True) if k)
    n_out = write_records(out, kept)
    bands, rows = config.bands_rows()
    return DedupReport(
        documents_in=len(keep),
        documents_out=n_out,
        exact_duplicates=exact_removed,
        near_duplicates=near_removed,
        clusters=clusters,
        threshold=config.threshold,
        bands=bands,
        rows=rows,
        engine="local",
        seconds=round(time.perf_counter() - start, 3),
    )
