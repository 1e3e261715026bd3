"""ch18-rag: retrieval-augmented generation that runs offline on a laptop and scales out.

Ingestion (text, Markdown, HTML, PDF, DOCX, CSV, SQLite, URLs) with incremental indexing by content
hash; chunking (fixed, recursive, semantic, parent/child); all-MiniLM-L6-v2 embeddings with a
cache; FAISS + SQLite (or Qdrant) stores with metadata filters; BM25 / dense / hybrid / reranked
retrieval; an extractive reader with citations and LLM generators; graph RAG on kuzu; agentic RAG;
evaluation. Names are imported on first use so ``ch18-rag --help`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "agentic": ["ChatSession", "decompose", "groundedness", "iterative_answer", "rewrite_followup"],
    "bm25": ["BM25", "tokenize"],
    "chunking": ["Chunk", "ChunkConfig", "chunk_document"],
    "documents": ["Document", "fetch_url", "load_path", "pydoc_documents"],
    "embeddings": ["Embedder", "default_model_path"],
    "evalsets": ["QAItem", "fictional_encyclopedia", "pydoc_eval_set"],
    "evaluation": [
        "bootstrap",
        "closed_book_answer_fn",
        "evaluate_answers",
        "evaluate_retrieval",
        "paired_difference",
        "rag_answer_fn",
    ],
    "generate": ["HFGenerator", "OpenAIGenerator", "build_prompt", "make_generator"],
    "graph": ["KuzuGraph", "Neo4jGraph", "build_graph", "extract_triples"],
    "index": ["RagIndex", "ingest"],
    "labs": ["closed_book_vs_rag", "evaluate_set", "graph_coverage", "load_set", "run_demo"],
    "metrics": ["exact_match", "mrr", "ndcg_at_k", "recall_at_k", "rouge_l", "token_f1"],
    "paraphrase": ["paraphrased_questions", "paraphrased_two_hop", "rewritten_articles"],
    "qdrant_store": ["QdrantStore", "export_index"],
    "ragas_eval": ["Judge", "ragas_llm_eval", "ragas_llm_scores"],
    "reader": ["Answer", "ExtractiveReader"],
    "rerank": ["CrossEncoderReranker", "LateInteractionReranker"],
    "retrieval": ["Hit", "Retriever", "rrf"],
    "store": ["FaissConfig", "build_faiss"],
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(f"ch18_rag.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ch18_rag' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
