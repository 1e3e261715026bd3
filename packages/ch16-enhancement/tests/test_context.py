"""The context-extension lab: passkey samples, RoPE switching, and (slow) the YaRN effect."""

from __future__ import annotations

import os
import random

import pytest
import torch

from ch16_enhancement.context import ContextConfig, extend, filler_text, rope_spec
from ch16_enhancement.passkey import KEY_DIGITS, make_batch, make_sample, passkey_accuracy
from ch16_enhancement.rope import inverse_frequencies


def test_passkey_sample_has_exact_length_and_the_key_where_the_answer_is():
    filler = filler_text("train", 50_000, "mixed")
    rng = random.Random(0)
    for length, depth in ((128, 0.0), (256, 0.5), (512, 1.0)):
        s = make_sample(filler, length, depth, rng)
        assert len(s.ids) == length
        assert bytes(s.ids[i] for i in s.answer_positions).decode() == s.key
        assert (
            len(s.key) == KEY_DIGITS and bytes(s.ids).decode("utf-8", "replace").count(s.key) >= 3
        )
    ids, mask = make_batch(filler, 200, 4, rng)
    assert ids.shape == (4, 200) and int(mask.sum()) == 4 * KEY_DIGITS


def test_extend_switches_the_models_rope_to_the_scaled_frequencies():
    cfg = ContextConfig(train_len=128, hidden=64, heads=2, layers=1)
    from ch16_enhancement.context import build_model

    model = build_model(cfg)
    for method in ("linear", "ntk", "yarn"):
        m = extend(model, method, 4, cfg)
        inv, scale = inverse_frequencies(rope_spec(method, 4, cfg))
        torch.testing.assert_close(m.model.rotary_emb.inv_freq, inv)
        assert m.model.rotary_emb.attention_scaling == pytest.approx(scale)
    # the original is untouched
    torch.testing.assert_close(
        model.model.rotary_emb.inv_freq, inverse_frequencies(rope_spec("none", 1, cfg))[0]
    )


def test_a_model_that_copies_gets_passkey_right_and_a_random_one_does_not():
    # the accuracy check itself: an oracle "model" that predicts the next byte is exact
    class Oracle(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, input_ids):
            logits = torch.full((*input_ids.shape, 256), -1e9)
            logits[:, :-1].scatter_(2, input_ids[:, 1:, None], 0.0)
            return type("Out", (), {"logits": logits})()

    filler = filler_text("train", 50_000, "classic")
    assert passkey_accuracy(Oracle(), filler, 160, 0.5, n=4) == 1.0
    cfg = ContextConfig(hidden=32, heads=2, layers=1)
    from ch16_enhancement.context import build_model

    assert passkey_accuracy(build_model(cfg), filler, 160, 0.5, n=8) < 0.2


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("LLMPATH_SLOW") != "1", reason="slow: trains a model (LLMPATH_SLOW=1)"
)
def test_yarn_beats_pi_and_extrapolation():
    # measured (results/context-extension-explore-1500.json): without fine-tuning at 2x,
    # YaRN 0.60, plain 0.46, PI 0; after a 30-step fine-tune at 4x, YaRN 0.48, plain 0.40, PI 0
    from ch16_enhancement.context import run_experiment

    cfg = ContextConfig(
        steps=1500,
        factors=(4,),
        methods=("none", "linear", "yarn"),
        eval_samples=16,
        yarn_beta_fast=2.0,
        yarn_beta_slow=0.0625,
    )
    rows = {(r["method"], r["finetuned"]): r["passkey"] for r in run_experiment(cfg)["rows"]}
    mean = lambda by_depth: sum(by_depth.values()) / len(by_depth)  # noqa: E731
    for other in ("none", "linear"):
        assert mean(rows[("yarn", False)]["256"]) > mean(rows[(other, False)]["256"])
        assert mean(rows[("yarn", True)]["512"]) > mean(rows[(other, True)]["512"])


def test_cli_extend_writes_results_and_plots(tmp_path):
    # mechanics only (2 training steps): one row per method x fine-tune, the JSON and the PNGs
    from ch16_enhancement.cli import app
    from llmpath_core.bench import run_json

    args = "extend --steps 2 --factors 2 --methods none,yarn --finetune-steps 1 --eval-samples 1"
    result, _ = run_json(app, [*args.split(), "--out", str(tmp_path)])
    assert [(r["method"], r["finetuned"]) for r in result["rows"]] == [
        ("none", False),
        ("none", True),
        ("yarn", False),
        ("yarn", True),
    ]
    assert (tmp_path / "results.json").is_file()
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [
        "loss_by_position_x2.png",
        "passkey_by_depth_x2.png",
    ]
    assert len(result["rows"][0]["loss_by_position"]) == 2
