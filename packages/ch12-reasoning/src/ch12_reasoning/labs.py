"""The labs end to end: load the policy, fit (or reload) its reward heads, sweep budgets.

Reward heads are fitted in seconds from the policy's own samples and cached under
``$LLMPATH_HOME/ch12/heads-<policy hash>-<seed>.pt``, so a second command reuses them.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ch12_reasoning import problems as P

if TYPE_CHECKING:
    from transformers import LlamaForCausalLM

    from ch12_reasoning.policy import CharTokenizer
    from ch12_reasoning.prm import ScoreHead
    from ch12_reasoning.solve import RewardModels


def policy_hash(folder: str | Path | None) -> str:
    """First 12 hex digits of the sha256 of the policy's weights file."""
    from ch12_reasoning.policy import bundled_policy_path

    path = Path(folder) if folder is not None else bundled_policy_path()
    return hashlib.sha256((path / "model.safetensors").read_bytes()).hexdigest()[:12]


def heads(
    model: LlamaForCausalLM, tok: CharTokenizer, folder: str | Path | None, seed: int = 0
) -> tuple[RewardModels, ScoreHead, float]:
    """PRM + ORM for arithmetic and the Game-of-24 value head (cached per policy and seed)."""
    import torch

    from ch12_reasoning.game24 import train_value_model
    from ch12_reasoning.solve import train_reward_models
    from llmpath_core.paths import artefact_path

    cache = artefact_path("ch12", f"heads-{policy_hash(folder)}-{seed}.pt")
    if cache.is_file():
        return torch.load(cache, weights_only=False)
    rewards = train_reward_models(model, tok, seed=seed)
    value, value_acc = train_value_model(model, tok, seed=seed)
    result = (rewards, value, value_acc)
    tmp = cache.with_suffix(".tmp")
    torch.save(result, tmp)
    tmp.replace(cache)
    return result


def budget_curves(
    model: LlamaForCausalLM,
    tok: CharTokenizer,
    problems: Sequence[P.Arithmetic],
    rewards: RewardModels,
    ns: Sequence[int],
    methods: Sequence[str] = (
        "self-consistency",
        "prm-best-of-n",
        "orm-best-of-n",
        "random-best-of-n",
        "oracle-best-of-n",
    ),
    seed: int = 0,
    temperature: float = 1.0,
) -> dict[str, list[dict[str, Any]]]:
    """Accuracy and tokens for each method at each N; the N chains are shared across methods.

    Sampling once at the largest N and taking the first ``n`` chains of each problem gives every
    method the same samples, so differences are the selection rule alone.
    """
    import torch

    from ch12_reasoning.prm import chain_score, hidden_at
    from ch12_reasoning.sampling import Counter, sample
    from ch12_reasoning.solve import solve_arithmetic
    from ch12_reasoning.voting import majority_vote

    top = max(ns)
    torch.manual_seed(seed)
    counter = Counter()
    prompts = [p.prompt for p in problems for _ in range(top)]
    chains = sample(model, tok, prompts, temperature=temperature, counter=counter)
    lengths = [len(c) + 1 for c in chains]
    feats = hidden_at(model, tok, prompts, chains)
    prm_scores = [chain_score(rewards.prm, s, last) for s, last in feats]
    orm_scores = [float(s) for s in rewards.orm.score(torch.stack([last for _, last in feats]))]
    answers = [P.parse_answer(c) for c in chains]
    greedy = solve_arithmetic(model, tok, problems, "cot", seed=seed)
    curves: dict[str, list[dict[str, Any]]] = {
        "cot": [{"n": 1, "accuracy": greedy["accuracy"], "tokens": greedy["tokens"]}]
    }
    rng = random.Random(seed)
    for method in methods:
        rows = []
        for n in ns:
            right, toks = 0, 0
            for i, prob in enumerate(problems):
                idx = list(range(i * top, i * top + n))
                ans = [answers[j] for j in idx]
                toks += sum(lengths[j] for j in idx)
                if method == "self-consistency":
                    pick = majority_vote(ans)
                elif method == "prm-best-of-n":
                    pick = answers[max(idx, key=lambda j: prm_scores[j])]
                elif method == "orm-best-of-n":
                    pick = answers[max(idx, key=lambda j: orm_scores[j])]
                elif method == "random-best-of-n":
                    pick = ans[rng.randrange(n)]
                else:
                    pick = prob.answer if prob.answer in ans else ans[0]
                right += pick == prob.answer
            rows.append({"n": n, "accuracy": right / len(problems), "tokens": toks / len(problems)})
        curves[method] = rows
    return curves
