"""Speed: MiniLM embedding (ours vs sentence-transformers), BM25 queries (ours vs bm25s), and
FAISS flat vs HNSW vs IVF at 10k and 100k vectors (build throughput, p50/p99 latency, recall@10).

Run: ``uv run python packages/ch18-rag/benchmarks/bench_scale.py [--sizes 10000 100000]``; writes
``benchmarks/results/scale.json``.
The vectors at scale are synthetic (a 384-d Gaussian mixture shaped like MiniLM output):
embedding 100k chunks with MiniLM on 2 CPU cores would take far longer than the benchmark.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

RESULTS = Path(__file__).resolve().parent / "results" / "scale.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--texts", type=int, default=64)
    args = parser.parse_args()

    import bm25s
    import numpy as np
    from sentence_transformers import SentenceTransformer

    from ch18_rag.bm25 import BM25, tokenize
    from ch18_rag.chunking import ChunkConfig, chunk_document
    from ch18_rag.documents import pydoc_documents
    from ch18_rag.embeddings import default_model_path
    from ch18_rag.minilm import MiniLM
    from ch18_rag.scale import faiss_scale_bench
    from llmpath_core import atomic_write, compare, machine_info, print_table

    chunks = [c.text for d in pydoc_documents() for c in chunk_document(d, ChunkConfig())]
    texts = chunks[: args.texts]
    ours = MiniLM(default_model_path())
    st = SentenceTransformer(str(default_model_path()), device="cpu")
    embed = compare(
        f"embed {len(texts)} chunks (MiniLM, batch 32)",
        lambda: ours.encode(texts),
        lambda: st.encode(texts, batch_size=32, normalize_embeddings=True),
        names=("ours", "sentence-transformers"),
        repeats=3,
    )
    diff = float(np.abs(ours.encode(texts) - st.encode(texts, normalize_embeddings=True)).max())

    corpus = [tokenize(t) for t in chunks]
    queries = [
        tokenize(q)
        for q in [
            "assert statement",
            "augmented assignment operator",
            "exception handling try except",
            "class definition",
            "string formatting method",
            "import module package",
        ]
    ]
    ours_bm25 = BM25().index(corpus)
    ref = bm25s.BM25(method="lucene")
    ref.index(corpus, show_progress=False)
    bm = compare(
        f"BM25 score {len(queries)} queries over {len(corpus)} chunks",
        lambda: [ours_bm25.scores(q) for q in queries],
        lambda: [ref.get_scores(q) for q in queries],
        names=("ours", "bm25s"),
        repeats=5,
    )
    rows = [embed.to_dict() | {"max abs diff": f"{diff:.1e}"}, bm.to_dict()]
    print_table(rows, title="ours vs anchor (speedup = anchor time / ours)")

    scale = [row for n in args.sizes for row in faiss_scale_bench(n, args.queries)]
    print_table(scale, title="FAISS at scale (synthetic 384-d vectors, one query at a time)")
    payload = {
        "command": "uv run python packages/ch18-rag/benchmarks/bench_scale.py --sizes "
        + " ".join(str(n) for n in args.sizes),
        "compare": rows,
        "scale": scale,
        "machine": machine_info(),
    }
    with atomic_write(RESULTS) as f:
        json.dump(payload, f, indent=1, default=str)
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
