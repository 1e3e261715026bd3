"""Curriculum learning on arithmetic: easy-to-hard order vs random order, equal steps.

Problems are generated addition sums ``"37+5=42"`` whose difficulty is the number of digits of
the larger operand (1 to ``max_digits``). Two tiny Llamas see the same number of problems and
optimizer steps: the *curriculum* model draws its batches from difficulty 1 first and unlocks one
more level every ``steps / max_digits`` steps (Bengio et al. 2009), the *random* model draws from
all levels from the start. Accuracy is exact match of the greedy answer on a fixed held-out set
spread evenly over the levels. Characters are the tokens (``0-9 + =`` and end of problem), so no
tokenizer has to be trained.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

VOCAB = "0123456789+=\n"
PAD = len(VOCAB)
STOI = {c: i for i, c in enumerate(VOCAB)}


def make_problem(rng: random.Random, digits: int) -> str:
    """One sum whose larger operand has exactly ``digits`` digits."""
    low = 0 if digits == 1 else 10 ** (digits - 1)
    a = rng.randint(low, 10**digits - 1)
    b = rng.randint(0, 10**digits - 1)
    a, b = (a, b) if rng.random() < 0.5 else (b, a)
    return f"{a}+{b}={a + b}\n"


def encode(problems: list[str], length: int) -> torch.Tensor:
    rows = [[STOI[c] for c in p] + [PAD] * (length - len(p)) for p in problems]
    return torch.tensor(rows)


@dataclass
class CurriculumConfig:
    max_digits: int = 3
    steps: int = 300
    batch_size: int = 32
    depth: int = 2
    lr: float = 3e-3
    eval_every: int = 50
    n_eval: int = 150
    seed: int = 0


def accuracy(model, problems: list[str]) -> float:
    """Exact-match accuracy of the greedy answer (everything after ``=``, newline included).

    Greedy decoding reproduces the answer exactly when, fed the true answer, the argmax at every
    answer position is the true next character (by induction over the positions), so one
    teacher-forced forward pass over the whole set gives the same number as decoding one by one.
    """
    length = max(len(p) for p in problems)
    batch = encode(problems, length)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        predicted = model(input_ids=batch[:, :-1]).logits[..., :PAD].argmax(-1)
    model.train(was_training)
    targets = batch[:, 1:]
    answer = torch.zeros_like(targets, dtype=torch.bool)
    for row, problem in enumerate(problems):
        start = problem.index("=")  # the target at position i is character i + 1
        answer[row, start : len(problem) - 1] = True
    correct = ((predicted == targets) | ~answer).all(dim=1)
    return int(correct.sum()) / len(problems)


def held_out_problems(config: CurriculumConfig) -> list[str]:
    """The fixed evaluation set, spread evenly over the difficulty levels."""
    rng = random.Random(f"eval:{config.seed}")
    return [make_problem(rng, 1 + i % config.max_digits) for i in range(config.n_eval)]


def train_order(config: CurriculumConfig, curriculum: bool):
    """Train one model; returns it and its accuracy curve ``[{step, accuracy}]``."""
    from ch07_pretraining.model import build_model, llama_config

    length = 3 * config.max_digits + 4
    held_out = held_out_problems(config)
    torch.manual_seed(config.seed)
    model = build_model(llama_config(config.depth, PAD + 1, length, eos_token_id=STOI["\n"]))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, betas=(0.9, 0.95))
    rng = random.Random(f"train:{config.seed}")
    stage = max(1, config.steps // config.max_digits)
    curve = []
    for step in range(1, config.steps + 1):
        top = min(config.max_digits, 1 + (step - 1) // stage) if curriculum else config.max_digits
        batch = encode(
            [make_problem(rng, rng.randint(1, top)) for _ in range(config.batch_size)], length
        )
        logits = model(input_ids=batch[:, :-1]).logits
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.size(-1)), batch[:, 1:].reshape(-1), ignore_index=PAD
        )
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step % config.eval_every == 0 or step == config.steps:
            curve.append({"step": step, "accuracy": accuracy(model, held_out)})
    return model, curve


def compare_orders(config: CurriculumConfig) -> dict:
    """Curriculum vs random order with equal steps: both accuracy curves."""
    return {
        "curriculum": train_order(config, curriculum=True)[1],
        "random": train_order(config, curriculum=False)[1],
    }


__all__ = [
    "CurriculumConfig",
    "accuracy",
    "compare_orders",
    "encode",
    "held_out_problems",
    "make_problem",
    "train_order",
]
