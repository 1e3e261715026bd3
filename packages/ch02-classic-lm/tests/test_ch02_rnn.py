"""Our cells against torch's: same outputs and gradients; vanishing and exploding gradients."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ch02_classic_lm.rnn import (
    CharCorpus,
    CharLM,
    Recurrent,
    exploding_gradients,
    gradient_per_step,
    train_char_lm,
)
from llmpath_core import load_text

TORCH = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_cells_equal_torch_outputs_and_gradients(kind):
    torch.manual_seed(0)
    ref = TORCH[kind](5, 7, batch_first=True).double()
    ours = Recurrent(kind, 5, 7).double().load_from_torch(ref)
    x = torch.randn(3, 11, 5, dtype=torch.float64)
    x1, x2 = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    out_ref, state_ref = ref(x1)
    out_ours, state_ours = ours(x2)
    assert (out_ref - out_ours).abs().max() < 1e-12
    h_ref = state_ref[0][0] if kind == "lstm" else state_ref[0]
    h_ours = state_ours[0] if kind == "lstm" else state_ours
    assert (h_ref - h_ours).abs().max() < 1e-12
    if kind == "lstm":
        assert (state_ref[1][0] - state_ours[1]).abs().max() < 1e-12
    weights = torch.randn_like(out_ref)
    (out_ref * weights).sum().backward()
    (out_ours * weights).sum().backward()
    assert (x1.grad - x2.grad).abs().max() < 1e-6
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        g_ref = getattr(ref, f"{name}_l0").grad
        g_ours = getattr(ours.cell, name).grad
        assert (g_ref - g_ours).abs().max() < 1e-6, name


def test_cells_equal_torch_in_float32():
    torch.manual_seed(1)
    ref = nn.LSTM(8, 16, batch_first=True)
    ours = Recurrent("lstm", 8, 16).load_from_torch(ref)
    x = torch.randn(4, 20, 8)
    assert (ref(x)[0] - ours(x)[0]).abs().max() < 1e-6


@pytest.fixture(scope="module")
def text():
    return load_text("stories", split="train", max_chars=60_000)


def _probe(text, length=41):
    corpus = CharCorpus.from_text(text)
    data = corpus.encode(text)
    return corpus, torch.stack([data[i * 997 : i * 997 + length] for i in range(16)])


def test_vanishing_gradient_rnn_vs_lstm(text):
    """Effect: 40 steps back, the vanilla RNN's gradient has vanished (< 1e-6 of the last
    step's); the LSTM with forget-gate bias 1 keeps orders of magnitude more of it."""
    corpus, probe = _probe(text)
    reach = {}
    for kind in ("rnn", "lstm"):
        torch.manual_seed(0)
        model = CharLM(len(corpus.chars), kind, hidden=64)
        model.rnn.cell.reset_parameters("default", forget_bias=1.0)
        g = gradient_per_step(model, probe)
        reach[kind] = g[0] / g[-1]
    assert reach["rnn"] < 1e-6
    assert reach["lstm"] > 1e3 * reach["rnn"]


def test_large_init_explodes_backwards(text):
    corpus, probe = _probe(text)
    torch.manual_seed(0)
    model = CharLM(len(corpus.chars), "rnn", hidden=64)
    model.rnn.cell.reset_parameters("large")
    g = gradient_per_step(model, probe)
    assert g[0] > 100 * g[-1]


def test_clipping_bounds_the_update(text):
    """Unclipped, the first update saturates the RNN (recurrence dead); clipped, it does not."""
    runs = exploding_gradients(text, steps=4, seq_len=40)
    free, clipped = runs["no clipping"], runs["clip 1.0"]
    assert free["grad_norms"][0] > 100 * free["grad_norms"][1]  # one huge step, then dead
    assert free["max_update"] > 100 * clipped["max_update"]
    assert clipped["max_update"] <= 0.3 + 1e-6  # lr * clip
    assert free["saturated"] > 0.9 > clipped["saturated"]


def test_char_lm_learns(text):
    val = load_text("stories", split="validation", max_chars=3000)
    _, res = train_char_lm(text, val, "gru", steps=40, seq_len=24, batch=16, hidden=48)
    assert res.losses[-1] < res.losses[0] - 0.8
    assert res.val_bits_per_char < 4.5  # uniform over the ~60 characters is about 5.9 bits
