"""Checkpoints: an interrupted + resumed run equals an uninterrupted one; spikes roll back."""

from __future__ import annotations

import json
import math

import pytest
import torch
from safetensors.torch import load_file

from ch07_pretraining import list_checkpoints, resume_config, train
from llmpath_core import UserError


def _losses(run_dir):
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["train_loss"] for r in rows if "train_loss" in r}


def test_resume_continues_exactly(tiny_config, tmp_path):
    straight = train(tiny_config(), tmp_path / "straight")
    first = train(tiny_config(), tmp_path / "split", stop_at=10)
    assert first["step"] == 10
    second = train(tiny_config(), tmp_path / "split", resume=True)
    assert second["step"] == 20
    a, b = _losses(tmp_path / "straight"), _losses(tmp_path / "split")
    assert sorted(a) == sorted(b) == list(range(1, 21))
    diff = max(abs(a[s] - b[s]) for s in a)
    assert diff <= 1e-6, diff  # in practice 0.0: the runs are bit-identical on CPU
    wa = load_file(tmp_path / "straight" / "model.safetensors")
    wb = load_file(tmp_path / "split" / "model.safetensors")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert second["val_loss"] == straight["val_loss"]
    # keep-last-3 of checkpoints at 0, 5, 10, 15, 20
    assert [p.name for p in list_checkpoints(tmp_path / "split")] == [
        "step-000010",
        "step-000015",
        "step-000020",
    ]


def test_spike_rolls_back_and_skips_the_batch(tiny_config, tmp_path):
    clean = train(tiny_config(), tmp_path / "clean")
    result = train(tiny_config(inject_spike_at=12), tmp_path / "spiky")
    assert result["rollbacks"] == [
        {
            "step": 13,
            "event": "rollback",
            "loss": result["rollbacks"][0]["loss"],
            "to_step": 10,
            "skipped_batch": 12,
        }
    ]
    assert result["rollbacks"][0]["loss"] > 1000
    assert result["step"] == 20 and math.isfinite(result["train_loss"])
    a, b = _losses(tmp_path / "clean"), _losses(tmp_path / "spiky")
    assert all(a[s] == b[s] for s in range(1, 13))  # identical up to the bad batch
    assert a[13] != b[13]  # then batch 13 was used in place of 12
    assert abs(result["val_loss"] - clean["val_loss"]) < 0.2


def test_bad_resumes_are_refused_and_keep_the_checkpoint(tiny_config, tmp_path):
    with pytest.raises(UserError, match="no checkpoint"):
        train(tiny_config(), tmp_path / "empty", resume=True)
    with pytest.raises(UserError, match="not a training run"):
        resume_config(tmp_path / "empty")
    train(tiny_config(max_steps=5), tmp_path / "run")
    with pytest.raises(UserError, match="depth"):
        train(tiny_config(max_steps=5, depth=2), tmp_path / "run", resume=True)
    with pytest.raises(UserError, match="already holds a run"):
        train(tiny_config(max_steps=5), tmp_path / "run")
    latest = list_checkpoints(tmp_path / "run")[-1]
    (latest / "state.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="corrupt"):
        train(tiny_config(max_steps=10), tmp_path / "run", resume=True)
    assert [p.name for p in list_checkpoints(tmp_path / "run")] == ["step-000000", "step-000005"]
