"""The console script: the generate/speculative JSON contract and one-line errors (exit 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "LLMPATH_PROGRESS": "0"}
    return subprocess.run(
        [sys.executable, "-m", "ch14_inference.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_generate_json_contract_matches_hf_greedy(text_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    prompts = ["Once upon a time", "A dog"]
    args = ["generate", "--model", str(text_model_dir), "--max-tokens", "10", "--json"]
    for p in prompts:
        args += ["--prompt", p]
    result = _cli(*args)
    assert result.returncode == 0, result.stderr
    outputs = json.loads(result.stdout)["outputs"]
    assert [o["prompt"] for o in outputs] == prompts
    hf = AutoModelForCausalLM.from_pretrained(text_model_dir)
    tok = AutoTokenizer.from_pretrained(text_model_dir)
    for o in outputs:
        ids = tok.encode(o["prompt"])
        ref = hf.generate(
            torch.tensor([ids]),
            attention_mask=torch.ones(1, len(ids), dtype=torch.long),
            max_new_tokens=10,
            do_sample=False,
            eos_token_id=0,
            pad_token_id=0,
        )[0, len(ids) :].tolist()
        assert o["token_ids"] == ref
        assert o["text"] == tok.decode(o["token_ids"], skip_special_tokens=True)


@pytest.mark.slow  # a second model load in a subprocess: ~25 s on a busy 2-core machine
def test_speculative_json_is_identical_to_the_target(text_model_dir, draft_model_dir):
    result = _cli(
        "speculative",
        "--model",
        str(text_model_dir),
        "--draft",
        str(draft_model_dir),
        "--prompt",
        "Once upon a time",
        "--max-tokens",
        "16",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["outputs"][0]["identical_to_target"] is True
    assert len(payload["outputs"][0]["token_ids"]) <= 16
    assert 0.0 <= payload["acceptance_rate"] <= 1.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["--prompt", "x" * 200],
            "longer than the model's context",
            marks=pytest.mark.slow,  # in-process: test_ch14_engine.py and the server's 400
        ),
        pytest.param(
            ["--prompt", "hi", "--kv-blocks", "1", "--max-tokens", "40"],
            "too small for one request",
            marks=pytest.mark.slow,  # the same check runs in-process in test_ch14_engine.py
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(text_model_dir, args, message):
    result = _cli("generate", "--model", str(text_model_dir), *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


def test_unknown_model_folder_is_exit_2(tmp_path):
    result = _cli("generate", "--model", str(tmp_path / "missing"), "--json")
    assert result.returncode == 2
    assert "no model at" in json.loads(result.stdout)["error"]


@pytest.mark.slow  # the demo on llmpath's models: about a minute on 2 shared cores
def test_demo_json_has_showed_and_headline():
    result = _cli("demo", "--requests", "16", "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["showed"] and payload["headline"].endswith("with continuous batching")
    assert all(payload["speculative"]["identical_to_target"])
    b = payload["batching"]
    assert b["static"]["max_num_seqs"] == b["continuous"]["max_num_seqs"] == 8
    assert b["static"]["num_blocks"] == b["continuous"]["num_blocks"]
    assert "longer labs" in result.stderr
