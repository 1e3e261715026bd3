"""The CLI: --json gives one parsable object; bad input gives one line on stderr and exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from ch05_transformer.cli import app
from ch05_transformer.hf_loading import save_pretrained
from ch05_transformer.llama import LlamaConfig, LlamaDecoder
from ch05_transformer.train import train_tokenizer
from llmpath_core.cli import run_app


def test_parity_json_in_process(tiny_hf_models, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_app(
            app, ["parity", "--model", str(tiny_hf_models["gpt2"]), "--device", "cpu", "--json"]
        )
    assert exit_info.value.code == 0
    result = json.loads(capsys.readouterr().out)
    (row,) = result["models"]
    assert row["architecture"] == "gpt2"
    assert row["logits_max_abs_diff"] <= 1e-5


@pytest.fixture
def short_context_model(tmp_path):
    torch.manual_seed(0)
    model = LlamaDecoder(
        LlamaConfig(
            vocab_size=300,
            hidden_size=32,
            intermediate_size=64,
            num_layers=1,
            num_heads=2,
            num_kv_heads=1,
            max_position_embeddings=16,
        )
    )
    tokenizer = train_tokenizer(["the cat sat on the mat"] * 20, vocab_size=300)
    return save_pretrained(model, tmp_path / "short", {"tokenizer.json": tokenizer.to_str()})


def test_missing_folder_exits_2_with_one_line_as_a_real_process(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "ch05_transformer.cli", "generate", "--model", str(tmp_path / "no")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: no model folder at {tmp_path / 'no'}: give a folder holding config.json + weights"
    ]


def _run(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        run_app(app, args)
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def test_unsupported_architecture_and_too_long_prompt_exit_2(tmp_path, short_context_model, capsys):
    unsupported = tmp_path / "t5"
    unsupported.mkdir()
    (unsupported / "config.json").write_text(json.dumps({"model_type": "t5"}))
    code, _, err = _run(["parity", "--model", str(unsupported)], capsys)
    assert code == 2
    assert err.strip().splitlines() == [
        f"error: unsupported architecture 't5' in {unsupported / 'config.json'}: "
        "ch05 loads llama, gpt2, bert folders"
    ]
    prompt = "the cat sat on the mat " * 10
    code, out, err = _run(
        [
            "generate",
            "--model",
            str(short_context_model),
            "--prompt",
            prompt,
            "--max-new-tokens",
            "4",
            "--json",
        ],
        capsys,
    )
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "longer than the model's context of 16" in json.loads(out)["error"]
    # a prompt that fits generates exactly the requested tokens
    code, out, _ = _run(
        [
            "generate",
            "--model",
            str(short_context_model),
            "--prompt",
            "the cat",
            "--max-new-tokens",
            "4",
            "--json",
        ],
        capsys,
    )
    assert code == 0
    assert json.loads(out)["new_tokens"] == 4


def test_attention_plot_from_transformers_matches_ours(tmp_path, capsys):
    args = ["attention-plot", "--layer", "0", "--out", str(tmp_path), "--json"]
    code, out, _ = _run(args, capsys)
    assert code == 0
    ours = json.loads(out)["heads"]
    assert len(ours) == 72  # 6 layers x 12 heads summarised, whichever layers are plotted
    assert (tmp_path / "all-MiniLM-L6-v2-layer0.png").is_file()
    code, _, err = _run(["attention-plot", "--layer", "9", "--out", str(tmp_path)], capsys)
    assert code == 2
    assert "out of range" in err
    code, out, _ = _run([*args, "--from-transformers"], capsys)
    assert code == 0
    result = json.loads(out)
    assert (tmp_path / "all-MiniLM-L6-v2-transformers-layer0.png").is_file()
    for a, b in zip(ours, result["heads"], strict=True):
        assert abs(a["entropy"] - b["entropy"]) < 1e-4
        assert abs(a["mean_distance"] - b["mean_distance"]) < 1e-4


def test_demo_decoder_is_trained_once_then_read_from_the_cache(tmp_path, monkeypatch):
    from ch05_transformer import cli as ch05_cli
    from llmpath_core.cli import Run

    monkeypatch.setenv("LLMPATH_HOME", str(tmp_path))
    calls = []
    import ch05_transformer.train as train_module  # the helper imports train_decoder from here

    original = train_module.train_decoder

    def counting(cfg):
        calls.append(cfg.steps)
        return original(cfg, show_progress=False)

    monkeypatch.setattr(train_module, "train_decoder", counting)
    run = Run(seed=0, device=torch.device("cpu"), json=True)
    folder, first, cached = ch05_cli._demo_decoder(run, 2)
    assert not cached and calls == [2] and (folder / "config.json").is_file()
    again_folder, again, cached = ch05_cli._demo_decoder(run, 2)
    assert cached and calls == [2]  # no second training
    assert again_folder == folder and again == first
    assert folder.is_relative_to(tmp_path / "ch05" / "demo")
    # another seed is another model
    run.seed = 1
    assert ch05_cli._demo_decoder(run, 2)[0] != folder and calls == [2, 2]
