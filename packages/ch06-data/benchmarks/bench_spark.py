"""The same dedup on one machine and on Spark (local[2]): equal output, wall times.

    uv run python packages/ch06-data/benchmarks/bench_spark.py [--docs 2000]

Needs Java 17+. Writes ``results/spark.json``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from ch06_data.corpus import planted_corpus
from ch06_data.dedup import dedup_shards
from ch06_data.shards import write_records
from ch06_data.spark_dedup import dedup_shards_spark, spark_session
from llmpath_core.bench import machine_info
from llmpath_core.io import write_json

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=2000)
    args = parser.parse_args()
    copies = max(5, args.docs // 50)
    corpus = planted_corpus(n_base=args.docs - 6 * copies, copies_per_level=copies, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "shards"
        d.mkdir()
        n = len(corpus.records)
        for i in range(4):
            write_records(
                d / f"part-{i:03d}.jsonl.gz", corpus.records[i * n // 4 : (i + 1) * n // 4]
            )
        local = dedup_shards(d, Path(tmp) / "local.jsonl")
        t0 = time.perf_counter()
        spark = spark_session("local[2]")
        start_s = time.perf_counter() - t0
        remote = dedup_shards_spark(d, Path(tmp) / "spark.jsonl", spark=spark)
        equal = (Path(tmp) / "local.jsonl").read_bytes() == (Path(tmp) / "spark.jsonl").read_bytes()
        spark.stop()
    result = {
        "documents": n,
        "identical_output": equal,
        "session_start_s": round(start_s, 1),
        "local": local.to_dict(),
        "spark": remote.to_dict(),
        "machine": machine_info(),
        "note": "Spark local[2] on a loaded shared 2-core CPU box",
    }
    print(result)
    write_json(RESULTS / "spark.json", result)


if __name__ == "__main__":
    main()
