"""Self-critique and rewrite: the PRM judges the chain step by step, the policy rewrites from the
first step judged faulty.

Round 0 is the greedy CoT chain. In each of ``rounds`` rounds every chain is scored step by step
by the process reward model (a head on the policy's own hidden states, so the model is judging
its own chain); if some step scores below ``threshold``, the chain is cut just before the first
such step and the policy samples a new continuation from there (the steps before it are kept);
the judge then keeps whichever of the old and the rewritten chain it scores higher.
Chains with no faulty-looking step are left alone, so a confident chain costs nothing more.

Tokens count only generated tokens (the first chain and every rewrite), as for the other methods;
the judge's forward passes are not generated tokens and are reported separately as
``judge_calls``. With ``temperature=0`` a rewrite reproduces the cut steps exactly, so every
round returns the greedy chain (a test checks it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ch12_reasoning import problems as P

if TYPE_CHECKING:
    from transformers import LlamaForCausalLM

    from ch12_reasoning.policy import CharTokenizer
    from ch12_reasoning.solve import RewardModels


def first_faulty_step(scores: Sequence[float], threshold: float) -> int | None:
    """Index of the first step whose score is below ``threshold``, or ``None``."""
    return next((i for i, s in enumerate(scores) if s < threshold), None)


def critique_and_rewrite(
    model: LlamaForCausalLM,
    tok: CharTokenizer,
    problems: Sequence[P.Arithmetic],
    rewards: RewardModels,
    rounds: int,
    *,
    threshold: float = 0.5,
    temperature: float = 1.0,
    keep_better: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    """Greedy chain, then ``rounds`` rounds of PRM critique and rewrite from the first bad step.

    Returns accuracy after each round (``per_round``, index 0 = greedy CoT), generated tokens per
    problem after each round, and the final chains. With ``keep_better`` a rewrite replaces the
    chain only if the PRM scores it higher (minimum step score); otherwise every rewrite is kept.
    """
    import torch

    from ch12_reasoning.prm import chain_score, hidden_at
    from ch12_reasoning.sampling import Counter, sample

    torch.manual_seed(seed)
    counter = Counter()
    prompts = [p.prompt for p in problems]
    chains = sample(model, tok, prompts, temperature=0.0, counter=counter)

    def accuracy() -> float:
        return sum(
            P.parse_answer(c) == p.answer for c, p in zip(chains, problems, strict=True)
        ) / len(problems)

    per_round = [
        {
            "round": 0,
            "accuracy": accuracy(),
            "tokens": counter.tokens / len(problems),
            "rewritten": 0,
        }
    ]
    judge_calls = 0
    for r in range(1, rounds + 1):
        feats = hidden_at(model, tok, prompts, chains)
        judge_calls += len(chains)
        cut: dict[int, str] = {}
        for i, (steps, _last) in enumerate(feats):
            if not len(steps):
                continue
            scores = [float(s) for s in rewards.prm.score(steps)]
            j = first_faulty_step(scores, threshold)
            if j is not None:
                kept = [s for s in chains[i].split("#", 1)[0].split(";") if s][:j]
                cut[i] = "".join(s + ";" for s in kept)
        if cut:
            idx = sorted(cut)
            conts = sample(
                model,
                tok,
                [prompts[i] + cut[i] for i in idx],
                temperature=temperature,
                counter=counter,
            )
            new = [cut[i] + c for i, c in zip(idx, conts, strict=True)]
            if keep_better:
                old_f = [feats[i] for i in idx]
                new_f = hidden_at(model, tok, [prompts[i] for i in idx], new)
                judge_calls += len(idx)
                for i, c, (so, lo), (sn, ln) in zip(idx, new, old_f, new_f, strict=True):
                    if chain_score(rewards.prm, sn, ln) > chain_score(rewards.prm, so, lo):
                        chains[i] = c
            else:
                for i, c in zip(idx, new, strict=True):
                    chains[i] = c
        per_round.append(
            {
                "round": r,
                "accuracy": accuracy(),
                "tokens": counter.tokens / len(problems),
                "rewritten": len(cut),
            }
        )
    return {
        "method": "self-critique",
        "rounds": rounds,
        "accuracy": per_round[-1]["accuracy"],
        "tokens": counter.tokens / len(problems),
        "model_calls": counter.calls,
        "judge_calls": judge_calls,
        "per_round": per_round,
        "chains": chains,
    }
