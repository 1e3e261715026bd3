"""Naive and tiled attention equal PyTorch's SDPA, forward and backward (float32, atol 1e-5)."""

from __future__ import annotations

import pytest
import torch

from ch05_transformer.attention import (
    MultiHeadAttention,
    naive_attention,
    sdpa_attention,
    tiled_attention,
)
from ch05_transformer.masks import causal_mask

TOL = 1e-5

CASES = {
    # name: (n_heads, n_kv_heads, t, s, causal, padded)
    "causal-mha": (4, 4, 37, 37, True, False),
    "padded-bidirectional": (4, 4, 29, 29, False, True),
    "causal-padded": (4, 4, 29, 29, True, True),
    "causal-mqa": (4, 1, 33, 33, True, False),
    "causal-gqa": (6, 2, 33, 33, True, False),
    "gqa-decode-offset": (4, 2, 5, 40, True, False),  # 5 new queries after 35 cached keys
}


def _inputs(h, h_kv, t, s, padded, seed=0):
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(2, h, t, 16, generator=gen, requires_grad=True)
    k = torch.randn(2, h_kv, s, 16, generator=gen, requires_grad=True)
    v = torch.randn(2, h_kv, s, 16, generator=gen, requires_grad=True)
    mask = None
    if padded:  # right padding: the second sequence has 11 pad tokens
        mask = torch.ones(2, s, dtype=torch.bool)
        mask[1, s - 11 :] = False
    return q, k, v, mask


def _forward_backward(fn, case, **kw):
    h, h_kv, t, s, causal, padded = case
    q, k, v, mask = _inputs(h, h_kv, t, s, padded)
    out = fn(q, k, v, causal=causal, key_padding_mask=mask, **kw)
    gen = torch.Generator().manual_seed(1)
    weights = torch.randn(out.shape, generator=gen)
    if mask is not None and t == s:  # outputs at pad positions are garbage by design: ignore them
        weights = weights * mask[:, None, :, None]
    (out * weights).sum().backward()
    return out.detach(), q.grad, k.grad, v.grad


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("impl", ["naive", "tiled"])
def test_attention_matches_sdpa_forward_and_backward(name, impl):
    case = CASES[name]
    ref = _forward_backward(sdpa_attention, case)
    if impl == "naive":
        ours = _forward_backward(naive_attention, case)
    else:  # small blocks so that the online softmax really spans many tiles
        ours = _forward_backward(tiled_attention, case, block_q=8, block_k=7)
    _, _, t, _, _, padded = CASES[name]
    for label, a, b in zip(("out", "dq", "dk", "dv"), ours, ref, strict=True):
        if label == "out" and padded:
            keep = torch.ones(2, t, dtype=torch.bool)
            keep[1, t - 11 :] = False
            a, b = a.transpose(1, 2)[keep], b.transpose(1, 2)[keep]
        assert torch.allclose(a, b, atol=TOL, rtol=0), (label, float((a - b).abs().max()))


def test_causal_mask_with_offset():
    # 2 new queries after 3 cached keys: query 0 is position 3 and sees keys 0..3
    expected = torch.tensor([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    assert torch.equal(causal_mask(2, 5), expected)


def test_gqa_equals_mha_with_repeated_kv_weights():
    torch.manual_seed(0)
    gqa = MultiHeadAttention(32, 4, 2)
    mha = MultiHeadAttention(32, 4, 4)
    with torch.no_grad():
        mha.q_proj.weight.copy_(gqa.q_proj.weight)
        mha.o_proj.weight.copy_(gqa.o_proj.weight)
        # kv head j serves query heads 2j and 2j+1: repeat each kv head's 8 rows twice
        for src, dst in ((gqa.k_proj, mha.k_proj), (gqa.v_proj, mha.v_proj)):
            dst.weight.copy_(src.weight.view(2, 1, 8, 32).expand(2, 2, 8, 32).reshape(32, 32))
    x = torch.randn(2, 9, 32)
    assert torch.allclose(gqa(x, causal=True), mha(x, causal=True), atol=1e-6)
