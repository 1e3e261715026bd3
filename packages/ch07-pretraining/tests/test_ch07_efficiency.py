"""Efficiency variants: checkpointing changes memory, not results; bf16 still learns."""

from __future__ import annotations

import json

import pytest
import torch

from ch07_pretraining import TokenData, train
from ch07_pretraining.efficiency import efficiency_table, saved_activation_bytes
from ch07_pretraining.model import build_model, enable_activation_checkpointing, llama_config


def _losses(run_dir):
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r["train_loss"] for r in rows if "train_loss" in r]


def test_checkpointing_gives_the_same_losses_with_less_activation_memory(tiny_config, tmp_path):
    plain = train(tiny_config(max_steps=5, checkpoint_every=0), tmp_path / "plain")
    ckpt = train(
        tiny_config(max_steps=5, checkpoint_every=0, grad_checkpointing=True), tmp_path / "c"
    )
    assert _losses(tmp_path / "c") == pytest.approx(_losses(tmp_path / "plain"), abs=1e-6)
    assert ckpt["val_loss"] == pytest.approx(plain["val_loss"], abs=1e-6)

    data = TokenData.open(tiny_config().data)
    inputs, _ = data.batch(0, 8, 32, seed=0)
    torch.manual_seed(0)
    model = build_model(llama_config(2, data.vocab_size, 32))
    full = saved_activation_bytes(model, inputs)
    quarter = saved_activation_bytes(model, inputs[:2])
    enable_activation_checkpointing(model)
    recomputed = saved_activation_bytes(model, inputs)
    assert recomputed < 0.6 * full  # only the layer inputs are kept
    assert quarter == pytest.approx(full / 4, rel=0.05)  # activations scale with the batch


def test_efficiency_table_rows(tiny_config, tmp_path):
    rows = efficiency_table(tiny_config(max_steps=8, checkpoint_every=0), tmp_path)
    by = {r["variant"]: r for r in rows}
    assert set(by) == {"fp32", "bf16 autocast", "gradient checkpointing", "accumulation x4"}
    assert by["gradient checkpointing"]["val_loss"] == pytest.approx(
        by["fp32"]["val_loss"], abs=1e-5
    )
    assert by["accumulation x4"]["val_loss"] == pytest.approx(by["fp32"]["val_loss"], abs=1e-4)
    assert abs(by["bf16 autocast"]["val_loss"] - by["fp32"]["val_loss"]) < 0.1
    assert by["accumulation x4"]["activation_mb"] < 0.3 * by["fp32"]["activation_mb"]
    for row in rows:  # MFU against a measured matmul peak: a fraction, never above 1
        assert 0 < row["mfu"] < 1 and row["model_tflops"] > 0
        assert row["peak_memory_mb"] is None  # per-run peak memory is a CUDA measurement


def test_flops_per_token_counts_matmul_weights_once():
    from ch07_pretraining.efficiency import flops_per_token

    model = build_model(llama_config(2, 300, 32))  # width 64, MLP 176, tied embeddings
    layer = 4 * 64 * 64 + 3 * 64 * 176
    matmul_params = 2 * layer + 300 * 64  # the tied matrix once, as the output projection
    assert flops_per_token(model, 32) == 6 * matmul_params + 12 * 2 * 32 * 64


@pytest.mark.slow
def test_torch_compile_gives_the_same_losses(tiny_config, tmp_path):
    """torch.compile (inductor; needs a C++ compiler on CPU) changes speed, not the maths."""
    plain = train(tiny_config(max_steps=5, checkpoint_every=0), tmp_path / "plain")
    compiled = train(tiny_config(max_steps=5, checkpoint_every=0, compile=True), tmp_path / "c")
    assert _losses(tmp_path / "c") == pytest.approx(_losses(tmp_path / "plain"), abs=1e-4)
    assert compiled["val_loss"] == pytest.approx(plain["val_loss"], abs=1e-4)
