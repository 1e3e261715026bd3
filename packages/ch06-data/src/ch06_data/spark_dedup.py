"""The dedup plan of :mod:`ch06_data.dedup` on Apache Spark, for corpora beyond one machine.

The same stages as the single-machine path, expressed as RDD transformations:

- documents are keyed ``(shard number, line number)``, which orders them exactly as the local
  path's streaming order does, so "keep the first" means the same document on both engines;
- exact: ``reduceByKey(min)`` over the normalised-text hash;
- near: signatures per partition with the same :class:`~ch06_data.minhash.MinHasher`, one
  ``(band number, band bytes)`` key per band, ``groupByKey`` into LSH buckets, the same
  :func:`~ch06_data.dedup.verified_pairs` inside each bucket;
- the verified edges (far fewer than documents) are collected and joined by union-find on the
  driver; the kept records are streamed back in order and written atomically.

Spark needs Java 17+ (Debian: ``openjdk-17-jre-headless``). Tests run it in ``local[2]`` mode.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from ch06_data.dedup import DedupConfig, DedupReport, exact_key, verified_pairs
from ch06_data.minhash import MinHasher
from ch06_data.shards import shard_paths, write_records
from llmpath_core import UserError


def spark_session(master: str = "local[2]"):
    """A quiet local Spark session (no UI, few shuffle partitions) using this Python."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise UserError(
            "--engine spark needs Java 17+: install it (Debian: apt-get install "
            "openjdk-17-jre-headless) or set JAVA_HOME"
        )
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master(master)
        .appName("ch06-data-dedup")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "4")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _parse(item: tuple[tuple[int, int], str]):
    key, line = item
    if not line.strip():
        return None
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return ("error", key, f"malformed JSON line ({exc.msg}); each line must be one JSON object")
    if not isinstance(record, dict) or not isinstance(record.get("text"), str):
        return ("error", key, "expected a JSON object with a string 'text' field")
    return ("ok", key, record)


def _sign_partition(settings: dict, rows: Iterator[tuple]) -> Iterator[tuple]:
    rows = list(rows)
    if not rows:
        return iter(())
    sigs = MinHasher(**settings).signatures([text for _, text in rows])
    return ((key, sig) for (key, _), sig in zip(rows, sigs, strict=True))


def _bucket_edges(threshold: float, members: Iterable[tuple]) -> list[tuple]:
    members = sorted(members, key=lambda m: m[0])
    ids = [m[0] for m in members]
    sigs = np.stack([m[1] for m in members])
    return list(verified_pairs(ids, sigs, threshold))


def _roots(edges: list[tuple]) -> dict:
    parent: dict = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            lo, hi = min(ra, rb), max(ra, rb)
            parent[hi] = lo
    return {x: find(x) for x in list(parent)}


def dedup_shards_spark(
    inputs: str | Path | Iterable[str | Path],
    out: str | Path,
    config: DedupConfig | None = None,
    spark=None,
) -> DedupReport:
    """Dedup shards on Spark; the output equals :func:`~ch06_data.dedup.dedup_shards`'s."""
    config = config or DedupConfig()
    start = time.perf_counter()
    paths = shard_paths(inputs)
    spark = spark or spark_session()
    sc = spark.sparkContext
    bands, rows = config.bands_rows()
    settings = dict(num_perm=config.num_perm, seed=config.seed, k=config.k, hashing=config.hashing)
    threshold = config.threshold

    lines = sc.union(
        [
            sc.textFile(str(p)).zipWithIndex().map(lambda x, i=i: ((i, x[1] + 1), x[0]))
            for i, p in enumerate(paths)
        ]
    )
    parsed = lines.map(_parse).filter(lambda r: r is not None).cache()
    errors = parsed.filter(lambda r: r[0] == "error").takeOrdered(1, key=lambda r: r[1])
    if errors:
        _, (shard, lineno), why = errors[0]
        parsed.unpersist()
        raise UserError(f"{paths[shard]}:{lineno}: {why}")
    docs = parsed.map(lambda r: (r[1], r[2]))
    n_in = docs.count()

    firsts = docs.map(lambda kv: (exact_key(kv[1]["text"]), kv[0])).reduceByKey(min)
    survivor_ids = firsts.map(lambda kv: (kv[1], None))
    survivors = docs.join(survivor_ids).map(lambda kv: (kv[0], kv[1][0]["text"])).cache()
    n_survivors = survivors.count()

    sigs = survivors.mapPartitions(lambda it: _sign_partition(settings, it))
    edges = (
        sigs.flatMap(
            lambda kv: [((j, kv[1][j * rows : (j + 1) * rows].tobytes()), kv) for j in range(bands)]
        )
        .groupByKey()
        .filter(lambda kv: len(kv[1]) > 1)
        .flatMap(lambda kv: _bucket_edges(threshold, kv[1]))
        .distinct()
        .collect()
    )
    roots = _roots(edges)
    near_removed = {x for x, r in roots.items() if x != r}
    removed = sc.broadcast(near_removed)
    kept = survivor_ids.filter(lambda kv: kv[0] not in removed.value)
    out_rdd = docs.join(kept).map(lambda kv: (kv[0], kv[1][0])).sortByKey()
    n_out = write_records(out, (record for _, record in out_rdd.toLocalIterator()))
    parsed.unpersist()
    survivors.unpersist()
    return DedupReport(
        documents_in=n_in,
        documents_out=n_out,
        exact_duplicates=n_in - n_survivors,
        near_duplicates=len(near_removed),
        clusters=len({roots[x] for x in near_removed}),
        threshold=config.threshold,
        bands=bands,
        rows=rows,
        engine="spark",
        seconds=round(time.perf_counter() - start, 3),
    )
