"""Run an evaluation set against an index: retrieval metrics per mode, answer metrics per reader.

A chunk is relevant to a question when it comes from the gold source and contains the answer (or
the start of the gold sentence), whitespace-normalised, so relevance does not depend on how the
corpus was chunked.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

import numpy as np

from ch18_rag.evalsets import QAItem
from ch18_rag.index import RagIndex
from ch18_rag.metrics import (
    exact_match,
    hit_at_k,
    mrr,
    ndcg_at_k,
    recall_at_k,
    rouge_l,
    token_f1,
)
from ch18_rag.reader import ExtractiveReader
from ch18_rag.retrieval import Hit, Retriever


def _squash(text: str) -> str:
    return " ".join(text.split())


def relevant_chunks(index: RagIndex, item: QAItem) -> set[str]:
    rows = index.table.con.execute(
        "SELECT chunk_id, text FROM chunks WHERE source = ?", (item.source,)
    ).fetchall()
    answer, gold = _squash(item.answer), _squash(item.gold)[:40]
    return {cid for cid, text in rows if answer in _squash(text) or gold in _squash(text)}


def evaluate_retrieval(
    retriever: Retriever, items: list[QAItem], modes: list[str], k: int = 10, **search
) -> list[dict]:
    """One row per mode: recall@1/5/10, hit@5, MRR, nDCG@10 and mean latency."""
    gold = [relevant_chunks(retriever.index, item) for item in items]
    rows = []
    for mode in modes:
        totals = {
            "recall@1": 0.0,
            "recall@5": 0.0,
            "recall@10": 0.0,
            "hit@5": 0.0,
            "MRR": 0.0,
            "nDCG@10": 0.0,
        }
        t0 = time.perf_counter()
        for item, relevant in zip(items, gold, strict=True):
            ranked = [h.chunk_id for h in retriever.search(item.question, k=k, mode=mode, **search)]
            totals["recall@1"] += recall_at_k(ranked, relevant, 1)
            totals["recall@5"] += recall_at_k(ranked, relevant, 5)
            totals["recall@10"] += recall_at_k(ranked, relevant, 10)
            totals["hit@5"] += hit_at_k(ranked, relevant, 5)
            totals["MRR"] += mrr(ranked, relevant)
            totals["nDCG@10"] += ndcg_at_k(ranked, relevant, 10)
        elapsed = time.perf_counter() - t0
        row = {"mode": mode, **{m: round(v / len(items), 4) for m, v in totals.items()}}
        row["ms/query"] = round(1000 * elapsed / len(items), 1)
        rows.append(row)
    return rows


def score_answers(answer_fn: Callable[[str], str], items: list[QAItem]) -> list[dict]:
    """One row per question: the prediction and its exact match, token F1 and ROUGE-L."""
    rows = []
    for item in items:
        prediction = answer_fn(item.question)
        rows.append(
            {
                "question": item.question,
                "kind": item.kind,
                "gold": item.answer,
                "prediction": prediction,
                "EM": exact_match(prediction, item.answer),
                "F1": token_f1(prediction, item.answer),
                "ROUGE-L": rouge_l(prediction, item.answer),
            }
        )
    return rows


def bootstrap(values, n_boot: int = 2000, seed: int = 0) -> dict:
    """Mean of ``values`` with its bootstrap standard error and 95 % percentile interval.

    Questions are resampled with replacement ``n_boot`` times (numpy ``default_rng(seed)``); the
    standard error is the standard deviation of the resampled means.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return {"mean": float("nan"), "se": float("nan"), "ci95": [float("nan")] * 2, "n": 0}
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(n_boot, x.size))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return {
        "mean": float(x.mean()),
        "se": float(means.std(ddof=1)),
        "ci95": [float(lo), float(hi)],
        "n": int(x.size),
    }


def summarize(rows: list[dict], name: str, n_boot: int = 2000, seed: int = 0) -> dict:
    """Mean EM, F1 and ROUGE-L over ``rows`` (from :func:`score_answers`), EM and F1 with a
    bootstrap standard error and 95 % interval over questions."""
    out: dict = {"system": name}
    for metric in ("EM", "F1", "ROUGE-L"):
        stats = bootstrap([r[metric] for r in rows], n_boot, seed)
        out[metric] = round(stats["mean"], 4)
        if metric != "ROUGE-L":
            out[f"{metric} SE"] = round(stats["se"], 4)
            out[f"{metric} 95% CI"] = [round(v, 4) for v in stats["ci95"]]
    out["n"] = len(rows)
    return out


def paired_difference(
    better: list[dict], worse: list[dict], metric: str = "EM", n_boot: int = 2000, seed: int = 0
) -> dict:
    """``mean(better) - mean(worse)`` on the same questions, bootstrapped in pairs."""
    if [r["question"] for r in better] != [r["question"] for r in worse]:
        raise ValueError("paired_difference needs the same questions in the same order")
    stats = bootstrap(
        [b[metric] - w[metric] for b, w in zip(better, worse, strict=True)], n_boot, seed
    )
    return {
        "metric": metric,
        "difference": round(stats["mean"], 4),
        "SE": round(stats["se"], 4),
        "95% CI": [round(v, 4) for v in stats["ci95"]],
        "n": stats["n"],
    }


def evaluate_answers(
    answer_fn: Callable[[str], str], items: list[QAItem], name: str = "rag"
) -> dict:
    """Exact match, token F1 and ROUGE-L of ``answer_fn(question)`` against the gold answers,
    with bootstrap standard errors (see :func:`summarize`)."""
    return summarize(score_answers(answer_fn, items), name)


def rag_answer_fn(retriever: Retriever, k: int = 5, mode: str = "hybrid", **search):
    """Retrieval, then the extractive reader on the ``k`` hits."""
    reader = ExtractiveReader()

    def answer(question: str) -> str:
        return reader.answer(question, retriever.search(question, k=k, mode=mode, **search)).answer

    return answer


def closed_book_answer_fn(index: RagIndex, k: int = 5, seed: int = 0):
    """The same reader without retrieval: ``k`` chunks drawn at random from the index.

    The draw depends only on ``seed`` and the question text (not on the order questions are
    asked). This is what the RAG pipeline does when retrieval is taken out; with no chunks at all
    the reader has nothing to extract and answers "" (EM 0 by construction).
    """
    reader = ExtractiveReader()
    n = len(index)

    def answer(question: str) -> str:
        digest = hashlib.sha256(f"{seed}\0{question}".encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "big"))
        positions = rng.choice(n, size=min(k, n), replace=False)
        rows = index.rows([int(p) for p in positions])
        hits = [
            Hit(r["chunk_id"], r["source"], 0.0, r["text"], int(p))
            for p, r in zip(positions, rows, strict=True)
        ]
        return reader.answer(question, hits).answer

    return answer


__all__ = [
    "bootstrap",
    "closed_book_answer_fn",
    "evaluate_answers",
    "evaluate_retrieval",
    "paired_difference",
    "rag_answer_fn",
    "relevant_chunks",
    "score_answers",
    "summarize",
]
