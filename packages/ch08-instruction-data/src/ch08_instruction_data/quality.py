"""Quality scores: per record (judge, length, toxicity, difficulty) and per dataset.

Per record, a **judge** rates the response from 1 to 5, as in AlpaGasus (Chen et al., 2024),
which asked ChatGPT for a 0-5 accuracy score and kept records rated 4.5 or more:

- :class:`RuleJudge` (the default) checks the response with the task family's verifier when the
  instruction belongs to one (5 = correct, 1 = wrong) and gives 3 when no verifier applies;
- :class:`LLMJudge` sends AlpaGasus' rating prompt to any :class:`~ch08_instruction_data.generate.
  Completer` (an OpenAI-compatible endpoint) and reads the ``Score:`` it returns.

The record's ``score`` is the judge's rating less a point for a toxic word or a response over
60 words. Per dataset: size, distinct-1/2 (Li et al., 2016), embedding spread (mean cosine
distance to the centroid of the default model's mean-pooled hidden states), difficulty (the
default model's loss on the responses), duplication, toxicity, family and topic balance
(normalised entropy), lengths, and the judge's verdicts.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from ch08_instruction_data.filters import normalize, words
from ch08_instruction_data.tasks import check_response

# a small list of insults and slurs-free abusive words: enough to show the mechanism
TOXIC_WORDS = frozenset(
    [
        "idiot",
        "stupid",
        "dumb",
        "moron",
        "loser",
        "hate",
        "kill",
        "shut",
        "ugly",
        "worthless",
        "pathetic",
        "trash",
    ]
)
TOPICS = {
    "addition": "arithmetic",
    "subtraction": "arithmetic",
    "addition-chain": "arithmetic",
    "story-sum": "word problems",
    "reverse": "spelling",
    "count": "spelling",
    "uppercase": "spelling",
    "sort": "lists",
}

ALPAGASUS_PROMPT = (
    "System: We would like to request your feedback on the performance of AI assistant in "
    "response to the instruction and the given input displayed following.\n\n"
    "Instruction: {instruction}\nInput: \nResponse: {response}\n\n"
    "User: Please rate according to the accuracy of the response to the instruction and the "
    "input. Each assistant receives a score on a scale of 0 to 5, where a higher score "
    "indicates higher level of the accuracy. Please first output a single line containing the "
    "value indicating the scores. In the subsequent line, please provide a comprehensive "
    "explanation of your evaluation, avoiding any potential bias.\nScore:"
)


class RuleJudge:
    """Rates a response by the task family's verifier: 5 correct, 1 wrong, 3 unverifiable."""

    name = "rule"

    def rate(self, instruction: str, response: str) -> dict[str, Any]:
        family, correct = check_response(instruction, response)
        rating = 3.0 if correct is None else (5.0 if correct else 1.0)
        return {"judge": rating, "family": family, "correct": correct}


class LLMJudge:
    """AlpaGasus' rating prompt sent to a completion model; unparseable answers get 3."""

    def __init__(self, completer, max_new_tokens: int = 8):
        self.completer = completer
        self.max_new_tokens = max_new_tokens
        self.name = f"llm:{completer.name}"

    def rate(self, instruction: str, response: str) -> dict[str, Any]:
        prompt = ALPAGASUS_PROMPT.format(instruction=instruction, response=response)
        text = self.completer.complete(prompt, self.max_new_tokens, 0)
        m = re.search(r"\d+(?:\.\d+)?", text)
        rating = min(5.0, max(0.0, float(m.group()))) if m else 3.0
        family, correct = check_response(instruction, response)
        return {"judge": rating, "family": family, "correct": correct}


def toxic_hits(text: str) -> int:
    """How many words of ``text`` are on :data:`TOXIC_WORDS`."""
    return sum(w in TOXIC_WORDS for w in words(text))


def score_record(record: dict[str, Any], judge=None) -> dict[str, Any]:
    """The record's quality scores (``score`` is what selection sorts by)."""
    judge = judge or RuleJudge()
    verdict = judge.rate(record["instruction"], record["response"])
    n_words = len(words(record["response"]))
    toxic = toxic_hits(record["instruction"] + " " + record["response"])
    score = verdict["judge"] - (1.0 if toxic else 0.0) - (1.0 if n_words > 60 else 0.0)
    return {
        **verdict,
        "instruction_words": len(words(record["instruction"])),
        "response_words": n_words,
        "toxic": toxic,
        "score": score,
    }


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Distinct n-grams over all n-grams of ``texts`` (Li et al., 2016)."""
    grams: list[tuple[str, ...]] = []
    for text in texts:
        tokens = words(text)
        grams += list(zip(*(tokens[i:] for i in range(n)), strict=False))
    return len(set(grams)) / len(grams) if grams else 0.0


def balance(labels: Sequence[Any]) -> float:
    """Normalised entropy of the label counts: 1 = perfectly balanced, 0 = one label."""
    counts = Counter(labels)
    if len(counts) < 2:
        return 0.0
    total = sum(counts.values())
    entropy = -sum(c / total * math.log(c / total) for c in counts.values())
    return entropy / math.log(len(counts))


def model_features(records: Sequence[dict[str, Any]], model, tokenizer, batch_size: int = 32):
    """Per record: the model's mean loss on the response given the instruction (difficulty) and
    the mean-pooled last hidden state of instruction + response (an embedding)."""
    import torch
    import torch.nn.functional as F

    losses, embeddings = [], []
    model.eval()
    for first in range(0, len(records), batch_size):
        batch = records[first : first + batch_size]
        rows, masks = [], []
        for r in batch:
            prompt = tokenizer(r["instruction"] + "\n", add_special_tokens=False)["input_ids"]
            answer = tokenizer(r["response"], add_special_tokens=False)["input_ids"]
            ids = (prompt + answer)[:128]
            rows.append(ids)
            masks.append(([0] * len(prompt) + [1] * len(answer))[:128])
        width = max(len(x) for x in rows)
        pad = tokenizer.pad_token_id or 0
        ids = torch.tensor([x + [pad] * (width - len(x)) for x in rows])
        attention = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in rows])
        answer_mask = torch.tensor([m + [0] * (width - len(m)) for m in masks], dtype=torch.float)
        with torch.inference_mode():
            out = model(input_ids=ids, attention_mask=attention, output_hidden_states=True)
        nll = F.cross_entropy(
            out.logits[:, :-1].transpose(1, 2).float(), ids[:, 1:], reduction="none"
        )
        m = answer_mask[:, 1:]
        losses += ((nll * m).sum(1) / m.sum(1).clamp(min=1)).tolist()
        hidden = out.hidden_states[-1].float()
        pooled = (hidden * attention[..., None]).sum(1) / attention.sum(1, keepdim=True)
        embeddings.append(pooled)
    return losses, torch.cat(embeddings) if embeddings else torch.zeros(0)


def embedding_spread(embeddings) -> float:
    """Mean cosine distance of the embeddings to their centroid (0 = all the same direction)."""
    import torch

    if len(embeddings) < 2:
        return 0.0
    unit = torch.nn.functional.normalize(embeddings, dim=1)
    centroid = torch.nn.functional.normalize(unit.mean(0, keepdim=True), dim=1)
    return float((1 - unit @ centroid.T).mean())


def dataset_report(
    records: Sequence[dict[str, Any]],
    scores: Sequence[dict[str, Any]],
    *,
    model=None,
    tokenizer=None,
) -> dict[str, Any]:
    """Per-dataset quality numbers for ``records`` and their :func:`score_record` results."""
    n = len(records)
    if n == 0:
        return {"records": 0}
    texts = [r["instruction"] + " " + r["response"] for r in records]
    families = [s["family"] or "other" for s in scores]
    topics = [TOPICS.get(f, "other") for f in families]
    keys = Counter(normalize(t) for t in texts)
    verified = [s["correct"] for s in scores if s["correct"] is not None]
    report: dict[str, Any] = {
        "records": n,
        "distinct_1": distinct_n(texts, 1),
        "distinct_2": distinct_n(texts, 2),
        "duplicate_rate": sum(c - 1 for c in keys.values()) / n,
        "toxic_rate": sum(s["toxic"] > 0 for s in scores) / n,
        "mean_instruction_words": sum(s["instruction_words"] for s in scores) / n,
        "mean_response_words": sum(s["response_words"] for s in scores) / n,
        "verified_share": len(verified) / n,
        "verified_correct": sum(verified) / len(verified) if verified else None,
        "mean_judge": sum(s["judge"] for s in scores) / n,
        "mean_score": sum(s["score"] for s in scores) / n,
        "family_balance": balance(families),
        "topic_balance": balance(topics),
        "families": dict(sorted(Counter(families).items())),
        "topics": dict(sorted(Counter(topics).items())),
    }
    if model is not None:
        losses, embeddings = model_features(records, model, tokenizer)
        report["difficulty_loss"] = sum(losses) / n
        report["embedding_spread"] = embedding_spread(embeddings)
    return report


def plot_report(report: dict[str, Any], scores: Sequence[dict[str, Any]], path) -> None:
    """A PNG: records per family, and the histogram of record scores."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from llmpath_core.io import atomic_write

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    families = report.get("families", {})
    left.barh(list(families), list(families.values()), color="#4c72b0")
    left.set_title("records per task family")
    right.hist([s["score"] for s in scores], bins=[0.5, 1.5, 2.5, 3.5, 4.5, 5.5], color="#dd8452")
    right.set_title("record scores (judge 1-5, less penalties)")
    right.set_xlabel("score")
    fig.tight_layout()
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=90)
    plt.close(fig)


def report_markdown(report: dict[str, Any]) -> str:
    """The composition report as a Markdown table."""
    lines = ["| measure | value |", "|---|---|"]
    for key, value in report.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items())
        elif isinstance(value, float):
            value = f"{value:.3f}"
        lines.append(f"| {key} | {value} |")
    return "\n".join(lines) + "\n"


__all__ = [
    "ALPAGASUS_PROMPT",
    "TOXIC_WORDS",
    "LLMJudge",
    "RuleJudge",
    "balance",
    "dataset_report",
    "distinct_n",
    "embedding_spread",
    "model_features",
    "plot_report",
    "report_markdown",
    "score_record",
    "toxic_hits",
]
