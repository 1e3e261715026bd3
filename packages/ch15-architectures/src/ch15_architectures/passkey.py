"""Passkey retrieval (Mohtashami & Jaggi, 2023): find a few digits hidden in filler text.

A sequence is filler tokens with ``KEY d1 d2 d3`` inserted at a random place and ``QUERY`` at
the end; the model must continue with ``d1 d2 d3``. Every architecture is trained on the same
sequences of up to ``train_len`` tokens and then tested at growing lengths: an architecture
whose memory reaches the key answers, one whose receptive field does not (a sliding window
narrower than the distance) guesses (10% per digit).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ch15_architectures.stack import StackConfig, StackLM
from llmpath_core import UserError

DIGITS, FILLERS = 10, 16
KEY, QUERY = DIGITS + FILLERS, DIGITS + FILLERS + 1
VOCAB = QUERY + 1
KEY_LEN = 3

ARCHITECTURES: dict[str, dict[str, Any]] = {
    "attention": {"layers": ["attn", "attn"]},
    "mamba": {"layers": ["ssm", "ssm", "ssm"]},
    "window-8": {"layers": ["attn", "attn"], "window": 8},
}


def passkey_batch(
    batch: int, length: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(inputs, answer)``: inputs ``(batch, length)`` ending in QUERY, answer ``(batch, 3)``."""
    if length < KEY_LEN + 3:
        raise UserError(f"a passkey sequence needs at least {KEY_LEN + 3} tokens (got {length})")
    x = torch.randint(DIGITS, DIGITS + FILLERS, (batch, length), generator=gen)
    answer = torch.randint(0, DIGITS, (batch, KEY_LEN), generator=gen)
    where = torch.randint(0, length - KEY_LEN - 1, (batch,), generator=gen)
    for row, pos in enumerate(where.tolist()):
        x[row, pos] = KEY
        x[row, pos + 1 : pos + 1 + KEY_LEN] = answer[row]
    x[:, -1] = QUERY
    return x, answer


def _logits_for_answer(model, x, answer):
    """Teacher-forced logits at the 3 answer positions."""
    seq = torch.cat([x, answer[:, :-1]], dim=1)
    return model(seq).logits[:, -KEY_LEN:]


def train_passkey(
    model, steps: int, train_len: int, batch: int = 32, seed: int = 0, lr: float = 3e-3
) -> None:
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        length = int(torch.randint(KEY_LEN + 3, train_len + 1, (1,), generator=gen))
        x, answer = passkey_batch(batch, length, gen)
        logits = _logits_for_answer(model, x, answer)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), answer.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    model.eval()


@torch.no_grad()
def passkey_accuracy(model, length: int, samples: int = 128, seed: int = 1) -> float:
    """Share of sequences whose three digits are all predicted (greedy = teacher-forced here)."""
    gen = torch.Generator().manual_seed(seed)
    x, answer = passkey_batch(samples, length, gen)
    pred = _logits_for_answer(model, x, answer).argmax(-1)
    return float((pred == answer).all(-1).float().mean())


def compare_passkey(
    lengths: list[int],
    steps: int = 300,
    train_len: int | None = None,
    hidden: int = 64,
    seed: int = 0,
) -> dict[str, Any]:
    """Train each of :data:`ARCHITECTURES` on passkeys up to ``train_len`` (default: the
    smallest test length... up to the largest test length's half) and test at ``lengths``."""
    train_len = train_len or max(lengths[0], KEY_LEN + 3)
    table, results = [], {}
    for name, spec in ARCHITECTURES.items():
        torch.manual_seed(seed)
        model = StackLM(StackConfig(vocab_size=VOCAB, hidden_size=hidden, **spec))
        train_passkey(model, steps, train_len, seed=seed)
        accs = {n: passkey_accuracy(model, n, seed=seed + 1) for n in lengths}
        results[name] = accs
        table.append({"architecture": name, **{f"len {n}": a for n, a in accs.items()}})
    return {
        "lengths": lengths,
        "train_len": train_len,
        "steps": steps,
        "accuracy": results,
        "table": table,
        "chance": 1 / DIGITS**KEY_LEN,
    }
