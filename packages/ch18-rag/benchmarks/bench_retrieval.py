"""Retrieval quality on the pydoc eval set: BM25 vs dense vs hybrid (weighted, RRF) vs reranked.

Run: ``uv run python packages/ch18-rag/benchmarks/bench_retrieval.py``. Builds (or reuses) the
default pydoc index, then prints recall@k, MRR and nDCG@10 per mode for the 36 deterministic
questions and recall@10 of HNSW and IVF against flat FAISS on the real MiniLM vectors of the pydoc
index; writes ``benchmarks/results/retrieval.json``. Closed book vs RAG is
``bench_closed_book.py``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

RESULTS = Path(__file__).resolve().parent / "results" / "retrieval.json"


def main() -> None:
    import numpy as np

    from ch18_rag.evalsets import pydoc_eval_set
    from ch18_rag.evaluation import evaluate_retrieval
    from ch18_rag.index import RagIndex, ingest
    from ch18_rag.labs import default_index, shared_embedder
    from ch18_rag.retrieval import Retriever
    from ch18_rag.scale import recall_at_k
    from ch18_rag.store import FaissConfig, build_faiss, faiss_search
    from llmpath_core import atomic_write, machine_info, print_table

    t0 = time.perf_counter()
    path = default_index()
    report = ingest(None, path, embedder=shared_embedder())
    index = RagIndex(path, shared_embedder())
    retriever = Retriever(index)
    items = pydoc_eval_set()
    rows = evaluate_retrieval(retriever, items, ["bm25", "dense"])
    rows += [
        {**r, "mode": "hybrid (RRF)"}
        for r in evaluate_retrieval(retriever, items, ["hybrid"], fusion="rrf")
    ]
    rows += [
        {**r, "mode": "hybrid (weighted 0.3)"}
        for r in evaluate_retrieval(retriever, items, ["hybrid"])
    ]
    rows += evaluate_retrieval(retriever, items, ["hybrid-rerank"])
    print_table(rows, title=f"pydoc eval set: {len(items)} questions, {report.chunks} chunks")

    vectors = np.asarray(index.vectors)
    queries = index.embedder.encode([q.question for q in items])
    truth, _ = faiss_search(build_faiss(vectors, FaissConfig("flat")), queries, 10)
    ann = []
    for kind in ("hnsw", "ivf"):
        found, _ = faiss_search(build_faiss(vectors, FaissConfig(kind)), queries, 10)
        ann.append(
            {"index": kind, "n": len(vectors), "recall@10 vs flat": recall_at_k(found, truth)}
        )
    print_table(ann, title="approximate search on the real pydoc MiniLM vectors")
    payload = {
        "command": "uv run python packages/ch18-rag/benchmarks/bench_retrieval.py",
        "questions": len(items),
        "chunks": report.chunks,
        "retrieval": rows,
        "ann": ann,
        "seconds": round(time.perf_counter() - t0, 1),
        "machine": machine_info(),
    }
    with atomic_write(RESULTS) as f:
        json.dump(payload, f, indent=1, default=str)
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
