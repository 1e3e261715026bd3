"""ragas' non-LLM metrics through our evaluation, next to ragas' own numbers on the same samples.

Ours are in :mod:`ch18_rag.metrics` (``string_similarity``, ``context_precision``,
``context_recall``); here each retrieved sample is scored by both. ragas' LLM metrics need a judge
endpoint and are not run here.
"""

from __future__ import annotations

import asyncio

from ch18_rag.metrics import context_precision, context_recall, string_similarity


def ragas_scores(
    response: str, reference: str, retrieved: list[str], references: list[str]
) -> dict[str, float]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from ragas.dataset_schema import SingleTurnSample
        from ragas.metrics import (
            NonLLMContextPrecisionWithReference,
            NonLLMContextRecall,
            NonLLMStringSimilarity,
        )

    sample = SingleTurnSample(
        user_input="",
        response=response,
        reference=reference,
        retrieved_contexts=retrieved,
        reference_contexts=references,
    )

    async def score() -> dict[str, float]:
        return {
            "string_similarity": await NonLLMStringSimilarity().single_turn_ascore(sample),
            "context_precision": await NonLLMContextPrecisionWithReference().single_turn_ascore(
                sample
            ),
            "context_recall": await NonLLMContextRecall().single_turn_ascore(sample),
        }

    return asyncio.run(score())


def our_scores(
    response: str, reference: str, retrieved: list[str], references: list[str]
) -> dict[str, float]:
    return {
        "string_similarity": string_similarity(response, reference),
        "context_precision": context_precision(retrieved, references),
        "context_recall": context_recall(retrieved, references),
    }


def ragas_parity(retriever, items, k: int = 3) -> dict[str, float]:
    """Mean of each metric, ours and ragas', and the largest per-sample difference."""
    from ch18_rag.reader import ExtractiveReader

    reader = ExtractiveReader()
    ours, theirs, worst = {}, {}, 0.0
    for item in items:
        hits = retriever.search(item.question, k=k)
        answer = reader.answer(item.question, hits).answer
        # sentence-level contexts: each hit's best sentence for the question (ragas' string
        # similarity compares whole strings, so a 200-token chunk never "matches" one sentence)
        contexts = [reader.answer(item.question, [h]).sentence or h.text for h in hits]
        args = (answer, item.answer, contexts, [item.gold])
        a, b = our_scores(*args), ragas_scores(*args)
        for key in a:
            ours[key] = ours.get(key, 0.0) + a[key] / len(items)
            theirs[key] = theirs.get(key, 0.0) + b[key] / len(items)
            worst = max(worst, abs(a[key] - b[key]))
    out = {f"ours {k}": round(v, 4) for k, v in ours.items()}
    out.update({f"ragas {k}": round(v, 4) for k, v in theirs.items()})
    out["max abs diff"] = worst
    return out


__all__ = ["our_scores", "ragas_parity", "ragas_scores"]
