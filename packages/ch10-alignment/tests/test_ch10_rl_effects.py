"""GRPO / RLOO / PPO on the default model against the judge: they move it the judge's way."""

from __future__ import annotations

import copy

import pytest

from ch10_alignment.data import split_prompts
from ch10_alignment.judge import KeywordJudge
from ch10_alignment.labs import judge_reward


def count_e(prompts, completions):
    """A dense reward for a random tiny model: how many ``e`` it writes."""
    return [float(c.count("e")) for c in completions]


@pytest.fixture(scope="module")
def tiny():
    """A tiny random Llama and a byte tokenizer: the PPO / RLOO code paths, fast."""
    from llmpath_core.testing import byte_tokenizer, tiny_llama

    train, _ = split_prompts(seed=0)
    return tiny_llama(0, vocab=257, eos=0, pad=0), byte_tokenizer(), train


@pytest.fixture(scope="module")
def start():
    from llmpath_core import load_default_model

    model, tok = load_default_model()
    train, held = split_prompts(seed=0)
    return model, tok, train, held


@pytest.mark.slow
def test_grpo_raises_the_held_out_judge_score_with_kl(start):
    """8 GRPO steps x 8 prompts x 4 samples (lr 5e-4): the held-out judge score goes up.

    Slow (a minute on a loaded 2-core box): 6 steps x 4 prompts was not enough to move it.
    """
    from ch10_alignment.rl import train_rl
    from ch10_alignment.train import evaluate_policy

    model, tok, train, held = start
    reference = copy.deepcopy(model)
    r = train_rl(
        reference,
        tok,
        train,
        judge_reward(KeywordJudge()),
        algo="grpo",
        steps=8,
        prompts_per_step=8,
        lr=5e-4,
    )
    assert r.steps[0]["kl"] == pytest.approx(0.0, abs=1e-4)  # step 1 samples from the start
    m = evaluate_policy(r.policy, reference, tok, held[:24], KeywordJudge(), n=2)
    assert m["judge_score_policy"] > m["judge_score_reference"], m
    assert m["kl"] > 0, m
    assert all(not p.requires_grad for p in reference.parameters())


def test_ppo_runs_gae_value_head_and_the_kl_controller(tiny):
    """The recorded KL coefficient follows the controller's rule from the recorded KLs."""
    from ch10_alignment.rl import train_rl

    model, tok, train = tiny
    r = train_rl(
        copy.deepcopy(model),
        tok,
        train,
        judge_reward(KeywordJudge()),
        algo="ppo",
        steps=4,
        prompts_per_step=4,
        max_new_tokens=8,
        lr=5e-4,
        beta=0.05,
        kl_target=0.5,
        kl_horizon=40.0,
    )
    assert r.value_head is not None
    coefs = [s["kl_coef"] for s in r.steps]
    assert coefs[0] == pytest.approx(0.05)
    for prev, cur, s in zip(coefs, coefs[1:], r.steps, strict=False):
        e = min(max(s["kl"] / 0.5 - 1, -0.2), 0.2)
        assert cur == pytest.approx(prev * (1 + e * 16 / 40.0), rel=1e-9)
    assert all(s["value_loss"] >= 0 for s in r.steps)


def test_rloo_runs_and_reports(tiny):
    from ch10_alignment.rl import train_rl

    model, tok, train = tiny
    r = train_rl(
        copy.deepcopy(model),
        tok,
        train,
        count_e,
        algo="rloo",
        steps=2,
        prompts_per_step=4,
        max_new_tokens=8,
        lr=1e-3,
    )
    assert len(r.steps) == 2 and r.steps[1]["kl"] != 0.0
    assert {"reward", "kl", "entropy", "loss", "seconds"} <= set(r.steps[0])


def test_hacking_flag():
    from ch10_alignment.rl import hacking_flag

    up_down = [{"reward": i, "judge": -i} for i in range(10)]
    up_up = [{"reward": i, "judge": i} for i in range(10)]
    assert hacking_flag(up_down)["flag"] and not hacking_flag(up_up)["flag"]
    assert not hacking_flag([{"reward": 1.0}] * 10)["flag"]  # no judge recorded
