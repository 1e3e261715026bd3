"""The real stages' wiring: presets build a valid pipeline; preference pairs from a chat set."""

import pytest

from llmpath.path import Pipeline
from llmpath.stages import PRESETS, build_stages, preference_pairs
from llmpath_core.errors import UserError


def test_every_preset_is_a_valid_pipeline(tmp_path):
    for preset in [*PRESETS, "stub"]:
        stages = build_stages(preset)
        Pipeline(tmp_path, stages)  # raises if a stage reads a stage that does not run before it
        if preset != "stub":
            assert [s.name for s in stages][:3] == ["tokenizer", "data", "pretrain"]
            assert stages[-1].name == "registry"


def test_an_unknown_preset_is_a_user_error():
    with pytest.raises(UserError, match="unknown preset"):
        build_stages("huge")


def test_preference_pairs_reject_another_records_answer():
    rows = [
        {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
        for q, a in [("Add 1 and 2.", "3"), ("Add 2 and 2.", "4"), ("Say hi.", "4")]
    ]
    pairs = preference_pairs(rows)
    assert pairs[0] == {
        "prompt": "User: Add 1 and 2.\nAssistant:",
        "chosen": " 3",
        "rejected": " 4",
    }
    assert len(pairs) == 2  # the second record's neighbour gives the same answer: no pair
    assert pairs[1]["chosen"] == " 4" and pairs[1]["rejected"] == " 3"  # wraps around
