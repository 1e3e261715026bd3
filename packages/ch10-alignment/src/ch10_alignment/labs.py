"""The labs end to end: judged pairs -> reward model; judged pairs -> DPO -> win rate and KL."""

from __future__ import annotations

import json
import random
from pathlib import Path

from ch10_alignment.data import Pair, load_pairs, make_pairs, save_pairs, split_prompts
from ch10_alignment.judge import KeywordJudge
from llmpath_core import UserError

DEFAULT_TRAIN_PROMPTS = 96


def get_pairs(
    model, tokenizer, data: Path | None, *, seed: int, n_prompts: int = DEFAULT_TRAIN_PROMPTS
) -> list[Pair]:
    """Pairs from ``data`` (JSONL) or judged samples of the model on the train prompts."""
    if data is not None:
        return load_pairs(data)
    train_prompts, _ = split_prompts(seed=0)
    return make_pairs(model, tokenizer, train_prompts[:n_prompts], KeywordJudge(), seed=seed)


def split_pairs(
    pairs: list[Pair], seed: int, heldout: float = 0.2
) -> tuple[list[Pair], list[Pair]]:
    """Shuffle and split into (train, held-out); both must be non-empty."""
    if len(pairs) < 2:
        raise UserError(f"need at least 2 preference pairs, got {len(pairs)}")
    pairs = list(pairs)
    random.Random(seed).shuffle(pairs)
    n_held = max(1, round(len(pairs) * heldout))
    return pairs[n_held:], pairs[:n_held]


def reward_model_lab(model, tokenizer, data: Path | None, out: Path | None, seed: int) -> dict:
    """Train the Bradley-Terry head; write head.pt, pairs.jsonl, metrics.json to ``out``."""
    import torch

    from ch10_alignment.train import train_reward_model
    from llmpath_core import atomic_dir

    pairs = get_pairs(model, tokenizer, data, seed=seed)
    train, held = split_pairs(pairs, seed)
    rm, info = train_reward_model(model, tokenizer, train, held, seed=seed)
    info["source"] = str(data) if data else "default model samples judged by KeywordJudge"
    if out is not None:
        with atomic_dir(out) as d:
            torch.save(rm.head.state_dict(), d / "head.pt")
            save_pairs(pairs, d / "pairs.jsonl")
            (d / "metrics.json").write_text(json.dumps(info, indent=2))
    return info


def dpo_lab(
    model,
    tokenizer,
    data: Path | None,
    out: Path | None,
    *,
    beta: float,
    max_steps: int,
    loss_type: str,
    seed: int,
    n_eval_prompts: int = 32,
) -> dict:
    """DPO from ``model`` (the frozen reference); win rate and KL on held-out prompts."""
    import copy

    from ch10_alignment.train import evaluate_policy, train_dpo
    from llmpath_core import atomic_dir

    if beta <= 0:
        raise UserError("--beta must be positive")
    if max_steps < 1:
        raise UserError("--max-steps must be at least 1")
    pairs = get_pairs(model, tokenizer, data, seed=seed)
    if not pairs:
        raise UserError("no preference pairs (every prompt's samples tied under the judge)")
    reference = copy.deepcopy(model)
    result = train_dpo(
        reference, tokenizer, pairs, beta=beta, loss_type=loss_type, max_steps=max_steps, seed=seed
    )
    _, heldout_prompts = split_prompts(seed=0)
    metrics = evaluate_policy(
        result.policy,
        reference,
        tokenizer,
        heldout_prompts[:n_eval_prompts],
        KeywordJudge(),
        seed=seed + 1234,
    )
    last = result.steps[-min(5, len(result.steps)) :]
    info = {
        **metrics,
        "reward_accuracy": sum(s["reward_accuracy"] for s in last) / len(last),
        "reward_margin": sum(s["reward_margin"] for s in last) / len(last),
        "final_loss": last[-1]["loss"],
        "beta": beta,
        "loss_type": loss_type,
        "steps": max_steps,
        "pairs": len(pairs),
        "source": str(data) if data else "default model samples judged by KeywordJudge",
        "history": result.steps,
    }
    if out is not None:
        with atomic_dir(out) as d:
            result.policy.save_pretrained(d / "policy")
            tokenizer.save_pretrained(d / "policy")
            save_pairs(pairs, d / "pairs.jsonl")
            (d / "metrics.json").write_text(json.dumps(info, indent=2))
    return info
