"""Sampling filters against transformers' logits warpers (temperature, top-k, top-p)."""

from __future__ import annotations

import pytest
import torch
from transformers.generation.logits_process import (
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from ch14_inference.sampling import SamplingParams, next_token_probs, sample


@pytest.mark.parametrize(
    ("temperature", "top_k", "top_p"),
    [(1.0, 0, 1.0), (0.7, 5, 1.0), (1.3, 0, 0.8), (0.9, 12, 0.6), (1.0, 1, 0.5)],
)
def test_distribution_equals_hf_warpers(temperature, top_k, top_p):
    logits = torch.randn(6, 50, generator=torch.Generator().manual_seed(0)) * 3
    ours = next_token_probs(
        logits, SamplingParams(temperature=temperature, top_k=top_k, top_p=top_p)
    )
    ref = TemperatureLogitsWarper(temperature)(None, logits.clone())
    if top_k:
        ref = TopKLogitsWarper(top_k)(None, ref)
    if top_p < 1:
        ref = TopPLogitsWarper(top_p)(None, ref)
    torch.testing.assert_close(ours, ref.softmax(-1), atol=1e-6, rtol=1e-5)


def test_rows_keep_their_own_settings_and_greedy_is_argmax():
    logits = torch.randn(3, 20, generator=torch.Generator().manual_seed(1))
    params = [
        SamplingParams(),
        SamplingParams(temperature=1.0, top_k=1),
        SamplingParams(temperature=2.0),
    ]
    probs = next_token_probs(logits, params)
    assert probs[0].max() == 1.0 and probs[0].argmax() == logits[0].argmax()
    assert probs[1].max() == 1.0 and probs[1].argmax() == logits[1].argmax()
    assert (probs[2] > 0).all()
    assert sample(logits, SamplingParams(), num_samples=3).tolist() == [
        [int(i)] * 3 for i in logits.argmax(-1)
    ]
