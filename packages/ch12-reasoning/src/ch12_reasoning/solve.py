"""Arithmetic with test-time compute: CoT, self-consistency, best-of-N with ORM / PRM / oracle.

- ``cot``: one greedy chain.
- ``self-consistency``: ``n`` sampled chains, majority vote over final answers.
- ``prm-best-of-n`` / ``orm-best-of-n``: ``n`` sampled chains, keep the one the reward model
  scores highest (PRM: minimum step score; ORM: score at the end).
- ``random-best-of-n``: keep a random one of the ``n`` (the floor a reward model must beat).
- ``oracle-best-of-n``: right if any of the ``n`` is right (the ceiling; equals pass@n).
- ``self-critique``: the greedy chain, then ``n`` rounds in which the PRM judges it step by step
  and the policy rewrites from the first faulty-looking step (``reflect.py``).

Sampling temperature, when not given: ``SC_TEMPERATURE`` (0.4) for self-consistency, chosen on
validation problems by ``benchmarks/bench_sc_temperature.py`` (hotter chains are each worse than
the greedy one and the vote only wins that back; colder ones are copies of it); 1.0 for the
best-of-N rules, whose reward models were trained on temperature-1 samples.

With ``temperature=0`` and ``n=1`` every method returns the greedy CoT chain (a test checks it).
Tokens are generated tokens, summed over all ``n`` chains: the compute a method spends.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ch12_reasoning import problems as P
from ch12_reasoning.voting import majority_vote

if TYPE_CHECKING:
    from transformers import LlamaForCausalLM

    from ch12_reasoning.policy import CharTokenizer
    from ch12_reasoning.prm import ScoreHead

METHODS = (
    "cot",
    "self-consistency",
    "prm-best-of-n",
    "orm-best-of-n",
    "random-best-of-n",
    "oracle-best-of-n",
    "self-critique",
)

#: Self-consistency's default sampling temperature: the best validation majority-vote accuracy at
#: N = 8 in ``benchmarks/results/sc_temperature.json`` (validation problems, not the held-out set).
SC_TEMPERATURE = 0.4


def default_temperature(method: str) -> float:
    """The sampling temperature ``method`` uses when none is given."""
    return SC_TEMPERATURE if method == "self-consistency" else 1.0


@dataclass
class RewardModels:
    """The PRM and ORM heads and how they were trained."""

    prm: ScoreHead
    orm: ScoreHead
    prm_step_accuracy: float
    orm_accuracy: float
    n_steps: int
    n_chains: int


def train_reward_models(
    model: LlamaForCausalLM,
    tok: CharTokenizer,
    *,
    n_problems: int = 200,
    samples: int = 4,
    seed: int = 0,
    epochs: int = 300,
) -> RewardModels:
    """Sample chains on training problems, label them with the solver, fit PRM and ORM heads.

    Accuracies reported are on a held-out quarter of the sampled chains (split by problem).
    """
    import torch

    from ch12_reasoning.prm import ScoreHead, hidden_at
    from ch12_reasoning.sampling import sample

    held = {p.question for p in P.heldout_arithmetic(400)}
    probs = [
        p
        for p in P.arithmetic_set(n_problems * 2, P.TRAIN_SEED + 7 + seed)
        if p.question not in held
    ]
    probs = probs[:n_problems]
    torch.manual_seed(seed)
    prompts = [p.prompt for p in probs for _ in range(samples)]
    chains = sample(model, tok, prompts, temperature=1.0)
    feats = hidden_at(model, tok, prompts, chains)
    split = int(len(probs) * 0.75) * samples
    xs_tr, ys_tr, xs_te, ys_te = [], [], [], []
    xo_tr, yo_tr, xo_te, yo_te = [], [], [], []
    for i, ((steps, last), chain) in enumerate(zip(feats, chains, strict=True)):
        prob = probs[i // samples]
        labels = P.step_labels(prob.question, chain)[: len(steps)]
        right = float(P.parse_answer(chain) == prob.answer)
        (xs_tr if i < split else xs_te).append(steps[: len(labels)])
        (ys_tr if i < split else ys_te).append(torch.tensor(labels, dtype=torch.float))
        (xo_tr if i < split else xo_te).append(last)
        (yo_tr if i < split else yo_te).append(right)
    hidden = model.config.hidden_size + 2
    prm, orm = ScoreHead(hidden, seed), ScoreHead(hidden, seed)
    prm.fit(torch.cat(xs_tr), torch.cat(ys_tr), epochs=epochs)
    orm.fit(torch.stack(xo_tr), torch.tensor(yo_tr), epochs=epochs)
    step_acc = float(
        ((prm.score(torch.cat(xs_te)) > 0.5).float() == torch.cat(ys_te)).float().mean()
    )
    orm_acc = float(
        ((orm.score(torch.stack(xo_te)) > 0.5).float() == torch.tensor(yo_te)).float().mean()
    )
    return RewardModels(prm, orm, step_acc, orm_acc, sum(len(y) for y in ys_tr), len(xo_tr))


def solve_arithmetic(
    model: LlamaForCausalLM,
    tok: CharTokenizer,
    problems: Sequence[P.Arithmetic],
    method: str,
    n: int = 1,
    *,
    temperature: float | None = None,
    rewards: RewardModels | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Run ``method`` with ``n`` chains per problem; accuracy overall and by difficulty.

    ``temperature=None`` uses :func:`default_temperature` for the method.
    """
    import torch

    from ch12_reasoning.prm import chain_score, hidden_at
    from ch12_reasoning.sampling import Counter, sample

    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    if method == "cot":
        n, temperature = 1, 0.0
    elif temperature is None:
        temperature = default_temperature(method)
    if method == "self-critique":
        from ch12_reasoning.reflect import critique_and_rewrite

        if rewards is None:
            raise ValueError(f"{method} needs reward models")
        res = critique_and_rewrite(
            model, tok, problems, rewards, n, temperature=temperature, seed=seed
        )
        by: dict[int, list[bool]] = {}
        for prob, c in zip(problems, res["chains"], strict=True):
            by.setdefault(prob.difficulty, []).append(P.parse_answer(c) == prob.answer)
        return {
            **res,
            "n": n,
            "temperature": temperature,
            "tokens_total": round(res["tokens"] * len(problems)),
            "problems": len(problems),
            "by_difficulty": {str(d): sum(v) / len(v) for d, v in sorted(by.items())},
        }
    torch.manual_seed(seed)
    rng = random.Random(seed)
    counter = Counter()
    prompts = [p.prompt for p in problems for _ in range(n)]
    chains = sample(model, tok, prompts, temperature=temperature, counter=counter)
    feats = None
    if method in ("prm-best-of-n", "orm-best-of-n"):
        if rewards is None:
            raise ValueError(f"{method} needs reward models")
        feats = hidden_at(model, tok, prompts, chains)
    correct, by_diff, picked = [], {}, []
    for i, prob in enumerate(problems):
        group = chains[i * n : (i + 1) * n]
        answers = [P.parse_answer(c) for c in group]
        if method in ("cot", "self-consistency"):
            answer = majority_vote(answers)
        elif method == "random-best-of-n":
            answer = answers[rng.randrange(n)]
        elif method == "oracle-best-of-n":
            answer = prob.answer if prob.answer in answers else answers[0]
        else:
            assert feats is not None and rewards is not None
            fs = feats[i * n : (i + 1) * n]
            if method == "prm-best-of-n":
                scores = [chain_score(rewards.prm, s, last) for s, last in fs]
            else:
                scores = [float(rewards.orm.score(last.unsqueeze(0))) for _, last in fs]
            answer = answers[max(range(n), key=lambda j: scores[j])]
        ok = answer == prob.answer
        correct.append(ok)
        by_diff.setdefault(prob.difficulty, []).append(ok)
        picked.append({"question": prob.question, "answer": answer, "gold": prob.answer})
    return {
        "method": method,
        "n": n,
        "temperature": temperature,
        "accuracy": sum(correct) / len(correct),
        "tokens": counter.tokens / len(problems),
        "tokens_total": counter.tokens,
        "model_calls": counter.calls,
        "problems": len(problems),
        "by_difficulty": {str(d): sum(v) / len(v) for d, v in sorted(by_diff.items())},
        "examples": picked[:3],
        "chains": chains,
    }
