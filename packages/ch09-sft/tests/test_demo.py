"""Effect: LoRA SFT moves the default model's held-out accuracy from ~0 to a stated level."""

from __future__ import annotations

from ch09_sft.cli import app
from llmpath_core.bench import run_json


def test_demo_lora_sft_raises_accuracy_and_merge_keeps_outputs():
    res, _ = run_json(app, ["demo"])
    assert res["accuracy_before"] <= 0.05
    # measured 0.85 (n=60, se 0.05); a broken mask, loss or adapter stays near 0
    assert res["accuracy_after"] >= 0.6
    assert res["accuracy_merged"] == res["accuracy_after"]
    assert res["merge_max_logit_diff"] <= 1e-4
    assert res["trainable_params"] < 0.05 * res["total_params"]
    assert isinstance(res["showed"], str) and isinstance(res["headline"], str)
