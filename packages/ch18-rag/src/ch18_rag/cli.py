"""``ch18-rag``: ingest, query, ask, eval, graph, chat, bench, demo (thin, over the library)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from llmpath_core import UserError, artefact_path
from llmpath_core.cli import Run, command, make_app, run_app

app = make_app(
    "ch18-rag",
    "Offline RAG: ingest documents, search them (BM25, dense, hybrid, rerank), answer with "
    "citations, graph and agentic RAG, evaluation.",
)

INDEX_HELP = "index folder (default: the bundled pydoc prose, built on first use)"


def _open(index: Path | None, model: str | None = None):
    from ch18_rag.labs import open_index

    return open_index(index, model)


def _filters(items: list[str] | None) -> dict | None:
    if not items:
        return None
    out: dict[str, list[str]] = {}
    for item in items:
        if "=" not in item:
            raise UserError(f"bad --filter {item!r}: use KEY=VALUE (e.g. type=markdown)")
        key, value = item.split("=", 1)
        out.setdefault(key.strip(), []).append(value)
    return out


def _retriever(idx, rerank_model: Path | None):
    from ch18_rag.retrieval import Retriever

    reranker = None
    if rerank_model is not None:
        from ch18_rag.rerank import CrossEncoderReranker

        reranker = CrossEncoderReranker(rerank_model)
    return Retriever(idx, reranker)


@command(app, device=False, out=False)
def ingest(
    run: Run,
    inputs: list[str] = typer.Argument(
        None, help="files, folders or http(s) URLs (default: pydoc)"
    ),
    index: Path = typer.Option(None, "--index", help=INDEX_HELP),
    chunker: str = typer.Option("recursive", help="fixed, recursive, semantic or parent"),
    size: int = typer.Option(200, help="chunk size in MiniLM tokens"),
    overlap: int = typer.Option(40, help="token overlap (fixed chunker)"),
    parent_size: int = typer.Option(600, help="parent size in tokens (parent chunker)"),
    faiss_index: str = typer.Option("flat", "--faiss", help="flat, hnsw or ivf"),
    model: str = typer.Option(
        None, help="sentence-transformers folder (default: all-MiniLM-L6-v2)"
    ),
) -> dict:
    """Create or incrementally update an index (unchanged files cost nothing)."""
    from ch18_rag.chunking import CHUNKERS, ChunkConfig
    from ch18_rag.embeddings import Embedder
    from ch18_rag.index import ingest as do_ingest
    from ch18_rag.store import FAISS_KINDS, FaissConfig

    if chunker not in CHUNKERS:
        raise UserError(f"unknown --chunker {chunker!r}: use one of {', '.join(CHUNKERS)}")
    if faiss_index not in FAISS_KINDS:
        raise UserError(f"unknown --faiss {faiss_index!r}: use one of {', '.join(FAISS_KINDS)}")
    if chunker == "fixed" and not 0 <= overlap < size:
        raise UserError("--overlap must be at least 0 and smaller than --size")
    from ch18_rag.labs import default_index, shared_embedder

    path = Path(index) if index is not None else default_index()
    embedder = (
        shared_embedder(model)
        if index is None
        else Embedder(model, cache=path.parent / f".{path.name}.embcache.sqlite")
    )
    report = do_ingest(
        inputs or None,
        path,
        chunk=ChunkConfig(chunker, size, overlap, parent_size),
        embedder=embedder,
        faiss_config=FaissConfig(kind=faiss_index),
    )
    result = {
        "index": str(path),
        "chunks": report.chunks,
        "embedded": report.embedded,
        "added": len(report.added),
        "updated": len(report.updated),
        "unchanged": len(report.unchanged),
        "removed": len(report.removed),
        "seconds": round(report.seconds, 2),
    }
    run.table([{"key": k, "value": v} for k, v in result.items()], title="ingest")
    return result


@command(app, device=False, out=False)
def query(
    run: Run,
    question: str = typer.Argument(..., help="the query"),
    index: Path = typer.Option(None, "--index", help=INDEX_HELP),
    k: int = typer.Option(5, "--k", help="number of hits"),
    mode: str = typer.Option("hybrid", help="bm25, dense, hybrid or hybrid-rerank"),
    fusion: str = typer.Option("weighted", help="hybrid fusion: weighted or rrf"),
    filter_: list[str] = typer.Option(None, "--filter", help="KEY=VALUE metadata filter"),
    rerank_model: Path = typer.Option(None, help="cross-encoder folder for hybrid-rerank"),
    model: str = typer.Option(None, help="embedding model (must match the index)"),
) -> dict:
    """Search the index: {"hits": [{"chunk_id", "source", "score", "text"}...]}."""
    if not question.strip():
        raise UserError("the query is empty: give a question or keywords")
    idx = _open(index, model)
    hits = _retriever(idx, rerank_model).search(
        question, k=k, mode=mode, fusion=fusion, filters=_filters(filter_)
    )
    run.table(
        [
            {
                "chunk_id": h.chunk_id,
                "score": f"{h.score:.4f}",
                "text": " ".join(h.text.split())[:90],
            }
            for h in hits
        ],
        title=f"{mode} top-{k}",
    )
    return {"hits": [h.to_dict() for h in hits]}


@command(app)
def ask(
    run: Run,
    question: str = typer.Argument(..., help="the question"),
    index: Path = typer.Option(None, "--index", help=INDEX_HELP),
    k: int = typer.Option(5, "--k", help="chunks given to the reader"),
    mode: str = typer.Option("hybrid", help="bm25, dense, hybrid or hybrid-rerank"),
    generator: str = typer.Option(
        None,
        help="'default' (llmpath's model), a causal LM folder, or a model name with --base-url",
    ),
    base_url: str = typer.Option(None, help="OpenAI-compatible endpoint, e.g. http://host:8000/v1"),
    hyde: bool = typer.Option(False, help="HyDE: embed the generator's hypothetical answer"),
    multi_query: bool = typer.Option(False, help="multi-query expansion with the generator"),
) -> dict:
    """Answer with citations: the extractive reader, and the generator (streamed) if given."""
    from ch18_rag import retrieval
    from ch18_rag.generate import build_prompt, make_generator
    from ch18_rag.reader import ExtractiveReader

    if not question.strip():
        raise UserError("the question is empty")
    idx = _open(index)
    gen = make_generator(generator, base_url=base_url, device=str(run.device))
    if (hyde or multi_query) and gen is None:
        raise UserError("--hyde and --multi-query need a --generator")
    extra = {}
    if hyde:
        extra["hyde"] = retrieval.hyde_passage(gen, question)
    if multi_query:
        extra["queries"] = retrieval.multi_query(gen, question)
    hits = retrieval.Retriever(idx).search(question, k=k, mode=mode, **extra)
    answer = ExtractiveReader().answer(question, hits)
    result = {"question": question, **answer.to_dict(), "hits": [h.chunk_id for h in hits]}
    if not run.json:
        print(f"answer: {answer.answer}  [{', '.join(answer.citations)}]")
    if gen is not None:
        prompt = build_prompt(question, hits)
        if run.json:
            text = gen(prompt)
        else:
            print(f"{gen.name}: ", end="", flush=True)
            text = ""
            for piece in gen.stream(prompt):
                text += piece
                print(piece, end="", flush=True)
            print()
        result["generated"] = text
        result["generator"] = gen.name
    run.shown = True
    return result


def _encyclopedia_index():
    """The fictional encyclopedia's template articles, indexed under ``$LLMPATH_HOME/ch18``."""
    from ch18_rag.evalsets import fictional_encyclopedia
    from ch18_rag.labs import build_index

    enc = fictional_encyclopedia()
    idx, _ = build_index(enc.documents, artefact_path("ch18", "sets", "encyclopedia"))
    return enc, idx


@command(app, device=False, out=False)
def eval(
    run: Run,
    index: Path = typer.Option(None, "--index", help=INDEX_HELP),
    set_: str = typer.Option(
        "pydoc", "--set", help="pydoc, encyclopedia, paraphrased or rewritten"
    ),
    modes: str = typer.Option("bm25,dense,hybrid,hybrid-rerank", help="comma-separated modes"),
    ragas: bool = typer.Option(False, help="also compute ragas' metrics (slow import)"),
    judge_url: str = typer.Option(
        None, help="OpenAI-compatible /v1 URL of a judge LLM: with --ragas, ragas' LLM metrics"
    ),
    judge_model: str = typer.Option(None, help="the judge's model name on --judge-url"),
    judge_key_env: str = typer.Option(
        "OPENAI_API_KEY", help="environment variable holding the judge's API key (if any)"
    ),
) -> dict:
    """Retrieval (recall@k, MRR, nDCG@10) and closed book vs RAG (EM, F1, ROUGE-L with bootstrap
    SEs) on an eval set; with --ragas, ragas' non-LLM metrics and, with --judge-url and
    --judge-model, its LLM metrics (faithfulness, context precision and recall, relevancy)."""
    import os

    judge = None
    if judge_url or judge_model:
        if not (judge_url and judge_model):
            raise UserError("the judge needs both --judge-url URL and --judge-model NAME")
        if not ragas:
            raise UserError("--judge-url is for ragas' LLM metrics: add --ragas")
        from ch18_rag.ragas_eval import Judge

        key = os.environ.get(judge_key_env)
        if judge_key_env != "OPENAI_API_KEY" and not key:
            raise UserError(f"--judge-key-env {judge_key_env}: that variable is not set")
        judge = Judge(judge_url, judge_model, api_key=key)
        judge.check()  # before any indexing: an unreachable judge fails in a second

    from ch18_rag.labs import evaluate_set

    mode_list = [m.strip() for m in modes.split(",") if m.strip()]
    result = evaluate_set(set_, index, mode_list, ragas=ragas, judge=judge)
    run.table(result["retrieval"], title=f"retrieval on {set_} ({result['questions']} questions)")
    run.table(
        [{k: v for k, v in row.items() if "CI" not in k} for row in result["answers"]],
        title="answers: closed book vs RAG (same extractive reader; ± is the bootstrap SE)",
    )
    d = result["rag_minus_closed_EM"]
    run.log(f"RAG - closed book, EM: {d['difference']:+.3f} (95% CI {d['95% CI']}, n={d['n']})")
    if result["misses"]:
        run.table(result["misses"], title="RAG misses (first per question kind)")
    if ragas:
        run.table([result["ragas"]], title="ragas non-LLM metrics: ours vs ragas")
        if "ragas_llm" in result:
            run.table([result["ragas_llm"]], title=f"ragas LLM metrics (judge: {judge.model})")
        else:
            run.log("ragas' LLM metrics need a judge: --judge-url URL --judge-model NAME")
    return result


@command(app, device=False)
def graph(
    run: Run,
    question: list[str] = typer.Option(None, "--question", help="question(s) for the graph"),
    index: Path = typer.Option(
        None, "--index", help="index to extract from (default: encyclopedia)"
    ),
    neo4j_url: str = typer.Option(None, help="bolt:// URL: use Neo4j instead of kuzu"),
    neo4j_user: str = typer.Option("neo4j"),
    neo4j_password: str = typer.Option("", envvar="NEO4J_PASSWORD"),
) -> dict:
    """Graph RAG: extract a knowledge graph into kuzu, answer multi-hop questions by walks."""
    import tempfile

    from ch18_rag.graph import (
        Neo4jGraph,
        analyse,
        answer_questions,
        build_graph,
        index_triples,
        plot_graph,
    )
    from ch18_rag.index import RagIndex

    with tempfile.TemporaryDirectory() as tmp:
        if index is None:
            enc, idx = _encyclopedia_index()
            questions = question or [q.question for q in enc.questions if q.kind == "two-hop"][:4]
        else:
            idx = RagIndex(index)
            questions = question or []
        if neo4j_url:
            store = Neo4jGraph(neo4j_url, neo4j_user, neo4j_password)
            store.create_schema()
            n = store.add(index_triples(idx))
        else:
            store, n = build_graph(idx, Path(tmp) / "graph")
        stats = analyse(store)
        answers = answer_questions(store, questions)
        if run.out is not None:
            plot_graph(store, run.out)
        store.close()
    run.table([{k: v for k, v in stats.items() if k != "central"}], title="knowledge graph")
    run.table(answers, title="multi-hop answers by graph walks")
    return {"triples": n, **stats, "answers": answers}


@command(app, device=False, out=False)
def chat(
    run: Run,
    turns: list[str] = typer.Argument(None, help="questions in order (default: read stdin lines)"),
    index: Path = typer.Option(None, "--index", help="index (default: the encyclopedia)"),
) -> dict:
    """Conversational, agentic RAG: follow-ups rewritten, decomposition, iterative retrieval."""
    from ch18_rag.agentic import ChatSession
    from ch18_rag.retrieval import Retriever

    if index is None:
        enc, idx = _encyclopedia_index()
        country = enc.facts[0][0]
        default_turns = [
            f"What is the capital of {country}?",
            "Who founded it?",
            f"Who founded the capital of {enc.facts[6][0]}?",
        ]
    else:
        idx, default_turns = _open(index), []
    session = ChatSession(Retriever(idx))
    lines = turns or (
        default_turns
        if sys.stdin.isatty() or index is None
        else [line.strip() for line in sys.stdin if line.strip()]
    )
    if not lines:
        raise UserError("no questions: pass them as arguments or on stdin")
    results = [session.ask(q).to_dict() for q in lines]
    run.table(
        [
            {
                "question": r["question"],
                "rewritten": r["rewritten"],
                "answer": r["answer"],
                "steps": len(r["steps"]),
                "grounded": r["grounded"],
                "cites": ", ".join(r["citations"]),
            }
            for r in results
        ],
        title="chat",
    )
    return {"turns": results}


@command(app, device=False, out=False)
def bench(
    run: Run,
    n: list[int] = typer.Option([10_000], "--n", help="synthetic index sizes"),
    queries: int = typer.Option(200, help="queries per size"),
) -> dict:
    """FAISS flat vs HNSW vs IVF: build throughput, query latency p50/p99, recall@10 vs flat."""
    from ch18_rag.scale import faiss_scale_bench

    rows = [row for size in n for row in faiss_scale_bench(size, queries)]
    run.table(rows, title="vector index at scale (MiniLM-like synthetic vectors, 384-d)")
    return {"rows": rows}


@command(app, device=False, out=False)
def demo(run: Run) -> dict:
    """Cited answers, then closed book vs RAG (same reader) on template, paraphrased and
    rewritten encyclopedia questions and pydoc definitions, with standard errors."""
    from ch18_rag.labs import run_demo

    run.log("indexing the demo sets (cached under $LLMPATH_HOME/ch18 after the first run)")
    result = run_demo()
    run.log(result["ingest"])
    run.table(result["answers"], title="answers with citations (extractive reader, no LLM)")
    run.table(
        result["qa"],
        title="closed book (reader on 5 random chunks) vs RAG (hybrid top 5 + reader); ± SE",
    )
    run.table(result["misses"], title="where the reader fails: rewritten articles")
    run.table(
        result["retrieval"],
        title=f"retrieval on the pydoc demo topics ({result['qa_detail'][-1]['n']} questions)",
    )
    run.log(
        "longer labs: 'ch18-rag eval --set pydoc' (full 847-chunk index, minutes to embed the "
        "first time, with reranking), 'ch18-rag graph', 'ch18-rag chat', 'ch18-rag bench'"
    )
    return result


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()
