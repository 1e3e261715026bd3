"""Two processes with DDP, ZeRO-1 or FSDP make the same updates as one process on the batch."""

from __future__ import annotations

import dataclasses

import pytest
from safetensors.torch import load_file

from ch07_pretraining import train
from ch07_pretraining.distributed import spawn_train
from llmpath_core import UserError


def _max_diff(a: dict, b: dict) -> float:
    return max((a[k] - b[k]).abs().max().item() for k in a)


def test_two_processes_equal_one_process(tiny_config, tmp_path):
    """DDP, ZeRO-1, FSDP (also with accumulation, and through a spike rollback, which restores a
    full checkpoint into the sharded model) all land on the single-process parameters (<= 1e-6).
    """
    config = tiny_config(max_steps=4, checkpoint_every=0, eval_every=100)
    spiky = dataclasses.replace(config, checkpoint_every=2, spike_warmup=1, inject_spike_at=3)
    single = train(config, tmp_path / "single")
    single_spiky = train(spiky, tmp_path / "single-spiky")
    fsdp = dataclasses.replace(config, fsdp=True)
    jobs = {
        "ddp": config,
        "zero": dataclasses.replace(config, zero=True),
        "fsdp": fsdp,
        "fsdp-accum": dataclasses.replace(fsdp, grad_accum=2),
        "fsdp-spiky": dataclasses.replace(spiky, fsdp=True),
    }
    results = spawn_train(
        [(job, tmp_path / name) for name, job in jobs.items()], world_size=2, start_method="fork"
    )
    results = dict(zip(jobs, results, strict=True))
    reference = load_file(tmp_path / "single" / "model.safetensors")
    for name, result in results.items():
        assert result["world_size"] == 2
        expected = single_spiky if name == "fsdp-spiky" else single
        folder = "single-spiky" if name == "fsdp-spiky" else "single"
        reference = load_file(tmp_path / folder / "model.safetensors")
        diff = _max_diff(load_file(tmp_path / name / "model.safetensors"), reference)
        assert diff <= 1e-6, (name, diff)
        assert result["train_loss"] == pytest.approx(expected["train_loss"], abs=1e-5), name
    assert len(single_spiky["rollbacks"]) == len(results["fsdp-spiky"]["rollbacks"]) == 1


@pytest.mark.slow  # fp16 autocast is slow on CPU; test_ch07_precision.py checks the scaler fast
def test_fp16_with_grad_scaler_trains(tiny_config, tmp_path):
    """fp16 autocast + GradScaler (CPU autocast supports fp16): the loss falls like fp32's."""
    fp32 = train(tiny_config(checkpoint_every=0), tmp_path / "fp32")
    fp16 = train(tiny_config(checkpoint_every=0, precision="fp16"), tmp_path / "fp16")
    assert fp16["val_loss"] < fp16["initial_val_loss"] - 0.3
    assert fp16["val_loss"] == pytest.approx(fp32["val_loss"], abs=0.05)
    assert fp16["peak_memory_mb"] > 0


def test_fsdp_needs_several_processes_and_no_fp16(tiny_config, tmp_path):
    with pytest.raises(UserError, match="torchrun"):
        train(tiny_config(fsdp=True), tmp_path / "run")
    with pytest.raises(UserError, match="bf16"):
        train(tiny_config(fsdp=True, precision="fp16"), tmp_path / "run")


def test_zero_needs_several_processes(tiny_config, tmp_path):
    with pytest.raises(UserError, match="torchrun"):
        train(tiny_config(zero=True), tmp_path / "run")
