"""Our exact / IVF / HNSW vs FAISS on MiniLM vectors of the bundled pydoc papers, plus a
recall-vs-latency sweep (ef, nprobe) and a PNG of it.

    uv run python packages/ch04-embeddings/benchmarks/bench_ann.py
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from llmpath_core.bench import machine_info
from llmpath_core.io import write_json
from llmpath_core.report import line_plot, print_table

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    import faiss
    import torch

    from ch04_embeddings.ann import ExactIndex, HNSWIndex, IVFIndex, recall_at_k
    from ch04_embeddings.labs import open_index, retrieval_table

    torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)
    table = retrieval_table(None, n_queries=100)
    print_table(table, title="papers: recall@10 and ms/query (100 queries)")
    idx = open_index(None, log=lambda _m: None)
    x = idx.index.reconstruct_n(0, idx.index.ntotal)
    rng = np.random.default_rng(0)
    rows = rng.choice(len(idx.passages), 100, replace=False)
    q = idx.encoder.encode([idx.passages[r]["text"].split(". ")[0] for r in rows])
    truth = ExactIndex(x).search(q, 10)[1]
    dim = x.shape[1]
    ours_h = HNSWIndex(x, m=16, ef_construction=40)
    fh = faiss.IndexHNSWFlat(dim, 16, faiss.METRIC_INNER_PRODUCT)
    fh.hnsw.efConstruction = 40
    fh.add(x)
    nlist = int(np.sqrt(len(x)))
    ours_i = IVFIndex(x, nlist)
    fi = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
    fi.train(x)
    fi.add(x)

    def timed(fn):
        start = time.perf_counter()
        found = fn()
        return recall_at_k(found, truth, 10), (time.perf_counter() - start) * 1000 / len(q)

    sweep = []
    for ef in (10, 16, 32, 64, 128):
        fh.hnsw.efSearch = ef
        r1, t1 = timed(lambda ef=ef: ours_h.search(q, 10, ef)[1])
        r2, t2 = timed(lambda: fh.search(q, 10)[1])
        sweep.append(
            {
                "index": "hnsw",
                "knob": f"ef={ef}",
                "ours_recall": r1,
                "ours_ms": t1,
                "faiss_recall": r2,
                "faiss_ms": t2,
            }
        )
    for nprobe in (1, 2, 4, 8):
        fi.nprobe = nprobe
        r1, t1 = timed(lambda n=nprobe: ours_i.search(q, 10, n)[1])
        r2, t2 = timed(lambda: fi.search(q, 10)[1])
        sweep.append(
            {
                "index": "ivf",
                "knob": f"nprobe={nprobe}",
                "ours_recall": r1,
                "ours_ms": t1,
                "faiss_recall": r2,
                "faiss_ms": t2,
            }
        )
    print_table(sweep, title="recall@10 vs ms/query")
    series = {}
    for kind in ("hnsw", "ivf"):
        part = [s for s in sweep if s["index"] == kind]
        series[f"ours {kind}"] = ([s["ours_ms"] for s in part], [s["ours_recall"] for s in part])
        series[f"faiss {kind}"] = ([s["faiss_ms"] for s in part], [s["faiss_recall"] for s in part])
    line_plot(
        RESULTS / "recall_vs_latency.png",
        series,
        title="papers (MiniLM): recall@10 vs latency",
        xlabel="ms per query (log)",
        ylabel="recall@10",
        logx=True,
    )
    write_json(
        RESULTS / "ann.json",
        {
            "table": table,
            "sweep": sweep,
            "vectors": len(x),
            "machine": machine_info(),
            "note": "loaded 2-core CPU box, one thread each",
            "date": time.strftime("%Y-%m-%d"),
        },
    )


if __name__ == "__main__":
    main()
