"""Our trainers beside trl 1.16's on CPU, same start, data and hyperparameters, N steps.

DPO: trl's ``DPOTrainer`` and ``train_dpo`` on the same three pairs, full batch, AdamW: losses and
reward margins agree to 1e-4 (float32; measured ~1e-7) at every step. GRPO / RLOO: trl's trainer
samples and trains; ours replays its samples: the advantages agree to 1e-5 and the per-step loss
and KL to 1e-4 absolute / 2% relative, which holds only if both updates moved the weights alike.
"""

from __future__ import annotations

import pytest

from ch10_alignment.data import Pair
from ch10_alignment.judge import KeywordJudge

PAIRS = [
    Pair("Once upon a time there was a", " happy dog who smiled.", " sad cat who cried."),
    Pair("Tom went to the park", " with his friend and had fun.", " alone and was sad."),
    Pair("Lily had a red ball", " and she loved it.", " but it broke."),
]


@pytest.fixture(scope="module")
def default_model():
    from llmpath_core import load_default_model

    return load_default_model()


def test_dpo_matches_trl_dpotrainer_step_by_step(default_model):
    from ch10_alignment.anchors import dpo_vs_trl

    model, tok = default_model
    r = dpo_vs_trl(model, tok, PAIRS, steps=3, lr=1e-4, optimizer="adamw")
    assert r["tokens_match"]
    assert len(r["trl_loss"]) == len(r["ours_loss"]) == 3
    assert r["ours_loss"][0] == pytest.approx(0.693147, abs=1e-5)
    for key in ("loss", "margin"):
        for a, b in zip(r[f"ours_{key}"], r[f"trl_{key}"], strict=True):
            assert a == pytest.approx(b, abs=1e-4), (key, r)
    assert r["ours_loss"][-1] < 0.5  # the run did learn (so the agreement is not trivial)


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["grpo", "rloo"])
def test_grpo_and_rloo_match_trl_on_trls_samples(default_model, algo):
    from ch10_alignment.anchors import grpo_vs_trl

    model, tok = default_model
    r = grpo_vs_trl(
        model,
        tok,
        [p.prompt for p in PAIRS[:2]],
        KeywordJudge().score,
        algo=algo,
        steps=3,
        group_size=4,
        max_new_tokens=12,
        beta=0.04,
        lr=1e-4,
    )
    assert r["max_advantage_diff"] <= 1e-5, r
    assert len(r["ours_loss"]) == len(r["trl_loss"]) == 3
    for key in ("loss", "kl"):
        for a, b in zip(r[f"ours_{key}"], r[f"trl_{key}"], strict=True):
            assert a == pytest.approx(b, abs=1e-4, rel=0.02), (key, r)
    assert r["trl_kl"][-1] > 0  # the policy moved away from the reference
