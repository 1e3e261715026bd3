"""Linear attention: parallel, cumulative-sum and recurrent forms agree with the formula."""

from __future__ import annotations

import torch

from ch15_architectures.linear_attention import (
    LINEAR_FORMS,
    feature_map,
    linear_attention,
    linear_attention_recurrent,
)


def _qkv(t=33, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(2, 3, t, 8, generator=gen) for _ in range(3))


def test_forms_agree_and_equal_the_written_out_formula():
    q, k, v = _qkv()
    fq, fk = feature_map(q), feature_map(k)
    ref = torch.empty_like(v)
    for t in range(q.shape[-2]):  # y_t = sum_s<=t (fq_t . fk_s) v_s / sum_s<=t fq_t . fk_s
        w = (fq[..., t : t + 1, :] * fk[..., : t + 1, :]).sum(-1)
        ref[..., t, :] = (w[..., None] * v[..., : t + 1, :]).sum(-2) / w.sum(-1, keepdim=True)
    for mode in LINEAR_FORMS:
        assert (linear_attention(q, k, v, mode) - ref).abs().max() < 1e-5, mode


def test_recurrent_state_is_constant_and_continues_a_sequence():
    q, k, v = _qkv(t=40, seed=1)
    whole = linear_attention(q, k, v, "parallel")
    first, state = linear_attention_recurrent(
        q[..., :25, :], k[..., :25, :], v[..., :25, :], return_state=True
    )
    second, state2 = linear_attention_recurrent(
        q[..., 25:, :], k[..., 25:, :], v[..., 25:, :], state=state, return_state=True
    )
    assert (torch.cat([first, second], -2) - whole).abs().max() < 1e-5
    assert [s.shape for s in state] == [s.shape for s in state2]  # does not grow with length
    assert state[0].shape[-2:] == (8, 8)


def test_not_softmax_attention():
    """A wrong implementation that fell back to softmax attention would be caught."""
    q, k, v = _qkv(seed=2)
    soft = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert (linear_attention(q, k, v) - soft).abs().max() > 1e-2
