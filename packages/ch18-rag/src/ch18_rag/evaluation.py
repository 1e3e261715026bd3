"""Run an evaluation set against an index: retrieval metrics per mode, answer metrics per reader.

A chunk is relevant to a question when it comes from the gold source and contains the answer (or
the start of the gold sentence), whitespace-normalised, so relevance does not depend on how the
corpus was chunked.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

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
from ch18_rag.retrieval import Retriever


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


def evaluate_answers(
    answer_fn: Callable[[str], str], items: list[QAItem], name: str = "rag"
) -> dict:
    """Exact match, token F1 and ROUGE-L of ``answer_fn(question)`` against the gold answers."""
    em = f1 = rl = 0.0
    for item in items:
        prediction = answer_fn(item.question)
        em += exact_match(prediction, item.answer)
        f1 += token_f1(prediction, item.answer)
        rl += rouge_l(prediction, item.answer)
    n = len(items)
    return {
        "system": name,
        "EM": round(em / n, 4),
        "F1": round(f1 / n, 4),
        "ROUGE-L": round(rl / n, 4),
        "n": n,
    }


def rag_answer_fn(retriever: Retriever, k: int = 5, mode: str = "hybrid", **search):
    reader = ExtractiveReader()

    def answer(question: str) -> str:
        return reader.answer(question, retriever.search(question, k=k, mode=mode, **search)).answer

    return answer


def chance_answer_fn(candidates: dict[str, list[str]], items: list[QAItem], seed: int = 0):
    """Guess a random answer of the right kind: what "near chance" means for a closed book."""
    rng = random.Random(seed)
    by_question = {it.question: it.kind if it.kind in candidates else "founder" for it in items}
    return lambda q: rng.choice(candidates[by_question[q]])


__all__ = [
    "chance_answer_fn",
    "evaluate_answers",
    "evaluate_retrieval",
    "rag_answer_fn",
    "relevant_chunks",
]
