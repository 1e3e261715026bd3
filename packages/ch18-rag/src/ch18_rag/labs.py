"""The chapter's experiments as functions: evaluation sets and their indexes, closed book vs RAG,
what the graph extractor recovers, and the demo. ``cli.py`` only parses options and calls these;
the benchmarks call them too.

Closed book vs RAG uses one answerer, the extractive reader (:mod:`ch18_rag.reader`), on four
question sets:

* ``encyclopedia`` -- the template questions over the template articles (the reader and the
  graph's patterns were written for exactly these sentences, so this is a ceiling, not a test);
* ``paraphrased`` -- other wordings of the same questions over the same articles;
* ``rewritten`` -- those wordings over articles rewritten so the answer is not in the template
  slot (:mod:`ch18_rag.paraphrase`);
* ``pydoc`` -- 36 definitional questions mined from the CPython topic help.

RAG is hybrid retrieval (k = 5) then the reader; closed book is the same reader on 5 chunks drawn
at random from the same index (:func:`~ch18_rag.evaluation.closed_book_answer_fn`). Every mean
comes with a bootstrap standard error over questions (fixed seed) and the number of questions.

Indexes are built under ``$LLMPATH_HOME/ch18`` and embeddings go through one shared cache keyed by
``sha256(model, text)``, so a second run embeds nothing.
"""

from __future__ import annotations

import time
from pathlib import Path

from llmpath_core import UserError, artefact_path

SETS = ("encyclopedia", "paraphrased", "rewritten", "pydoc")
SET_TITLES = {
    "encyclopedia": "encyclopedia, template questions",
    "paraphrased": "encyclopedia, paraphrased questions",
    "rewritten": "encyclopedia, rewritten articles + paraphrased questions",
    "pydoc": "pydoc definitions",
}
# pydoc topics for the demo: those holding an eval question with at most 16 chunks (86 chunks,
# 18 questions), so the first run embeds in seconds instead of minutes (the full index: 847)
DEMO_TOPICS = (
    "assert",
    "assignment",
    "attribute-references",
    "bltin-code-objects",
    "class",
    "dict",
    "exceptions",
    "exprlists",
    "global",
    "identifiers",
    "import",
    "lists",
    "raise",
    "return",
    "sequence-types",
    "subscriptions",
    "typesmethods",
)


def embedding_cache_path() -> Path:
    """One embedding cache for every index this module builds (``$LLMPATH_HOME/ch18``)."""
    return artefact_path("ch18", "embeddings.sqlite")


def shared_embedder(model: str | None = None):
    from ch18_rag.embeddings import Embedder

    return Embedder(model, cache=embedding_cache_path())


def default_index() -> Path:
    """Where the full pydoc index lives (built on first use)."""
    return artefact_path("ch18", "pydoc-index")


def open_index(index: str | Path | None = None, model: str | None = None, build: bool = True):
    """An index folder opened for search; ``None`` is the full pydoc index, built if missing."""
    from ch18_rag.index import RagIndex, ingest

    path = Path(index) if index is not None else default_index()
    embedder = shared_embedder(model) if index is None else None
    if index is None and build and not (path / "index.sqlite").exists():
        import sys

        print(
            f"building the pydoc index (847 chunks; minutes on 2 cores the first time) at {path}",
            file=sys.stderr,
        )
        ingest(None, path, embedder=embedder)
    if embedder is None and model is not None:
        from ch18_rag.embeddings import Embedder

        embedder = Embedder(model, cache=path.parent / f".{path.name}.embcache.sqlite")
    return RagIndex(path, embedder)


def build_index(documents, folder: str | Path, embedder=None):
    """Ingest ``documents`` (in-memory :class:`Document` list) into ``folder`` incrementally."""
    from ch18_rag.index import RagIndex, ingest

    embedder = embedder or shared_embedder()
    report = ingest(documents, folder, embedder=embedder)
    return RagIndex(folder, embedder), report


def demo_pydoc_documents():
    from ch18_rag.documents import pydoc_documents

    wanted = {f"pydoc:{t}" for t in DEMO_TOPICS}
    return [d for d in pydoc_documents() if d.source in wanted]


def load_set(name: str, root: str | Path | None = None, pydoc_index=None):
    """``(items, index, info)`` for one of :data:`SETS`; indexes are built under ``root``
    (default ``$LLMPATH_HOME/ch18/sets``). ``pydoc_index`` overrides the full pydoc index."""
    from ch18_rag.evalsets import fictional_encyclopedia, pydoc_eval_set
    from ch18_rag.paraphrase import paraphrased_questions, rewritten_articles

    if name not in SETS:
        raise UserError(f"unknown --set {name!r}: use one of {', '.join(SETS)}")
    root = Path(root) if root is not None else artefact_path("ch18", "sets")
    if name == "pydoc":
        index = pydoc_index if pydoc_index is not None else open_index()
        sources = {s for (s,) in index.table.con.execute("SELECT DISTINCT source FROM chunks")}
        items = [it for it in pydoc_eval_set() if it.source in sources]
        return items, index, {"documents": len(sources), "chunks": len(index)}
    enc = fictional_encyclopedia()
    if name == "rewritten":
        docs, sentences = rewritten_articles(enc)
        index, _ = build_index(docs, root / "encyclopedia-rewritten")
        items = paraphrased_questions(enc, sentences)
    else:
        index, _ = build_index(enc.documents, root / "encyclopedia")
        items = (
            [q for q in enc.questions if q.kind != "two-hop"]
            if name == "encyclopedia"
            else paraphrased_questions(enc)
        )
    return items, index, {"documents": len(enc.documents), "chunks": len(index)}


def closed_book_vs_rag(items, index, name: str, k: int = 5, seed: int = 0) -> dict:
    """Closed book (reader on random chunks) and RAG (hybrid top-k + reader) on ``items``:
    summaries with bootstrap SEs, the paired RAG - closed-book difference, and per-question rows.
    """
    from ch18_rag.evaluation import (
        closed_book_answer_fn,
        evaluate_retrieval,
        paired_difference,
        rag_answer_fn,
        score_answers,
        summarize,
    )
    from ch18_rag.retrieval import Retriever

    closed = score_answers(closed_book_answer_fn(index, k=k, seed=seed), items)
    rag = score_answers(rag_answer_fn(Retriever(index), k=k), items)
    (hybrid,) = evaluate_retrieval(Retriever(index), items, ["hybrid"])
    return {
        "set": name,
        "n": len(items),
        "chunks": len(index),
        "hybrid hit@5": hybrid["hit@5"],
        "closed_book": summarize(closed, "closed book: reader on random chunks", seed=seed),
        "rag": summarize(rag, "RAG: hybrid top-5 + reader", seed=seed),
        "rag_minus_closed_EM": paired_difference(rag, closed, "EM", seed=seed),
        "per_kind": per_kind(rag),
        "rag_rows": rag,
        "closed_rows": closed,
    }


def per_kind(rows: list[dict]) -> dict[str, dict]:
    """EM by question kind (where the reader fails), with counts."""
    kinds: dict[str, list[float]] = {}
    for r in rows:
        kinds.setdefault(r["kind"], []).append(r["EM"])
    return {k: {"EM": round(sum(v) / len(v), 4), "n": len(v)} for k, v in kinds.items()}


def qa_table(results: list[dict]) -> list[dict]:
    """One row per set: closed book and RAG EM +- SE, F1, the paired difference, n."""
    rows = []
    for r in results:
        c, g, d = r["closed_book"], r["rag"], r["rag_minus_closed_EM"]
        rows.append(
            {
                "set": SET_TITLES.get(r["set"], r["set"]),
                "closed-book EM": f"{c['EM']:.3f} ± {c['EM SE']:.3f}",
                "RAG EM": f"{g['EM']:.3f} ± {g['EM SE']:.3f}",
                "RAG F1": f"{g['F1']:.3f} ± {g['F1 SE']:.3f}",
                "RAG − closed EM, 95% CI": f"{d['difference']:+.3f} "
                f"[{d['95% CI'][0]:+.3f}, {d['95% CI'][1]:+.3f}]",
                "gold chunk in top 5": f"{r['hybrid hit@5']:.3f}",
                "n": r["n"],
            }
        )
    return rows


def graph_coverage(root: str | Path | None = None) -> list[dict]:
    """What the pattern extractor and the graph walk get on template vs rewritten articles.

    Per article style: the share of the 72 facts recovered as a triple (same subject and object),
    and two-hop questions ("Who founded the capital of X?", template and paraphrased wordings)
    answered by graph walks (exact match).
    """
    import tempfile

    from ch18_rag.evalsets import fictional_encyclopedia
    from ch18_rag.graph import build_graph, extract_triples
    from ch18_rag.metrics import exact_match
    from ch18_rag.paraphrase import paraphrased_two_hop, rewritten_articles

    root = Path(root) if root is not None else artefact_path("ch18", "sets")
    enc = fictional_encyclopedia()
    rewritten, _ = rewritten_articles(enc)
    template_two_hop = [q for q in enc.questions if q.kind == "two-hop"]
    rows = []
    for style, docs, folder in (
        ("template", enc.documents, root / "encyclopedia"),
        ("rewritten", rewritten, root / "encyclopedia-rewritten"),
    ):
        index, _ = build_index(docs, folder)
        chunks = index.table.con.execute("SELECT chunk_id, text FROM chunks").fetchall()
        pairs = {(t.subject, t.object) for cid, text in chunks for t in extract_triples(text, cid)}
        found = sum((s, o) in pairs for s, _, o in enc.facts)
        with tempfile.TemporaryDirectory() as tmp:
            store, _ = build_graph(index, Path(tmp) / "graph")
            scores = {}
            for wording, items in (
                ("template", template_two_hop),
                ("paraphrased", paraphrased_two_hop(enc)),
            ):
                walks = [store.answer(q.question) for q in items]
                scores[wording] = sum(
                    exact_match(w.answer if w else "", q.answer)
                    for w, q in zip(walks, items, strict=True)
                )
            store.close()
        rows.append(
            {
                "articles": style,
                "facts as triples": f"{found}/{len(enc.facts)}",
                "two-hop, template wording": f"{scores['template']:.0f}/{len(template_two_hop)}",
                "two-hop, paraphrased": f"{scores['paraphrased']:.0f}/{len(template_two_hop)}",
                "facts_found": found,
                "facts": len(enc.facts),
            }
        )
    return rows


def failures(result: dict, limit: int = 6) -> list[dict]:
    """The first RAG misses of a set, one per question kind where possible."""
    misses = [r for r in result["rag_rows"] if r["EM"] < 1]
    out, kinds = [], set()
    for r in misses:
        if r["kind"] not in kinds:
            kinds.add(r["kind"])
            out.append(r)
    out += [r for r in misses if r not in out]
    return [
        {"question": r["question"], "gold": r["gold"], "RAG answer": r["prediction"]}
        for r in out[:limit]
    ]


def evaluate_set(
    name: str,
    index: str | Path | None = None,
    modes: list[str] | tuple[str, ...] = ("bm25", "dense", "hybrid", "hybrid-rerank"),
    ragas: bool = False,
    judge=None,
    k: int = 5,
    seed: int = 0,
) -> dict:
    """Retrieval metrics per mode and closed book vs RAG on one of :data:`SETS`; with ``ragas``,
    ragas' non-LLM metrics on the first 10 questions, and with a ``judge`` its LLM metrics.
    ``index`` replaces the full pydoc index for the ``pydoc`` set."""
    from ch18_rag.evaluation import evaluate_retrieval
    from ch18_rag.retrieval import Retriever

    if index is not None and name != "pydoc":
        raise UserError("--index applies to --set pydoc only")
    items, idx, info = load_set(name, pydoc_index=open_index(index) if index else None)
    if not items:
        raise UserError(f"{idx.dir}: none of the pydoc eval questions' topics is in this index")
    retriever = Retriever(idx)
    qa = closed_book_vs_rag(items, idx, name, k=k, seed=seed)
    result = {
        "set": name,
        "questions": len(items),
        **info,
        "retrieval": evaluate_retrieval(retriever, items, list(modes)),
        "answers": [qa["closed_book"], qa["rag"]],
        "rag_minus_closed_EM": qa["rag_minus_closed_EM"],
        "per_kind": qa["per_kind"],
        "misses": failures(qa),
    }
    if ragas:
        from ch18_rag.ragas_eval import ragas_parity

        result["ragas"] = ragas_parity(retriever, items[:10])
        if judge is not None:
            from ch18_rag.ragas_eval import ragas_llm_eval

            result["ragas_llm"] = ragas_llm_eval(
                retriever, items[:10], judge, embedder=retriever.index.embedder
            )
    return result


def run_demo(root: str | Path | None = None) -> dict:
    """The demo: small indexes (cached), cited answers, closed book vs RAG on three sets."""
    from ch18_rag.evaluation import evaluate_retrieval
    from ch18_rag.reader import ExtractiveReader
    from ch18_rag.retrieval import Retriever

    t0 = time.perf_counter()
    root = Path(root) if root is not None else artefact_path("ch18", "sets")
    pydoc_index, report = build_index(demo_pydoc_documents(), root / "pydoc-demo")
    ingest_note = (
        f"pydoc demo index: {report.chunks} chunks of {len(DEMO_TOPICS)} topics, "
        f"{report.embedded} embedded now, {len(report.unchanged)} files unchanged"
    )
    results, loaded = [], {}
    for name in ("encyclopedia", "paraphrased", "rewritten", "pydoc"):
        items, index, _ = load_set(name, root, pydoc_index=pydoc_index)
        loaded[name] = (items, index)
        results.append(closed_book_vs_rag(items, index, name))
    reader = ExtractiveReader()
    shown = []
    for name, i in (("pydoc", 0), ("encyclopedia", 0), ("paraphrased", 0), ("rewritten", 0)):
        items, index = loaded[name]
        ans = reader.answer(items[i].question, Retriever(index).search(items[i].question, k=5))
        shown.append(
            {
                "set": name,
                "question": items[i].question,
                "answer": ans.answer,
                "gold": items[i].answer,
                "cites": ", ".join(ans.citations),
            }
        )
    pydoc_items, _ = loaded["pydoc"]
    retrieval = evaluate_retrieval(Retriever(pydoc_index), pydoc_items, ["bm25", "dense", "hybrid"])
    by = {r["set"]: r for r in results}
    headline = "EM closed book vs RAG (extractive reader, ± SE): " + "; ".join(
        f"{name} {by[name]['closed_book']['EM']:.2f}±{by[name]['closed_book']['EM SE']:.2f} vs "
        f"{by[name]['rag']['EM']:.2f}±{by[name]['rag']['EM SE']:.2f} (n={by[name]['n']})"
        for name in ("encyclopedia", "paraphrased", "rewritten", "pydoc")
    )
    return {
        "showed": "cited answers from the extractive reader; closed book (same reader, random "
        "chunks) vs RAG (hybrid retrieval + reader) on template, paraphrased and rewritten "
        "encyclopedia questions and on pydoc definitions; BM25/dense/hybrid retrieval on the "
        "pydoc demo topics",
        "headline": headline,
        "ingest": ingest_note,
        "answers": shown,
        "qa": qa_table(results),
        "qa_detail": [
            {k: v for k, v in r.items() if k not in ("rag_rows", "closed_rows")} for r in results
        ],
        "misses": failures(by["rewritten"], 4),
        "retrieval": retrieval,
        "seconds": round(time.perf_counter() - t0, 1),
    }


__all__ = [
    "DEMO_TOPICS",
    "SETS",
    "build_index",
    "closed_book_vs_rag",
    "default_index",
    "demo_pydoc_documents",
    "embedding_cache_path",
    "evaluate_set",
    "failures",
    "graph_coverage",
    "load_set",
    "open_index",
    "per_kind",
    "qa_table",
    "run_demo",
    "shared_embedder",
]
