"""Instruction tuning: a generated task, a plain-text chat template, assistant-only loss, a loop.

The task is generated deterministically from a seed: the user asks the assistant to repeat a
word, and the assistant answers with that word alone (a harder variant asks for the first or last
of three words). The
default model, trained only on stories, never answers in that format, so exact-match accuracy
starts near zero.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from llmpath_core import UserError

WORDS = [
    "cat",
    "dog",
    "sun",
    "tree",
    "ball",
    "bird",
    "fish",
    "cake",
    "milk",
    "hat",
    "boat",
    "frog",
    "moon",
    "star",
    "rain",
    "girl",
    "boy",
    "box",
    "car",
    "duck",
    "apple",
    "book",
    "door",
    "bed",
    "cup",
    "toy",
    "king",
    "queen",
    "bear",
    "lion",
    "park",
    "bus",
]
ORDINALS = ("first", "last")
USER = "User: "
ASSISTANT = "\nAssistant:"


TASKS = ("repeat", "twice")


def make_task(n: int, seed: int, hard: bool = False, kind: str = "repeat") -> list[dict[str, Any]]:
    """``n`` chat examples ``{"messages": [user, assistant]}``.

    The default task repeats one word ("Repeat the word: cat" -> "cat"); ``kind="twice"`` is a
    second task for forgetting and merging ("Say the word twice: cat" -> "cat cat");
    ``hard=True`` asks for the first or last of three words (not reached in the CPU budget here,
    see the README).
    """
    if kind not in TASKS:
        raise UserError(f"task must be one of {', '.join(TASKS)}, not {kind!r}")
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        if kind == "twice":
            word = rng.choice(WORDS)
            rows.append(
                {
                    "messages": [
                        {"role": "user", "content": f"Say the word twice: {word}"},
                        {"role": "assistant", "content": f"{word} {word}"},
                    ]
                }
            )
            continue
        if not hard:
            word = rng.choice(WORDS)
            rows.append(
                {
                    "messages": [
                        {"role": "user", "content": f"Repeat the word: {word}"},
                        {"role": "assistant", "content": word},
                    ]
                }
            )
            continue
        words = rng.sample(WORDS, 3)
        k = rng.randrange(2)
        question = f"What is the {ORDINALS[k]} word in: {' '.join(words)}?"
        k = 0 if k == 0 else -1
        rows.append(
            {
                "messages": [
                    {"role": "user", "content": question},
                    {"role": "assistant", "content": words[k]},
                ]
            }
        )
    return rows


def train_split(n: int = 2000, seed: int = 0, kind: str = "repeat") -> list[dict[str, Any]]:
    """The bundled training set (seed ``seed``)."""
    return make_task(n, seed, kind=kind)


def eval_split(n: int = 200, seed: int = 10_000, kind: str = "repeat") -> list[dict[str, Any]]:
    """The held-out set: another seed, so the examples differ from training."""
    return make_task(n, seed, kind=kind)


def read_chat_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Chat JSONL rows; each must have ``messages`` with at least one assistant turn."""
    file = Path(path)
    if not file.is_file():
        raise UserError(f"no such data file: {path}")
    rows = []
    for i, line in enumerate(file.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise UserError(f"{path}:{i}: not JSON ({e.msg})") from None
        msgs = row.get("messages") if isinstance(row, dict) else None
        if not isinstance(msgs, list) or not all(
            isinstance(m, dict) and "role" in m and "content" in m for m in msgs
        ):
            raise UserError(f'{path}:{i}: expected {{"messages": [{{"role", "content"}}, ...]}}')
        if not any(m["role"] == "assistant" for m in msgs):
            raise UserError(f"{path}:{i}: no assistant turn to learn from")
        rows.append(row)
    if not rows:
        raise UserError(f"{path}: no examples")
    return rows


def render(messages: list[dict[str, str]], eos: str) -> list[tuple[str, bool]]:
    """The chat as text pieces with a flag "trained on" (assistant turns and their end token)."""
    pieces: list[tuple[str, bool]] = []
    for m in messages:
        if m["role"] == "assistant":
            pieces.append((ASSISTANT, False))
            pieces.append((" " + m["content"] + eos, True))  # " word" as in the prompt
        else:
            prefix = "" if not pieces else "\n"
            pieces.append((prefix + USER + m["content"], False))
    return pieces


def prompt_text(messages: list[dict[str, str]]) -> str:
    """The text before the last assistant answer, ending with the assistant tag."""
    last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
    return "".join(t for t, _ in render(messages[:last], "")) + ASSISTANT


def encode(tokenizer, messages: list[dict[str, str]]) -> tuple[list[int], list[int]]:
    """``(input_ids, labels)`` with ``-100`` on every token that is not the assistant's."""
    ids: list[int] = []
    labels: list[int] = []
    for text, trained in render(messages, tokenizer.eos_token):
        piece = tokenizer(text, add_special_tokens=False)["input_ids"]
        ids.extend(piece)
        labels.extend(piece if trained else [-100] * len(piece))
    return ids, labels


def batches(encoded: list[tuple[list[int], list[int]]], size: int, pad: int, rng: random.Random):
    """Endless shuffled right-padded batches ``(input_ids, attention_mask, labels)``."""
    import torch

    order: list[int] = []
    while True:
        if len(order) < size:
            fresh = list(range(len(encoded)))
            rng.shuffle(fresh)
            order.extend(fresh)
        chosen = [encoded[i] for i in order[:size]]
        del order[:size]
        width = max(len(x) for x, _ in chosen)
        ids = torch.full((size, width), pad, dtype=torch.long)
        mask = torch.zeros((size, width), dtype=torch.long)
        labels = torch.full((size, width), -100, dtype=torch.long)
        for row, (x, y) in enumerate(chosen):
            ids[row, : len(x)] = torch.tensor(x)
            mask[row, : len(x)] = 1
            labels[row, : len(y)] = torch.tensor(y)
        yield ids, mask, labels


def pack(
    encoded: list[tuple[list[int], list[int]]], max_length: int
) -> list[list[tuple[list[int], list[int]]]]:
    """Group examples into rows of at most ``max_length`` tokens (first fit, in order).

    An example longer than ``max_length`` gets a row of its own (it is not cut).
    """
    rows: list[list[tuple[list[int], list[int]]]] = []
    sizes: list[int] = []
    for ex in encoded:
        n = len(ex[0])
        for i, size in enumerate(sizes):
            if size + n <= max_length:
                rows[i].append(ex)
                sizes[i] += n
                break
        else:
            rows.append([ex])
            sizes.append(n)
    return rows


def collate_packed(rows: list[list[tuple[list[int], list[int]]]], pad: int):
    """``(input_ids, position_ids, labels)`` for packed rows; positions restart at each example.

    Called with ``attention_mask=None``, ``use_cache=False`` (a cache turns the detection off) and
    these ``position_ids``, transformers builds a block-diagonal causal mask
    (``find_packed_sequence_indices``), so no example attends to
    another one in its row; the first label of every example is the user's (``-100``), so no loss
    crosses an example boundary either. Padding at the end of a row is its own "example".
    """
    import torch

    width = max(sum(len(x) for x, _ in r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    pos = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    for b, row in enumerate(rows):
        at = 0
        for x, y in row:
            n = len(x)
            ids[b, at : at + n] = torch.tensor(x)
            labels[b, at : at + n] = torch.tensor(y)
            pos[b, at : at + n] = torch.arange(n)
            at += n
        pos[b, at:] = torch.arange(width - at)
    return ids, pos, labels


def packed_batches(encoded, size: int, max_length: int, pad: int, rng: random.Random):
    """Endless packed batches: shuffle, pack ``size * k`` examples into rows, ``k`` rows a step.

    Each step sees about ``size`` examples' worth of tokens, like an unpacked batch of ``size``.
    """
    while True:
        order = list(range(len(encoded)))
        rng.shuffle(order)
        rows = pack([encoded[i] for i in order], max_length)
        per_row = max(1, round(sum(len(r) for r in rows) / len(rows)))
        step_rows = max(1, size // per_row)
        for start in range(0, len(rows) - step_rows + 1, step_rows):
            chunk = rows[start : start + step_rows]
            yield (*collate_packed(chunk, pad), sum(len(x) for r in chunk for x, _ in r))


def train(
    model,
    tokenizer,
    rows: list[dict[str, Any]],
    *,
    max_steps: int = 150,
    batch_size: int = 16,
    lr: float = 3e-3,
    seed: int = 0,
    log_every: int = 0,
    packing: bool = False,
    max_length: int = 128,
) -> dict[str, Any]:
    """AdamW on the trainable parameters, assistant-only loss; returns losses and timing.

    With ``packing`` the examples are packed into rows of ``max_length`` tokens (block-diagonal
    attention through ``position_ids``, see :func:`collate_packed`) instead of right-padded.
    """
    import torch

    if max_steps < 1:
        raise UserError("--max-steps must be at least 1")
    encoded = [encode(tokenizer, r["messages"]) for r in rows]
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 10) * 0.5 * (1 + math.cos(math.pi * s / max_steps))
    )
    rng = random.Random(seed)
    torch.manual_seed(seed)
    model.train()
    losses: list[float] = []
    start = time.perf_counter()
    pad = tokenizer.pad_token_id or 0
    if packing:
        stream = packed_batches(encoded, batch_size, max_length, pad, rng)
    else:
        stream = batches(encoded, batch_size, pad, rng)
    tokens = real = 0
    for step in range(max_steps):
        if packing:
            ids, pos, labels, n_real = next(stream)
            real += n_real
            loss = model(input_ids=ids, position_ids=pos, labels=labels, use_cache=False).loss
        else:
            ids, mask, labels = next(stream)
            real += int(mask.sum())
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        tokens += ids.numel()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if log_every and (step + 1) % log_every == 0:
            print(f"step {step + 1}: loss {loss:.4f}")
    model.eval()
    tail = losses[-10:]
    return {
        "train_loss": sum(tail) / len(tail),
        "first_loss": losses[0],
        "losses": losses,
        "steps": max_steps,
        "tokens_processed": tokens,
        "padding_fraction": 1 - real / tokens,
        "train_seconds": time.perf_counter() - start,
    }


def evaluate(
    model, tokenizer, rows: Iterable[dict[str, Any]], *, max_new_tokens: int = 8
) -> dict[str, Any]:
    """Greedy exact match of the generated answer (to the end token) vs the last assistant turn."""
    import torch

    rows = list(rows)
    tokenizer.padding_side = "left"
    correct = 0
    samples = []
    for start in range(0, len(rows), 50):
        chunk = rows[start : start + 50]
        prompts = [prompt_text(r["messages"]) for r in chunk]
        enc = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.no_grad():
            out = model.generate(
                **enc,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id,
            )
        for r, seq in zip(chunk, out[:, enc["input_ids"].shape[1] :], strict=True):
            text = tokenizer.decode(seq, skip_special_tokens=True).split("\n")[0].strip()
            gold = [m for m in r["messages"] if m["role"] == "assistant"][-1]["content"].strip()
            correct += text == gold
            if len(samples) < 3:
                samples.append({"prompt": prompt_text(r["messages"]), "answer": text, "gold": gold})
    tokenizer.padding_side = "right"
    n = len(rows)
    acc = correct / n
    return {
        "accuracy": acc,
        "accuracy_stderr": math.sqrt(max(acc * (1 - acc), 1e-12) / n),
        "n": n,
        "samples": samples,
    }
