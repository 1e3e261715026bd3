"""Self-improvement from user feedback logged as JSONL.

Each line of a feedback log is one interaction::

    {"prompt": "7+5=", "response": "13", "rating": "down", "correction": "12"}

``rating`` is ``up`` or ``down`` (also ``1`` / ``-1``, ``true`` / ``false``); ``correction`` is
optional. :func:`read_feedback` checks every line and names each malformed one by its line number.
:func:`training_pairs` turns the log into supervised pairs: liked responses are kept, corrected
ones become ``(prompt, correction)``, disliked ones without a correction are dropped.

:func:`feedback_loop` runs the periodic-update cycle on a verifiable task (single-digit
addition): the model answers a round of prompts, a simulated user rates each answer and corrects
the wrong ones, the ratings are appended to the JSONL log, and the model is fine-tuned on all
pairs so far; accuracy on held-out prompts is measured after each round.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from llmpath_core import UserError

RATINGS = {"up": 1, "down": -1, "1": 1, "-1": -1, "true": 1, "false": -1, "+1": 1}


@dataclass
class Feedback:
    """One logged interaction."""

    prompt: str
    response: str
    rating: int  # +1 or -1
    correction: str | None = None


def _rating(value) -> int | None:
    if isinstance(value, bool):
        return 1 if value else -1
    if isinstance(value, int | float) and value in (1, -1):
        return int(value)
    if isinstance(value, str):
        return RATINGS.get(value.strip().lower())
    return None


def parse_line(text: str) -> Feedback:
    """One JSONL line as :class:`Feedback`; ``ValueError`` says what is wrong with it."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg})") from None
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    for key in ("prompt", "response"):
        if not isinstance(record.get(key), str):
            raise ValueError(f"'{key}' missing or not a string")
    rating = _rating(record.get("rating"))
    if rating is None:
        raise ValueError(f"'rating' must be up/down (or 1/-1), got {record.get('rating')!r}")
    correction = record.get("correction")
    if correction is not None and not isinstance(correction, str):
        raise ValueError("'correction' must be a string")
    return Feedback(record["prompt"], record["response"], rating, correction or None)


def read_feedback(path: str | Path) -> list[Feedback]:
    """Every record of a feedback JSONL file (blank lines skipped).

    Raises :class:`UserError` naming the malformed lines (up to five) in one line.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"feedback log not found: {path}")
    records, bad = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(parse_line(line))
        except ValueError as exc:
            bad.append(f"line {number}: {exc}")
    if bad:
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        raise UserError(f"{path}: malformed feedback, {'; '.join(bad[:5])}{more}")
    if not records:
        raise UserError(f"{path} holds no feedback records")
    return records


def write_feedback(path: str | Path, records: Iterable[Feedback], append: bool = True) -> None:
    """Append (or write) ``records`` as JSONL."""
    with open(path, "a" if append else "w", encoding="utf-8") as handle:
        for r in records:
            row = {
                "prompt": r.prompt,
                "response": r.response,
                "rating": "up" if r.rating > 0 else "down",
            }
            if r.correction is not None:
                row["correction"] = r.correction
            handle.write(json.dumps(row) + "\n")


def training_pairs(records: Iterable[Feedback]) -> list[tuple[str, str]]:
    """``(prompt, target)`` pairs: liked responses and corrections; uncorrected dislikes dropped."""
    pairs = []
    for r in records:
        if r.correction is not None:
            pairs.append((r.prompt, r.correction))
        elif r.rating > 0:
            pairs.append((r.prompt, r.response))
    return pairs


def sft_step_loss(model, tokenizer, pairs: list[tuple[str, str]], eos: str = "\n") -> torch.Tensor:
    """Cross-entropy on the target tokens only (the prompt is context), padded batch."""
    rows, masks = [], []
    for prompt, target in pairs:
        p = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        t = tokenizer(target + eos, add_special_tokens=False)["input_ids"]
        rows.append(p + t)
        masks.append([0] * len(p) + [1] * len(t))
    width = max(len(r) for r in rows)
    pad = tokenizer.pad_token_id or 0
    ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows])
    mask = torch.tensor([m + [0] * (width - len(m)) for m in masks], dtype=torch.bool)
    logits = model(input_ids=ids).logits[:, :-1]
    nll = F.cross_entropy(
        logits.reshape(-1, logits.size(-1)), ids[:, 1:].reshape(-1), reduction="none"
    )
    return nll[mask[:, 1:].reshape(-1)].mean()


def fine_tune_on_pairs(
    model, tokenizer, pairs, steps: int, lr: float = 2e-3, batch: int = 16, seed: int = 0
) -> float:
    """A few optimizer steps on random batches of ``pairs``; returns the last loss."""
    rng = random.Random(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    loss = torch.tensor(float("nan"))
    for _ in range(steps):
        chosen = [pairs[rng.randrange(len(pairs))] for _ in range(min(batch, len(pairs)))]
        loss = sft_step_loss(model, tokenizer, chosen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    model.eval()
    return float(loss.detach())


@torch.no_grad()
def answer(model, tokenizer, prompt: str, max_new_tokens: int = 3) -> str:
    """Greedy answer up to the first newline."""
    ids = torch.tensor([tokenizer(prompt, add_special_tokens=False)["input_ids"]])
    out = model.generate(
        ids, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id
    )
    return tokenizer.decode(out[0, ids.size(1) :]).split("\n")[0].strip()


def addition_prompts(seed: int = 0) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """All single-digit additions ``a+b=`` with their answers, split 70/30 into train / held-out."""
    items = [(f"{a}+{b}=", str(a + b)) for a in range(10) for b in range(10)]
    random.Random(seed).shuffle(items)
    return items[:70], items[70:]


def accuracy(model, tokenizer, items: list[tuple[str, str]]) -> float:
    """Exact-match accuracy of greedy answers."""
    return sum(answer(model, tokenizer, p) == a for p, a in items) / len(items)


def feedback_loop(
    model,
    tokenizer,
    log_path: str | Path,
    rounds: int = 4,
    per_round: int = 35,
    steps_per_update: int = 40,
    seed: int = 0,
) -> list[dict]:
    """Rounds of answer -> simulated rating/correction -> JSONL log -> fine-tune on the whole log.

    The log is re-read with :func:`read_feedback` before each update (the path a real service
    would take). Returns per round: held-out accuracy before the update, the share of liked
    answers, and held-out accuracy after it.
    """
    train, held_out = addition_prompts(seed)
    rng = random.Random(seed)
    Path(log_path).write_text("")
    history = []
    for round_index in range(rounds):
        before = accuracy(model, tokenizer, held_out)
        batch = [train[rng.randrange(len(train))] for _ in range(per_round)]
        records = []
        for prompt, truth in batch:
            response = answer(model, tokenizer, prompt)
            good = response == truth
            records.append(Feedback(prompt, response, 1 if good else -1, None if good else truth))
        write_feedback(log_path, records)
        pairs = training_pairs(read_feedback(log_path))
        fine_tune_on_pairs(model, tokenizer, pairs, steps_per_update, seed=seed + round_index)
        history.append(
            {
                "round": round_index + 1,
                "liked": sum(r.rating > 0 for r in records) / len(records),
                "held_out_before": before,
                "held_out_after": accuracy(model, tokenizer, held_out),
                "log_records": (round_index + 1) * per_round,
            }
        )
    return history


__all__ = [
    "Feedback",
    "accuracy",
    "addition_prompts",
    "answer",
    "feedback_loop",
    "fine_tune_on_pairs",
    "parse_line",
    "read_feedback",
    "sft_step_loss",
    "training_pairs",
    "write_feedback",
]
