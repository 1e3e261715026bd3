"""Does quality selection pay? SFT on all the data vs on the top-scored subset, at equal steps.

The LIMA / AlpaGasus question (Zhou et al., 2023; Chen et al., 2024) at lab scale: fine-tune
llmpath's default model on every record the filters kept, and separately on the records the
judge scored best, for the same number of optimizer steps with the same batch size, learning
rate and seed, then measure both on a held-out task: fresh, correct records of the same task
families that neither run saw.

Training is plain supervised fine-tuning on Alpaca-formatted records (the template of
:mod:`ch08_instruction_data.templates`, ending with the model's own end-of-text token, so no new
tokens are needed), with the loss on the assistant tokens only (the template's
``{% generation %}`` mask). The held-out measures are the mean assistant-token loss (nats per
token, with a standard error over records) and greedy exact-match accuracy.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

from ch08_instruction_data.tasks import check_response, template_records
from ch08_instruction_data.templates import get_template, render_text, tokenize_chat

#: a short system prompt replaces Alpaca's 25-token preamble: the same format, cheaper to train
SYSTEM = "Answer the task."


def _messages(record: dict[str, Any]) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": record["instruction"]},
        {"role": "assistant", "content": record["response"]},
    ]


def encode_records(records: Sequence[dict[str, Any]], tokenizer, max_length: int = 128):
    """``(input_ids, labels)`` lists per record: labels are -100 outside the assistant mask."""
    template = get_template("alpaca", eos_token=tokenizer.eos_token)
    encoded = []
    for record in records:
        chat = tokenize_chat(_messages(record), template, tokenizer, max_length=max_length)
        labels = [
            t if m else -100
            for t, m in zip(chat["input_ids"], chat["assistant_masks"], strict=True)
        ]
        encoded.append((chat["input_ids"], labels))
    return encoded


def _batch(rows, pad_id: int):
    import torch

    width = max(len(ids) for ids, _ in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (x, y) in enumerate(rows):
        ids[i, : len(x)] = torch.tensor(x)
        labels[i, : len(y)] = torch.tensor(y)
        attention[i, : len(x)] = 1
    return ids, labels, attention


def sft(
    model,
    tokenizer,
    records: Sequence[dict[str, Any]],
    *,
    steps: int = 150,
    batch_size: int = 16,
    lr: float = 1e-3,
    seed: int = 0,
) -> list[float]:
    """Fine-tune ``model`` in place for ``steps`` AdamW steps; returns the training losses.

    Batches are drawn by reshuffling the records each epoch (seeded), so two runs with the same
    seed and data see the same batches. The learning rate warms up for 10 steps and decays by a
    cosine to zero.
    """
    import torch

    encoded = encode_records(records, tokenizer)
    rng = random.Random(seed)
    torch.manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    warmup = min(10, steps)

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    order: list[int] = []
    losses = []
    model.train()
    for _ in range(steps):
        if len(order) < batch_size:
            more = list(range(len(encoded)))
            rng.shuffle(more)
            order += more
        rows = [encoded[i] for i in order[:batch_size]]
        del order[:batch_size]
        ids, labels, attention = _batch(rows, tokenizer.pad_token_id or 0)
        loss = model(input_ids=ids, attention_mask=attention, labels=labels).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        losses.append(float(loss.detach()))
    model.eval()
    return losses


def heldout_losses(model, tokenizer, records: Sequence[dict[str, Any]], batch_size: int = 32):
    """Mean assistant-token loss (nats) of each record."""
    import torch
    import torch.nn.functional as F

    encoded = encode_records(records, tokenizer)
    out = []
    model.eval()
    for first in range(0, len(encoded), batch_size):
        ids, labels, attention = _batch(
            encoded[first : first + batch_size], tokenizer.pad_token_id or 0
        )
        with torch.inference_mode():
            logits = model(input_ids=ids, attention_mask=attention).logits.float()
        nll = F.cross_entropy(
            logits[:, :-1].transpose(1, 2), labels[:, 1:], reduction="none", ignore_index=-100
        )
        counted = (labels[:, 1:] != -100).float()
        out += ((nll * counted).sum(1) / counted.sum(1).clamp(min=1)).tolist()
    return out


def exact_match(model, tokenizer, records: Sequence[dict[str, Any]], max_new_tokens: int = 24):
    """Per record: 1 if the greedy answer passes the task's checker, else 0."""
    import torch

    template = get_template("alpaca", eos_token=tokenizer.eos_token)
    hits = []
    for record in records:
        prompt = render_text(_messages(record)[:2], template, add_generation_prompt=True)
        ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            out = model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                use_cache=True,
                pad_token_id=tokenizer.eos_token_id,
                eos_token_id=tokenizer.eos_token_id,
            )
        answer = tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True).strip()
        hits.append(1 if check_response(record["instruction"], answer)[1] else 0)
    return hits


def heldout_task(n: int = 140, seed: int = 10_000) -> list[dict[str, Any]]:
    """Fresh, correct records of the task families (a seed no build uses by default)."""
    return template_records(n, seed)


def _mean_se(values: Sequence[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, float("nan")
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var / n)


def compare_selection(
    arms: dict[str, Sequence[dict[str, Any]]],
    heldout: Sequence[dict[str, Any]],
    *,
    seeds: Sequence[int] = (0,),
    steps: int = 150,
    batch_size: int = 8,
    lr: float = 1e-3,
    em_records: int = 0,
    load_model=None,
    log=lambda message: None,
) -> dict[str, Any]:
    """Train one model per arm (name -> records) and seed, at equal steps; held-out scores.

    The first arm is the baseline (``all``). Returns, per arm, the held-out loss averaged over
    seeds, and for every other arm the mean of its paired per-seed difference from the baseline
    with a standard error over seeds; the same for exact match when ``em_records`` > 0.
    """
    if load_model is None:
        from llmpath_core import load_default_model as load_model
    names = list(arms)
    runs = []
    for seed in seeds:
        row: dict[str, Any] = {"seed": seed}
        for arm in names:
            model, tokenizer = load_model()
            train = sft(
                model, tokenizer, arms[arm], steps=steps, batch_size=batch_size, lr=lr, seed=seed
            )
            losses = heldout_losses(model, tokenizer, heldout)
            row[f"{arm}_loss"], row[f"{arm}_loss_se"] = _mean_se(losses)
            row[f"{arm}_train_loss_last"] = sum(train[-10:]) / len(train[-10:])
            if em_records:
                hits = exact_match(model, tokenizer, heldout[:em_records])
                row[f"{arm}_exact_match"] = sum(hits) / len(hits)
            log(f"seed {seed} {arm}: held-out loss {row[f'{arm}_loss']:.4f}")
        runs.append(row)
    summary: dict[str, Any] = {
        "records": {arm: len(data) for arm, data in arms.items()},
        "heldout_records": len(heldout),
        "steps": steps,
        "batch_size": batch_size,
        "lr": lr,
        "seeds": list(seeds),
    }
    base = names[0]
    metrics = ["loss", "exact_match"] if em_records else ["loss"]
    for metric in metrics:
        for arm in names:
            summary[f"{arm}_{metric}"] = _mean_se([r[f"{arm}_{metric}"] for r in runs])[0]
        for arm in names[1:]:
            diffs = [r[f"{arm}_{metric}"] - r[f"{base}_{metric}"] for r in runs]
            mean, se = _mean_se(diffs)
            summary[f"{arm}_minus_{base}_{metric}"] = mean
            summary[f"{arm}_minus_{base}_{metric}_se"] = se
    summary["runs"] = runs
    return summary


__all__ = [
    "compare_selection",
    "encode_records",
    "exact_match",
    "heldout_losses",
    "heldout_task",
    "sft",
]
