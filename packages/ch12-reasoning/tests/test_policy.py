"""The policy: the bundled checkpoint is trained (an effect), and `train` reproduces its recipe."""

from __future__ import annotations

import json
from dataclasses import asdict

from ch12_reasoning import problems as P
from ch12_reasoning.cli import app
from ch12_reasoning.policy import (
    CharTokenizer,
    TrainConfig,
    bundled_policy_path,
    load_policy,
    new_model,
)
from ch12_reasoning.solve import solve_arithmetic
from llmpath_core.bench import run_json


def test_tokenizer_round_trip():
    tok = CharTokenizer()
    text = "G4 7 8 8:8/4=2>2 7 8;#24"
    assert tok.decode([*tok.encode(text), tok.eos_id, tok.pad_id]) == text


def test_bundled_policy_learned_the_task_and_an_untrained_one_did_not(policy):
    model, tok = policy
    probs = P.heldout_arithmetic(40)
    trained = solve_arithmetic(model, tok, probs, "cot")
    untrained = solve_arithmetic(new_model(TrainConfig(), len(tok)).eval(), tok, probs, "cot")
    assert trained["by_difficulty"]["1"] >= 0.3
    assert untrained["accuracy"] == 0.0


def test_bundled_policy_was_made_by_the_train_command_defaults():
    meta = json.loads((bundled_policy_path() / "policy.json").read_text())
    assert meta["config"] == asdict(TrainConfig())
    assert meta["loss_last_100"] < 0.3 * meta["loss_first"]


def test_train_command_writes_a_loadable_policy_and_loss_falls(tmp_path):
    out = tmp_path / "policy"
    result, _ = run_json(app, ["train", "--steps", "40", "--batch", "8", "--out", str(out)])
    assert result["loss_last_100"] < result["loss_first"]
    model, tok = load_policy(out)
    assert model.config.hidden_size == TrainConfig().hidden and len(tok) == model.config.vocab_size
