"""Passkey retrieval (Mohtashami & Jaggi 2023): can a model find a number hidden in filler text?

A sample of ``length`` bytes is filler prose with ``The pass key is 48213. Remember it.`` put at
a relative ``depth`` and the question ``What is the pass key? The pass key is 48213.`` at the end.
The model is right when each answer digit is its top prediction given the digits before it —
exactly when greedy decoding after the question would print the key.

Tokens are raw UTF-8 bytes (ids 0–255): a vocabulary with no tokenizer to train, so lengths in
tokens and characters are the same and the experiment stays small.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

KEY_DIGITS = 5
QUESTION = " What is the pass key? The pass key is "


def needle(key: str) -> str:
    """The sentence that hides ``key`` in the filler."""
    return f" The pass key is {key}. Remember it. {key} is the pass key. "


@dataclass
class PasskeySample:
    """One sample: byte ids, where the answer digits sit, and the key."""

    ids: list[int]
    answer_positions: list[int]  # positions of the answer digits in ``ids``
    key: str


def encode(text: str) -> list[int]:
    """Byte ids of ``text``."""
    return list(text.encode("utf-8"))


def make_sample(filler: str, length: int, depth: float, rng: random.Random) -> PasskeySample:
    """A passkey sample of exactly ``length`` bytes from a random window of ``filler``."""
    key = "".join(rng.choice("0123456789") for _ in range(KEY_DIGITS))
    hidden = encode(needle(key))
    tail = encode(QUESTION + key + ".")
    room = length - len(hidden) - len(tail)
    if room < 0:
        raise ValueError(
            f"length {length} is too short for a passkey sample ({len(hidden) + len(tail)} bytes)"
        )
    filler_bytes = filler.encode("utf-8")
    start = rng.randrange(0, len(filler_bytes) - room - 1)
    text = list(filler_bytes[start : start + room])
    cut = round(depth * room)
    ids = text[:cut] + hidden + text[cut:] + tail
    first = length - 1 - KEY_DIGITS
    return PasskeySample(ids, list(range(first, first + KEY_DIGITS)), key)


def make_batch(filler: str, length: int, n: int, rng: random.Random, depth: float | None = None):
    """``(ids [n, length], answer_mask [n, length])``; depths uniform in [0, 1] unless given."""
    samples = [
        make_sample(filler, length, rng.random() if depth is None else depth, rng) for _ in range(n)
    ]
    ids = torch.tensor([s.ids for s in samples], dtype=torch.long)
    mask = torch.zeros_like(ids, dtype=torch.bool)
    for row, s in enumerate(samples):
        mask[row, s.answer_positions] = True
    return ids, mask


@torch.no_grad()
def passkey_accuracy(
    model, filler: str, length: int, depth: float, n: int = 16, seed: int = 0, batch_size: int = 8
) -> float:
    """Fraction of ``n`` samples whose every answer digit is the model's argmax."""
    rng = random.Random(seed * 1_000_003 + length * 101 + int(depth * 1000))
    ids, mask = make_batch(filler, length, n, rng, depth)
    device = next(model.parameters()).device
    model.eval()
    right = 0
    for start in range(0, n, batch_size):
        batch = ids[start : start + batch_size].to(device)
        logits = model(input_ids=batch).logits
        predicted = logits[:, :-1].argmax(-1)  # prediction for position t+1
        target_mask = mask[start : start + batch_size, 1:].to(device)
        correct = (predicted == batch[:, 1:]) | ~target_mask
        right += int(correct.all(dim=1).sum())
    return right / n


__all__ = [
    "KEY_DIGITS",
    "QUESTION",
    "PasskeySample",
    "encode",
    "make_batch",
    "make_sample",
    "needle",
    "passkey_accuracy",
]
