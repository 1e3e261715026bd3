"""Two processes with DDP (and with ZeRO-1) make the same updates as one process on the batch."""

from __future__ import annotations

import dataclasses

import pytest
from safetensors.torch import load_file

from ch07_pretraining import train
from ch07_pretraining.distributed import spawn_train
from llmpath_core import UserError


def _max_diff(a: dict, b: dict) -> float:
    return max((a[k] - b[k]).abs().max().item() for k in a)


def test_two_process_ddp_and_zero1_equal_one_process(tiny_config, tmp_path):
    config = tiny_config(max_steps=4, checkpoint_every=0, eval_every=100)
    single = train(config, tmp_path / "single")
    zero_config = dataclasses.replace(config, zero=True)
    ddp, zero = spawn_train(
        [(config, tmp_path / "ddp"), (zero_config, tmp_path / "zero")],
        world_size=2,
        start_method="fork",
    )
    assert ddp["world_size"] == zero["world_size"] == 2
    reference = load_file(tmp_path / "single" / "model.safetensors")
    for name in ("ddp", "zero"):
        diff = _max_diff(load_file(tmp_path / name / "model.safetensors"), reference)
        assert diff <= 1e-6, (name, diff)
    assert ddp["train_loss"] == pytest.approx(single["train_loss"], abs=1e-5)
    assert zero["train_loss"] == pytest.approx(single["train_loss"], abs=1e-5)


def test_zero_needs_several_processes(tiny_config, tmp_path):
    with pytest.raises(UserError, match="torchrun"):
        train(tiny_config(zero=True), tmp_path / "run")
