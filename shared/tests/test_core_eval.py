"""evaluate_lm's standard errors and paired_difference, held to direct computations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from llmpath_core import UserError, evaluate_lm, paired_difference
from llmpath_core.models import summary


@pytest.fixture(scope="module")
def tiny():
    from llmpath_core.models import load_model
    from llmpath_core.testing import tiny_llama

    _, tokenizer = load_model("default")
    kwargs = {"vocab": len(tokenizer), "hidden": 32, "layers": 1, "heads": 2, "ctx": 64}
    return tiny_llama(0, **kwargs), tiny_llama(1, **kwargs), tokenizer


def test_loss_and_its_stderr_equal_a_direct_computation(tiny):
    import torch

    from llmpath_core.data import load_documents
    from llmpath_core.models import encode_documents

    model, _, tokenizer = tiny
    result = evaluate_lm(model, tokenizer, "mix:validation", max_chars=8_000, seq_len=32)
    ids = encode_documents(tokenizer, load_documents("mix:validation", max_chars=8_000))
    n = result["windows"]
    assert n == (len(ids) - 1) // 32 and result["tokens"] == 32 * n
    per_window = []
    with torch.no_grad():
        for w in range(n):
            x = torch.tensor([ids[w * 32 : w * 32 + 33]])
            logits = model(input_ids=x[:, :-1]).logits[0]
            per_window.append(
                float(torch.nn.functional.cross_entropy(logits, x[0, 1:], reduction="mean"))
            )
    losses = np.array(per_window)
    assert result["loss"] == pytest.approx(losses.mean(), rel=1e-5)
    assert result["loss_stderr"] == pytest.approx(losses.std(ddof=1) / math.sqrt(n), rel=1e-4)
    assert result["perplexity"] == pytest.approx(math.exp(losses.mean()), rel=1e-5)
    bits = np.array(result["window_nats"]) / math.log(2)
    assert result["bits_per_byte"] == pytest.approx(bits.sum() / sum(result["window_bytes"]))
    assert set(summary(result)) == set(result) - {"window_nats", "window_bytes"}


def test_paired_difference_matches_numpy_and_beats_the_unpaired_error(tiny):
    a_model, b_model, tokenizer = tiny
    kwargs = {"max_chars": 8_000, "seq_len": 32}
    a = evaluate_lm(a_model, tokenizer, "mix:validation", **kwargs)
    b = evaluate_lm(b_model, tokenizer, "mix:validation", **kwargs)
    diff = paired_difference(a, b)
    d = (np.array(b["window_nats"]) - np.array(a["window_nats"])) / 32
    assert diff["loss_diff"] == pytest.approx(b["loss"] - a["loss"], abs=1e-9)
    assert diff["loss_diff_stderr"] == pytest.approx(d.std(ddof=1) / math.sqrt(len(d)), rel=1e-4)
    assert diff["perplexity_ratio"] == pytest.approx(b["perplexity"] / a["perplexity"], rel=1e-6)
    assert diff["windows"] == a["windows"]
    # a model against itself: no difference, no error
    same = paired_difference(a, a)
    assert same["loss_diff"] == 0 and same["loss_diff_stderr"] == 0


def test_paired_difference_refuses_different_windows(tiny):
    model, _, tokenizer = tiny
    a = evaluate_lm(model, tokenizer, "mix:validation", max_chars=10_000, seq_len=32)
    b = evaluate_lm(model, tokenizer, "mix:validation", max_chars=10_000, seq_len=16)
    with pytest.raises(UserError, match="same text"):
        paired_difference(a, b)
