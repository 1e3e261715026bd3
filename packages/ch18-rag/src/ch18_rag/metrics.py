"""Evaluation metrics for retrieval and answers, written out in full.

Retrieval (binary relevance): ``recall@k = |relevant in top k| / |relevant|``, ``MRR`` (1 / rank of
the first relevant hit), ``nDCG@k = DCG / ideal DCG`` with gain 1 and discount ``1/log2(rank+1)``.

Answers: SQuAD's exact match and token F1 (lower case, punctuation and articles removed), ROUGE-N
and ROUGE-L F-measures with ``rouge-score``'s tokenization (lower case, non-alphanumerics to
spaces, no stemming).

ragas' non-LLM metrics, re-derived: string similarity ``1 - Levenshtein / max(len)``; non-LLM
context precision (average precision of retrieved contexts whose best similarity to a reference
context is >= 0.5) and context recall (share of reference contexts whose best similarity to a
retrieved context is > 0.5).
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter


def recall_at_k(ranked: list[str], relevant: set[str], k: int) -> float:
    return len(set(ranked[:k]) & relevant) / len(relevant) if relevant else 0.0


def hit_at_k(ranked: list[str], relevant: set[str], k: int) -> float:
    return float(bool(set(ranked[:k]) & relevant))


def mrr(ranked: list[str], relevant: set[str]) -> float:
    for rank, item in enumerate(ranked, 1):
        if item in relevant:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranked: list[str], relevant: set[str], k: int) -> float:
    dcg = sum(1.0 / math.log2(r + 1) for r, item in enumerate(ranked[:k], 1) if item in relevant)
    ideal = sum(1.0 / math.log2(r + 1) for r in range(1, min(len(relevant), k) + 1))
    return dcg / ideal if ideal else 0.0


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower, drop punctuation and articles, squeeze spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation) | {"“", "”", "’"})
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def exact_match(prediction: str, reference: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(reference))


def token_f1(prediction: str, reference: str) -> float:
    pred, ref = normalize_answer(prediction).split(), normalize_answer(reference).split()
    common = sum((Counter(pred) & Counter(ref)).values())
    if not pred or not ref:
        return float(pred == ref)
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def rouge_tokens(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).split()


def _f(overlap: int, n_pred: int, n_ref: int) -> float:
    if overlap == 0:
        return 0.0
    p, r = overlap / n_pred, overlap / n_ref
    return 2 * p * r / (p + r)


def rouge_n(prediction: str, reference: str, n: int = 1) -> float:
    pred, ref = rouge_tokens(prediction), rouge_tokens(reference)
    grams = lambda toks: Counter(tuple(toks[i : i + n]) for i in range(len(toks) - n + 1))  # noqa: E731
    gp, gr = grams(pred), grams(ref)
    return _f(sum((gp & gr).values()), sum(gp.values()), sum(gr.values()))


def rouge_l(prediction: str, reference: str) -> float:
    pred, ref = rouge_tokens(prediction), rouge_tokens(reference)
    if not pred or not ref:
        return 0.0
    row = [0] * (len(ref) + 1)
    for a in pred:
        prev = 0
        for j, b in enumerate(ref, 1):
            prev, row[j] = row[j], prev + 1 if a == b else max(row[j], row[j - 1])
    return _f(row[-1], len(pred), len(ref))


def levenshtein(a: str, b: str) -> int:
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def string_similarity(response: str, reference: str) -> float:
    longest = max(len(response), len(reference))
    return 1.0 - levenshtein(response, reference) / longest if longest else 1.0


def context_precision(retrieved: list[str], references: list[str], threshold=0.5) -> float:
    verdicts = [
        int(max(string_similarity(ref, rc) for ref in references) >= threshold) for rc in retrieved
    ]
    numerator = sum(sum(verdicts[: i + 1]) / (i + 1) * v for i, v in enumerate(verdicts))
    return numerator / (sum(verdicts) + 1e-10)


def context_recall(retrieved: list[str], references: list[str], threshold=0.5) -> float:
    verdicts = [
        int(max(string_similarity(ref, rc) for rc in retrieved) > threshold) for ref in references
    ]
    return sum(verdicts) / len(verdicts) if verdicts else float("nan")


__all__ = [
    "context_precision",
    "context_recall",
    "exact_match",
    "hit_at_k",
    "levenshtein",
    "mrr",
    "ndcg_at_k",
    "normalize_answer",
    "recall_at_k",
    "rouge_l",
    "rouge_n",
    "string_similarity",
    "token_f1",
]
