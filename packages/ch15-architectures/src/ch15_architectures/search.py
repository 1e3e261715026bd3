"""A small architecture search over block stacks under a compute budget.

Each candidate is a list of block kinds (:data:`~ch15_architectures.stack.BLOCKS`); a candidate
whose forward FLOPs per token exceed the budget is rejected before training. Every accepted
candidate trains for the same number of steps on the same batches (equal tokens, equal seed) and
is scored by its held-out loss. ``random`` samples candidates independently; ``evolution`` is
regularised evolution in miniature (Real et al., 2019): start from random candidates, then
repeatedly mutate the best one found so far (change, add or drop one layer).
"""

from __future__ import annotations

import random
from typing import Any

import torch

from ch15_architectures.stack import (
    BLOCKS,
    StackConfig,
    StackLM,
    active_parameters,
    flops_per_token,
)
from ch15_architectures.train import held_out, story_tokens, train_lm
from llmpath_core import UserError

STRATEGIES = ("random", "evolution")


def random_stack(rng: random.Random, min_layers: int = 1, max_layers: int = 4) -> list[str]:
    return [rng.choice(BLOCKS) for _ in range(rng.randint(min_layers, max_layers))]


def mutate(layers: list[str], rng: random.Random, max_layers: int = 4) -> list[str]:
    """Change one layer's kind, or add or drop one layer."""
    child = list(layers)
    move = rng.choice(["change", "add", "drop"])
    if move == "add" and len(child) < max_layers:
        child.insert(rng.randint(0, len(child)), rng.choice(BLOCKS))
    elif move == "drop" and len(child) > 1:
        child.pop(rng.randrange(len(child)))
    else:
        i = rng.randrange(len(child))
        child[i] = rng.choice([k for k in BLOCKS if k != child[i]])
    return child


def search(
    strategy: str = "evolution",
    candidates: int = 6,
    budget_flops: float = 1.2e6,
    steps: int = 40,
    seq_len: int = 64,
    batch: int = 8,
    hidden: int = 64,
    seed: int = 0,
    eval_chars: int = 20_000,
    on_candidate=None,
) -> dict[str, Any]:
    """Train ``candidates`` stacks within ``budget_flops`` forward FLOPs per token; rank them."""
    if strategy not in STRATEGIES:
        raise UserError(f"unknown strategy {strategy!r}: choose {', '.join(STRATEGIES)}")
    if candidates < 1 or steps < 1:
        raise UserError("candidates and steps must be at least 1")
    rng = random.Random(seed)
    tokens = story_tokens()
    tried: dict[tuple[str, ...], dict[str, Any]] = {}
    rejected = 0
    attempts = 0
    while len(tried) < candidates and attempts < 50 * candidates:
        attempts += 1
        if strategy == "evolution" and len(tried) >= 2:
            best = min(tried.values(), key=lambda r: r["loss"])
            layers = mutate(best["layers"], rng)
        else:
            layers = random_stack(rng)
        if tuple(layers) in tried:
            continue
        torch.manual_seed(seed)
        model = StackLM(StackConfig(hidden_size=hidden, layers=layers))
        flops = flops_per_token(model, seq_len)
        if flops > budget_flops:
            rejected += 1
            continue
        trained = train_lm(model, tokens, steps=steps, batch=batch, seq_len=seq_len, seed=seed)
        evaluation = held_out(model, seq_len=seq_len, max_chars=eval_chars)
        row = {
            "layers": layers,
            "active_params": active_parameters(model),
            "flops_per_token": flops,
            "loss": evaluation["loss"],
            "loss_stderr": evaluation["loss_stderr"],
            "seconds": trained.seconds,
        }
        tried[tuple(layers)] = row
        if on_candidate is not None:
            on_candidate(row)
    if not tried:
        raise UserError(f"no candidate fits a budget of {budget_flops:.3g} FLOPs per token")
    ranked = sorted(tried.values(), key=lambda r: r["loss"])
    return {
        "strategy": strategy,
        "budget_flops": budget_flops,
        "steps": steps,
        "rejected_over_budget": rejected,
        "results": ranked,
        "best": ranked[0]["layers"],
        "best_loss": ranked[0]["loss"],
    }
