"""The console script: quantize -> eval reloads without calibration data; bad input is exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from llmpath_core.cli import run_app


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "LLMPATH_PROGRESS": "0"}
    return subprocess.run(
        [sys.executable, "-m", "ch13_quantization.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.fixture(scope="module")
def model_dir(tokenizer, tmp_path_factory):
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=300, hidden_size=32, intermediate_size=48, num_hidden_layers=1,
        num_attention_heads=2, max_position_embeddings=64, tie_word_embeddings=True,
    )  # fmt: skip
    path = tmp_path_factory.mktemp("ch13-cli") / "tiny"
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_quantize_then_eval_reloads_without_calibration(model_dir, tmp_path):
    out = tmp_path / "q"
    q = _cli("quantize", "--method", "gptq", "--bits", "4", "--group-size", "16",
             "--model", str(model_dir), "--calib-samples", "4", "--eval-chars", "5000",
             "--out", str(out), "--json")  # fmt: skip
    assert q.returncode == 0, q.stderr
    made = json.loads(q.stdout)
    assert made["method"] == "gptq" and made["group_size"] == 16
    assert made["size_bytes"] < made["source_size_bytes"]
    assert (out / "quantization.json").is_file()
    e = _cli("eval", "--model", str(out), "--max-chars", "5000", "--no-speed", "--json")
    assert e.returncode == 0, e.stderr
    evaluated = json.loads(e.stdout)
    assert {"perplexity", "size_bytes", "tokens_per_s"} <= set(evaluated)
    assert evaluated["perplexity"] == pytest.approx(made["perplexity"], rel=1e-6)
    assert evaluated["size_bytes"] == made["size_bytes"]


def test_bad_bits_is_one_line_exit_2_in_a_real_process(model_dir, tmp_path):
    r = _cli("quantize", "--bits", "9", "--model", str(model_dir), "--out", str(tmp_path / "x"))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert lines == ["error: unsupported bits 9: choose one of 2, 3, 4, 5, 6, 7, 8"]
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--method", "rtn", "--group-size", "24"], "group size 24 does not divide"),
        (["--method", "nf4", "--bits", "3"], "nf4 is a 4-bit format"),
        (["--method", "gptq", "--calibration", "{tmp}/missing.txt"], "missing.txt"),
        (["--method", "smoothquant", "--bits", "4"], "8-bit method"),
        (["--method", "int4"], "unknown method"),
        (["--method", "smoothquant", "--bits", "8", "--alpha", "2"], "--alpha must be"),
        (["--model", "{tmp}/nope"], "nope"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    args, message, model_dir, tmp_path, capsys
):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "--model" not in args:
        args += ["--model", str(model_dir)]
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        run_app(_app(), ["quantize", *args, "--out", str(out)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not out.exists()


def test_model_without_linear_layers_is_refused(tmp_path, tokenizer, capsys):
    from transformers import GPT2Config, GPT2LMHeadModel

    path = tmp_path / "gpt2"  # GPT-2 computes with Conv1D, not nn.Linear (lm_head is skipped)
    GPT2LMHeadModel(GPT2Config(vocab_size=300, n_embd=32, n_layer=1, n_head=2, n_positions=64)
                    ).save_pretrained(path)  # fmt: skip
    tokenizer.save_pretrained(path)
    with pytest.raises(SystemExit) as exit_info:
        run_app(_app(), ["quantize", "--model", str(path), "--out", str(tmp_path / "o")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nothing to quantize" in err[0], err
    assert not (tmp_path / "o").exists()


def _app():
    from ch13_quantization.cli import app

    return app
