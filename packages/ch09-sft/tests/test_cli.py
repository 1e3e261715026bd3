"""The CLI contract on a tiny llama folder: train, merge-adapter (= peft's), eval, exit 2."""

from __future__ import annotations

import json

import pytest
import torch

from ch09_sft.cli import app
from ch09_sft.sft import make_task
from llmpath_core.bench import run_json
from llmpath_core.testing import byte_tokenizer, tiny_llama


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    """A tiny llama + byte tokenizer saved as an HF folder (vocab fits the byte tokenizer)."""
    path = tmp_path_factory.mktemp("tiny")
    tok = byte_tokenizer()
    model = tiny_llama(0, vocab=len(tok), eos=tok.eos_token_id, pad=tok.pad_token_id)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in make_task(32, 0)))
    return path


def test_train_writes_peft_adapter_merge_and_eval(tmp_path, tiny_dir, data_file, peft):
    from transformers import AutoModelForCausalLM

    out = tmp_path / "ad"
    res, _ = run_json(
        app,
        [
            "train",
            "--method",
            "lora",
            "--data",
            str(data_file),
            "--model",
            str(tiny_dir),
            "--rank",
            "4",
            "--max-steps",
            "5",
            "--batch-size",
            "4",
            "--out",
            str(out),
        ],
    )
    assert {"train_loss", "trainable_params", "total_params"} <= res.keys()
    assert 0 < res["trainable_params"] < 0.2 * res["total_params"]
    assert res["train_loss"] < res["first_loss"]  # five steps at lr 3e-3 lower the loss
    assert (out / "adapter_config.json").is_file() and (out / "adapter_model.safetensors").is_file()
    merged_dir = tmp_path / "merged"
    run_json(
        app,
        [
            "merge-adapter",
            "--adapter",
            str(out),
            "--model",
            str(tiny_dir),
            "--out",
            str(merged_dir),
        ],
    )
    ours = AutoModelForCausalLM.from_pretrained(merged_dir).state_dict()
    base = AutoModelForCausalLM.from_pretrained(tiny_dir)
    theirs = peft.PeftModel.from_pretrained(base, out).merge_and_unload().state_dict()
    assert ours.keys() == theirs.keys()
    assert max(float((ours[k] - theirs[k]).abs().max()) for k in ours) <= 1e-6
    ev, _ = run_json(app, ["eval", "--model", str(tiny_dir), "--adapter", str(out), "--n", "4"])
    assert 0.0 <= ev["accuracy"] <= 1.0 and ev["n"] == 4
    assert torch.isfinite(torch.tensor(res["train_loss"]))


def test_bad_input_exits_2(cli, tmp_path, tiny_dir, data_file):
    """One real subprocess for the exit code; the other bad inputs in process (same run_app)."""
    from llmpath_core.cli import run_app

    no_assistant = tmp_path / "bad.jsonl"
    no_assistant.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n")
    common = ["--model", str(tiny_dir), "--max-steps", "1", "--json"]
    proc = cli("train", "--data", str(no_assistant), "--out", str(tmp_path / "a"), *common)
    assert proc.returncode == 2, proc.stderr[-500:]
    assert "no assistant turn" in proc.stderr
    assert not (tmp_path / "a").exists()
    for extra in (["--target-modules", "nope"], ["--rank", "1000"]):
        with pytest.raises(SystemExit) as exc:
            run_app(
                app,
                ["train", "--data", str(data_file), "--out", str(tmp_path / "b"), *extra, *common],
            )
        assert exc.value.code == 2, extra
        assert not (tmp_path / "b").exists()


def test_train_ia3_and_qlora_then_merge_like_peft(tmp_path, tiny_dir, data_file, peft):
    from transformers import AutoModelForCausalLM

    common = ["--data", str(data_file), "--model", str(tiny_dir), "--max-steps", "3"]
    common += ["--batch-size", "4"]
    for method in ("ia3", "qlora"):
        out = tmp_path / method
        res, _ = run_json(
            app, ["train", "--method", method, "--rank", "4", "--out", str(out), *common]
        )
        assert res["trainable_params"] < 0.2 * res["total_params"], method
        merged_dir = tmp_path / f"{method}-merged"
        run_json(
            app,
            [
                "merge-adapter",
                "--adapter",
                str(out),
                "--model",
                str(tiny_dir),
                "--out",
                str(merged_dir),
            ],
        )
        ours = AutoModelForCausalLM.from_pretrained(merged_dir).state_dict()
        base = AutoModelForCausalLM.from_pretrained(tiny_dir)
        theirs = peft.PeftModel.from_pretrained(base, out).merge_and_unload().state_dict()
        assert max(float((ours[k] - theirs[k]).abs().max()) for k in ours) <= 1e-6, method


def test_merge_command_equals_library(tmp_path, tiny_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ch09_sft.merge import merge_states

    base = AutoModelForCausalLM.from_pretrained(tiny_dir)
    tok = AutoTokenizer.from_pretrained(tiny_dir)
    folders, states = [], []
    for seed in (1, 2):
        m = AutoModelForCausalLM.from_pretrained(tiny_dir)
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in m.parameters():
                p.add_(0.01 * torch.randn(p.shape, generator=g))
        folders.append(str(tmp_path / f"ft{seed}"))
        m.save_pretrained(folders[-1])
        tok.save_pretrained(folders[-1])
        states.append({k: v.detach() for k, v in m.state_dict().items()})
    base_state = {k: v.detach() for k, v in base.state_dict().items()}
    out = tmp_path / "merged"
    res, _ = run_json(
        app,
        [
            "merge",
            "--models",
            ",".join(folders),
            "--base",
            str(tiny_dir),
            "--method",
            "dare_ties",
            "--density",
            "0.3",
            "--out",
            str(out),
        ],
    )
    assert res["method"] == "dare_ties"
    got = AutoModelForCausalLM.from_pretrained(out).state_dict()
    want = merge_states(states, "dare_ties", base=base_state, density=0.3, seed=0)
    assert max(float((got[k] - want[k]).abs().max()) for k in want) <= 1e-6
