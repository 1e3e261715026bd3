"""MinHash + LSH throughput and peak memory, ours vs datasketch, plus dedup precision/recall.

    uv run python packages/ch06-data/benchmarks/bench_minhash.py [--docs 100000]

Both sides see the same generated documents (80 random words each, planted near-duplicates),
the same 5-word shingles, 128 permutations, seed 1, and threshold 0.8 (9 bands x 13 rows).
datasketch runs its fastest path (``MinHash.update_batch`` + ``MinHashLSH.insert``); ours runs
with per-shingle SHA-1 (the same hash as datasketch) and with word hashing (the default).
Writes ``results/minhash.json``; speed-ups are ratios of process CPU seconds (both sides are
single-threaded), so other jobs on a shared machine do not skew them; wall seconds are kept too.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from pathlib import Path

from ch06_data.corpus import pair_metrics, planted_corpus
from ch06_data.dedup import verified_pairs
from ch06_data.lsh import buckets, optimal_params
from ch06_data.minhash import MinHasher, shingles
from llmpath_core.bench import machine_info
from llmpath_core.io import write_json

RESULTS = Path(__file__).parent / "results"


def run_ours(texts, hashing):
    b, r = optimal_params(0.8, 128)
    start = time.perf_counter(), time.process_time()
    sigs = MinHasher(num_perm=128, seed=1, hashing=hashing).signatures(texts)
    pairs = set()
    for group in buckets(sigs, b, r):
        pairs |= set(verified_pairs(group.tolist(), sigs[group], 0.8))
    return _elapsed(start), pairs


def run_datasketch(texts):
    from datasketch import MinHash, MinHashLSH

    start = time.perf_counter(), time.process_time()
    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    mhs = []
    for i, t in enumerate(texts):
        m = MinHash(num_perm=128, seed=1)
        m.update_batch([s.encode("utf-8") for s in shingles(t)])
        lsh.insert(i, m)
        mhs.append(m)
    pairs = {
        (min(i, j), max(i, j))
        for i, m in enumerate(mhs)
        for j in lsh.query(m)
        if j != i and m.jaccard(mhs[j]) >= 0.8
    }
    return _elapsed(start), pairs


def _elapsed(start):
    """(wall seconds, CPU seconds of this process) since ``start``; both sides are
    single-threaded, so CPU seconds compare fairly on a machine other jobs share."""
    return time.perf_counter() - start[0], time.process_time() - start[1]


def peak(fn, *args):
    tracemalloc.start()
    out = fn(*args)
    peak_bytes = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, peak_bytes / 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument(
        "--ours-only",
        action="store_true",
        help="only ours with word hashing (a scaling run); writes results/minhash-ours-N.json",
    )
    args = parser.parse_args()
    copies = max(10, args.docs // 100)
    corpus = planted_corpus(n_base=args.docs - 6 * copies, copies_per_level=copies, seed=0)
    texts = [r["text"] for r in corpus.records]
    rows = []
    runs = [
        ("ours (word hashing)", run_ours, ("words",)),
        ("ours (SHA-1 per shingle)", run_ours, ("sha1",)),
        ("datasketch", run_datasketch, ()),
    ]
    for name, fn, extra in runs[:1] if args.ours_only else runs:
        ((seconds, cpu_seconds), pairs), mib = peak(fn, texts, *extra)
        m = pair_metrics(pairs, corpus, 0.8)
        rows.append(
            {
                "implementation": name,
                "documents": len(texts),
                "seconds": round(seconds, 2),
                "cpu_seconds": round(cpu_seconds, 2),
                "docs_per_s": round(len(texts) / seconds),
                "docs_per_cpu_s": round(len(texts) / cpu_seconds),
                "peak_MiB": round(mib, 1),
                "recall": round(m["recall"], 4),
                "precision": round(m["precision"], 4),
                "pairs": len(pairs),
            }
        )
        print(rows[-1], flush=True)
    if args.ours_only:
        write_json(
            RESULTS / f"minhash-ours-{args.docs}.json",
            {
                "rows": rows,
                "machine": machine_info(),
                "bands_rows": optimal_params(0.8, 128),
                "note": "ours only (a scaling run); loaded shared 2-core CPU box",
            },
        )
        return
    ref = rows[-1]
    for row in rows[:-1]:
        row["speedup_vs_datasketch"] = round(ref["cpu_seconds"] / row["cpu_seconds"], 2)
        row["wall_speedup_vs_datasketch"] = round(ref["seconds"] / row["seconds"], 2)
        row["memory_ratio_vs_datasketch"] = round(row["peak_MiB"] / ref["peak_MiB"], 3)
    write_json(
        RESULTS / "minhash.json",
        {
            "rows": rows,
            "machine": machine_info(),
            "bands_rows": optimal_params(0.8, 128),
            "note": "shared 2-core CPU box (other jobs running); speedup_vs_datasketch is the "
            "ratio of process CPU seconds (both sides single-threaded), wall_speedup the ratio "
            "of wall seconds, which the other jobs' load skews",
        },
    )


if __name__ == "__main__":
    main()
