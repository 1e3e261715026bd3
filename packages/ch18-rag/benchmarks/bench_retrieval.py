"""Retrieval quality on the pydoc eval set: BM25 vs dense vs hybrid (weighted, RRF) vs reranked.

Run: ``uv run python packages/ch18-rag/benchmarks/bench_retrieval.py``. Builds (or reuses) the
default pydoc index, then prints recall@k, MRR and nDCG@10 per mode for the 36 deterministic
questions, the fictional-encyclopedia QA (closed book vs RAG), and recall@10 of HNSW and IVF
against flat FAISS on the real MiniLM vectors of the pydoc index.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    import numpy as np

    from ch18_rag.cli import _encyclopedia_index, default_index
    from ch18_rag.evalsets import pydoc_eval_set
    from ch18_rag.evaluation import (
        chance_answer_fn,
        evaluate_answers,
        evaluate_retrieval,
        rag_answer_fn,
    )
    from ch18_rag.index import RagIndex, ingest
    from ch18_rag.retrieval import Retriever
    from ch18_rag.scale import recall_at_k
    from ch18_rag.store import FaissConfig, build_faiss, faiss_search
    from llmpath_core import machine_info, print_table

    path = default_index()
    report = ingest(None, path)
    index = RagIndex(path)
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

    with tempfile.TemporaryDirectory() as tmp:
        enc, idx, _ = _encyclopedia_index(Path(tmp))
        enc_items = [q for q in enc.questions if q.kind != "two-hop"]
        qa = [
            evaluate_answers(
                chance_answer_fn(enc.candidates, enc_items), enc_items, "closed book (chance)"
            ),
            evaluate_answers(rag_answer_fn(Retriever(idx)), enc_items, "RAG hybrid + reader"),
        ]
    print_table(qa, title="fictional encyclopedia QA")

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
    print(json.dumps({"retrieval": rows, "qa": qa, "ann": ann, "machine": machine_info()}))


if __name__ == "__main__":
    main()
