"""The console script: the train/resume JSON contract, sampling, and one-line errors (exit 2)."""

from __future__ import annotations

import hashlib
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


def _in_process(*args: str) -> dict:
    """The same commands in this process (importing transformers once, not once per command)."""
    from ch07_pretraining.cli import app
    from llmpath_core.bench import run_json
    from llmpath_core.testing import torch_threads

    with torch_threads(1):
        return run_json(app, [a for a in args if a != "--json"])[0]


def test_train_then_resume(tiny_data, tmp_path):
    run_dir = tmp_path / "run"
    tiny = ["--depth", "1", "--seq-len", "32", "--batch-size", "8", "--checkpoint-every", "2"]
    first = _in_process(
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
    assert {"step", "train_loss", "val_loss", "tokens_per_s"} <= set(first)
    assert first["step"] == 4

    assert _in_process("resume", str(run_dir), "--json")["step"] == 6
    assert (run_dir / "config.json").is_file() and (run_dir / "tokenizer.json").is_file()

    # release: the folder + card that llmpath's default model ships as
    released = tmp_path / "released"
    summary = _in_process(
        "release",
        str(run_dir),
        "--name",
        "draft",
        "--out",
        str(released),
        "--command",
        "make it",
        "--train-seconds",
        "1.5",
        "--eval-chars",
        "20000",
        "--json",
    )
    card = json.loads((released / "card.json").read_text())
    assert card["name"] == "draft" and card["commands"] == ["make it"]
    assert card["training"]["steps"] == 6 and card["training"]["tokens_seen"] == 6 * 8 * 32
    assert (
        card["sha256"]
        == summary["sha256"]
        == hashlib.sha256((released / "model.safetensors").read_bytes()).hexdigest()
    )
    assert card["eval"]["seq_len"] == 32  # the model's context, not more
    assert card["eval"]["max_chars"] == 20_000
    assert [p["source"] for p in card["eval_parts"]][:3] == [
        "mix:validation",
        "stories:validation",
        "prose:validation",
    ]
    assert "sha256" in (released / "README.md").read_text()
    assert len(card["samples"]) == 3

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llmpath_core import evaluate_lm

    model = AutoModelForCausalLM.from_pretrained(released)
    again = evaluate_lm(model, AutoTokenizer.from_pretrained(released), max_chars=20_000)
    assert again["loss"] == pytest.approx(card["eval"]["loss"], rel=1e-4)


def _exit_code(*args: str) -> int:
    from ch07_pretraining.cli import app
    from llmpath_core.cli import run_app

    with pytest.raises(SystemExit) as exited:
        run_app(app, list(args))
    return exited.value.code


def test_console_script_bad_input_is_one_line_and_exit_2():
    """Once through the real console script: exit code 2, one line on stderr, JSON on stdout."""
    result = _cli("train", "--preset", "huge", "--json")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown preset" in lines[0], result.stderr
    assert "unknown preset" in json.loads(result.stdout)["error"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--preset", "huge"], "unknown preset"),
        (["train", "--precision", "fp8"], "precision must be one of"),
        (["release", "{tmp}", "--out", "{tmp}/x"], "holds no finished model"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, tmp_path, capsys):
    code = _exit_code(*[a.replace("{tmp}", str(tmp_path)) for a in args], "--json")
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], captured.err
    assert message in json.loads(captured.out)["error"]


def test_cuda_without_cuda_is_a_clean_error(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code = _exit_code("train", "--device", "cuda", "--out", str(tmp_path / "run"), "--json")
    assert code == 2
    assert "CUDA is not available" in json.loads(capsys.readouterr().out)["error"]
    assert not (tmp_path / "run").exists()
