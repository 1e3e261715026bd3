"""The console script: the train/resume JSON contract, sampling, and one-line errors (exit 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "LLMPATH_PROGRESS": "0"}
    return subprocess.run(
        [sys.executable, "-m", "ch07_pretraining.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_train_then_resume(tiny_data, tmp_path):
    run_dir = tmp_path / "run"
    tiny = ["--depth", "1", "--seq-len", "32", "--batch-size", "8", "--checkpoint-every", "2"]
    trained = _cli(
        "train",
        "--data",
        str(tiny_data),
        *tiny,
        "--max-steps",
        "6",
        "--stop-at",
        "4",
        "--out",
        str(run_dir),
        "--json",
    )
    assert trained.returncode == 0, trained.stderr
    first = json.loads(trained.stdout)
    assert {"step", "train_loss", "val_loss", "tokens_per_s"} <= set(first)
    assert first["step"] == 4

    resumed = _cli("resume", str(run_dir), "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["step"] == 6
    assert (run_dir / "config.json").is_file() and (run_dir / "tokenizer.json").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--preset", "huge"], "unknown preset"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, tmp_path):
    result = _cli(*[a.replace("{tmp}", str(tmp_path)) for a in args], "--json")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert message in json.loads(result.stdout)["error"]
