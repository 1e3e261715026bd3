"""Seq2seq: the task, attention weights, beam 1 = greedy, learning, attention's effect."""

from __future__ import annotations

import pytest
import torch

from ch02_classic_lm.seq2seq import (
    Seq2Seq,
    beam_search,
    date_pairs,
    encode,
    greedy,
    render_date,
    train_seq2seq,
)


def test_dates_task():
    assert render_date(1998, 3, 3, 2) == "the 3rd of March 1998"
    assert render_date(2001, 11, 21, 4) == "21.11.2001"
    pairs = date_pairs(50, seed=0, filler=(6, 10))
    assert pairs == date_pairs(50, seed=0, filler=(6, 10))
    for text, iso in pairs:
        year, _month, _day = iso.split("-")
        assert year in text and len(text.split()) >= 13


@pytest.mark.parametrize("attention", ["none", "bahdanau", "luong"])
def test_beam_one_is_greedy_and_weights_normalise(attention):
    torch.manual_seed(0)
    model = Seq2Seq(attention, hidden=32).eval()
    for text, _ in date_pairs(6, seed=1):
        g_out, g_score, rows = greedy(model, text)
        b_out, b_score = beam_search(model, text, beam=1, alpha=0.0)
        assert b_out == g_out
        assert b_score == pytest.approx(g_score, abs=1e-5)
        if attention != "none":
            assert len(rows[0]) == len(encode(text))
            assert all(abs(sum(r) - 1) < 1e-5 for r in rows)


def test_wider_beam_scores_at_least_greedy():
    torch.manual_seed(0)
    model = Seq2Seq("bahdanau", hidden=32).eval()
    for text, _ in date_pairs(4, seed=2):
        # without length normalisation a wider beam never finds a worse best sequence here
        assert beam_search(model, text, beam=4, alpha=0.0)[1] >= greedy(model, text)[1] - 1e-6


def test_training_reduces_loss():
    _, res = train_seq2seq("luong", steps=30, batch=32, hidden=32, n_test=5)
    assert sum(res.losses[-5:]) / 5 < sum(res.losses[:5]) / 5 - 1.0


@pytest.mark.slow
def test_attention_beats_no_attention_on_long_inputs():
    """Effect (slow: two trainings of 250 steps): on inputs with 6-10 filler words each side,
    Bahdanau attention gets more exact ISO dates than the fixed-vector model."""
    _, none = train_seq2seq("none", steps=250, filler=(6, 10), n_test=100)
    _, attn = train_seq2seq("bahdanau", steps=250, filler=(6, 10), n_test=100)
    assert attn.exact_match > none.exact_match + 0.2
