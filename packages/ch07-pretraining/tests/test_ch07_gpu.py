"""CUDA paths of the training loop (run on GPU runners; skipped without CUDA)."""

from __future__ import annotations

import dataclasses

import pytest

from ch07_pretraining import train
from ch07_pretraining.efficiency import default_variants, efficiency_table

pytestmark = pytest.mark.gpu


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_training_on_cuda_learns_and_reports_peak_memory(tiny_config, tmp_path, precision):
    result = train(tiny_config(device="cuda", precision=precision), tmp_path / precision)
    assert result["device"].startswith("cuda")
    assert result["val_loss"] < result["initial_val_loss"] - 0.3
    assert 0 < result["peak_memory_mb"] < 1024


def test_cuda_resume_is_exact(tiny_config, tmp_path):
    config = tiny_config(device="cuda", max_steps=10, checkpoint_every=5)
    whole = train(config, tmp_path / "whole")
    train(config, tmp_path / "split", stop_at=5)
    resumed = train(config, tmp_path / "split", resume=True)
    # cuBLAS may pick different kernels between processes, not within one: equal to 1e-6
    assert resumed["train_loss"] == pytest.approx(whole["train_loss"], abs=1e-6)


def test_cuda_matches_cpu_after_a_few_steps(tiny_config, tmp_path):
    config = tiny_config(max_steps=5, checkpoint_every=0, eval_every=5)
    cpu = train(config, tmp_path / "cpu")
    gpu = train(dataclasses.replace(config, device="cuda"), tmp_path / "gpu")
    assert gpu["val_loss"] == pytest.approx(cpu["val_loss"], abs=1e-3)


def test_efficiency_table_on_cuda_has_fp16_and_mfu(tiny_config, tmp_path):
    config = tiny_config(device="cuda", max_steps=5, checkpoint_every=0, eval_every=5)
    variants = default_variants("cuda")
    assert "fp16 + GradScaler" in variants
    rows = efficiency_table(config, tmp_path, variants=variants)
    assert {r["variant"] for r in rows} == set(variants)
    for row in rows:
        assert row["peak_memory_mb"] > 0 and 0 < row["mfu"] < 1
