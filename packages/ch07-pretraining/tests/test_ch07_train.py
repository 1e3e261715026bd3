"""The loop learns: loss starts at ln V and falls; the result is a standard HF model folder."""

from __future__ import annotations

import math

import pytest
import torch
from transformers import AutoModelForCausalLM

from ch07_pretraining import TokenData, evaluate, lr_lambda, token_byte_lengths, train
from ch07_pretraining.model import PRESETS, build_model, count_parameters, llama_config
from ch07_pretraining.sample import generate
from llmpath_core import UserError


def test_loss_falls_from_ln_vocab(tiny_config, tmp_path):
    config = tiny_config(max_steps=40, eval_every=20, checkpoint_every=0)
    result = train(config, tmp_path / "run")
    # a fresh model predicts roughly uniformly: loss ~ ln 300 = 5.70
    assert abs(result["initial_val_loss"] - math.log(300)) < 0.15
    assert result["val_loss"] < result["initial_val_loss"] - 1.0
    assert 0 < result["val_bpb"] < result["initial_val_loss"] / math.log(2)
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert len([x for x in lines if "train_loss" in x]) == 40
    assert (tmp_path / "run" / "loss.png").stat().st_size > 1000

    # the run folder loads with the standard HF class and gives the reported validation loss
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "run")
    data = TokenData.open(config.data)
    again = evaluate(model, data, token_byte_lengths(data.tokenizer()), config)
    assert again["val_loss"] == pytest.approx(result["val_loss"], abs=1e-5)


def test_grad_accumulation_matches_the_full_batch(tiny_config, tmp_path):
    full = train(tiny_config(max_steps=3, checkpoint_every=0), tmp_path / "full")
    accum = train(tiny_config(max_steps=3, checkpoint_every=0, grad_accum=4), tmp_path / "acc")
    assert accum["val_loss"] == pytest.approx(full["val_loss"], abs=1e-5)


def test_warmup_then_cosine(tiny_config):
    f = lr_lambda(tiny_config(max_steps=100, warmup_steps=10, min_lr_ratio=0.1))
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)
    assert f(55) == pytest.approx(0.55)  # half-way down the cosine: (1 + 0.1) / 2
    assert f(100) == pytest.approx(0.1) and f(10) > f(50) > f(90)


def test_depth_dial_and_presets():
    widths = [llama_config(d, 4096, 256).hidden_size for d in (2, 4, 6)]
    assert widths == [64, 128, 192]
    torch.manual_seed(0)
    default = PRESETS["default"]
    n = count_parameters(build_model(llama_config(default.depth, default.vocab_size, 256)))
    assert n <= 10_000_000  # issue 12: llmpath's default model has at most 10 M parameters
    with pytest.raises(UserError, match="depth"):
        llama_config(0, 300, 32)


def test_sequence_longer_than_the_data_is_refused(tiny_config, tmp_path):
    with pytest.raises(UserError, match="seq-len"):
        train(tiny_config(seq_len=10_000_000), tmp_path / "run")


def test_sample_from_the_run_folder(tiny_config, tmp_path):
    train(tiny_config(max_steps=2, checkpoint_every=0), tmp_path / "run")
    text = generate(tmp_path / "run", "Once", max_new_tokens=6, seed=1)
    assert text == generate(tmp_path / "run", "Once", max_new_tokens=6, seed=1)  # seeded
    assert isinstance(text, str) and len(text) > 0
    with pytest.raises(UserError, match="context"):
        generate(tmp_path / "run", "Once", max_new_tokens=100)
    with pytest.raises(UserError, match="not a trained model folder"):
        generate(tmp_path, "Once")
