"""Sparse attention masks equal SDPA with a dense mask; the blocked window's memory is linear."""

from __future__ import annotations

import pytest
import torch

from ch15_architectures.attention import (
    blocked_window_attention,
    dilated_mask,
    global_local_mask,
    masked_attention,
    memory_vs_length,
    sliding_window_mask,
)
from ch15_architectures.labs import reference_attention
from llmpath_core import UserError


def test_masks_shape_what_they_promise():
    m = sliding_window_mask(10, 3)
    assert m[9].nonzero().flatten().tolist() == [7, 8, 9]
    d = dilated_mask(12, 3, dilation=2)
    assert d[11].nonzero().flatten().tolist() == [7, 9, 11]
    g = global_local_mask(12, 2, global_tokens=1)
    assert g[11].nonzero().flatten().tolist() == [0, 10, 11]
    assert g[0].nonzero().flatten().tolist() == [0]  # still causal
    assert not torch.triu(global_local_mask(30, 4, 2, random_keys=3), 1).any()


@pytest.mark.parametrize("name", ["sliding", "dilated", "global"])
def test_sdpa_with_dense_mask_equals_the_formula(name):
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 3, 40, 8) for _ in range(3))
    mask = {
        "sliding": sliding_window_mask(40, 7),
        "dilated": dilated_mask(40, 5, 3),
        "global": global_local_mask(40, 5, 2, random_keys=2),
    }[name]
    diff = (masked_attention(q, k, v, mask) - reference_attention(q, k, v, mask)).abs().max()
    assert diff < 1e-5


@pytest.mark.parametrize(("window", "block"), [(1, None), (7, None), (8, 3), (40, 16)])
def test_blocked_window_equals_sdpa(window, block):
    torch.manual_seed(1)
    q, k, v = (torch.randn(1, 2, 40, 8) for _ in range(3))
    ref = masked_attention(q, k, v, sliding_window_mask(40, window))
    assert (blocked_window_attention(q, k, v, window, block) - ref).abs().max() < 1e-5


def test_blocked_memory_grows_linearly_dense_quadratically():
    mem = memory_vs_length([256, 1024], window=16, dim=16)
    dense_ratio = mem["dense_bytes"][1] / mem["dense_bytes"][0]
    blocked_ratio = mem["blocked_bytes"][1] / mem["blocked_bytes"][0]
    assert dense_ratio > 10  # ~16 for 4x the length
    assert blocked_ratio < 5.5  # ~4: linear
    assert mem["blocked_bytes"][1] < mem["dense_bytes"][1] / 4


def test_window_larger_than_sequence(capsys):
    from ch15_architectures.cli import app
    from llmpath_core.cli import run_app

    with pytest.raises(UserError, match="larger than the sequence"):
        sliding_window_mask(16, 32)
    with pytest.raises(SystemExit) as exit_info:
        run_app(app, ["attention", "--seq-len", "16", "--window", "32"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "error: window 32 is larger than the sequence (16 tokens): "
        "use a window of at most the sequence length"
    )
