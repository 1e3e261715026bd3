"""Scaled dot-product attention three ways, and multi-head attention with MHA/MQA/GQA.

``softmax(q kᵀ / √d + mask) v`` (Vaswani et al., 2017) computed by:

* :func:`naive_attention` materialises the ``(t, s)`` score matrix: memory grows with ``t·s``.
* :func:`tiled_attention` walks over key blocks keeping a running max ``m``, running sum ``l`` and
  un-normalised output ``acc`` per query (the online softmax of Milakov & Gimelshein, 2018, used by
  FlashAttention, Dao et al., 2022). Only a ``block_q × block_k`` tile of scores exists at a time,
  so memory grows linearly with sequence length. Written in plain PyTorch, so autograd gives the
  backward pass.
* :func:`sdpa_attention` calls :func:`torch.nn.functional.scaled_dot_product_attention`.

Grouped-query attention (Ainslie et al., 2023) shares each key/value head among
``n_heads / n_kv_heads`` query heads; MQA (Shazeer, 2019) is the case ``n_kv_heads = 1``.
Query head ``h`` uses key/value head ``h // (n_heads / n_kv_heads)``, as in transformers.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

import torch
import torch.nn.functional as F
from torch import nn

from ch05_transformer.masks import additive_mask, allowed_mask

if TYPE_CHECKING:
    from ch05_transformer.kv_cache import KVCache

AttentionImpl = Literal["sdpa", "naive", "tiled"]
IMPLEMENTATIONS: tuple[str, ...] = ("sdpa", "naive", "tiled")


def repeat_kv(x: torch.Tensor, n_rep: int) -> torch.Tensor:
    """``(b, h_kv, s, d)`` -> ``(b, h_kv * n_rep, s, d)``, each kv head repeated ``n_rep`` times."""
    if n_rep == 1:
        return x
    b, h, s, d = x.shape
    return x[:, :, None].expand(b, h, n_rep, s, d).reshape(b, h * n_rep, s, d)


def naive_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    causal: bool = False,
    key_padding_mask: torch.Tensor | None = None,
    scale: float | None = None,
) -> torch.Tensor:
    """Attention with the full score matrix. q ``(b, h, t, d)``, k/v ``(b, h_kv, s, d)``."""
    probs = attention_probabilities(
        q, k, causal=causal, key_padding_mask=key_padding_mask, scale=scale
    )
    return probs @ repeat_kv(v, q.shape[1] // v.shape[1])


def attention_probabilities(
    q: torch.Tensor,
    k: torch.Tensor,
    *,
    causal: bool = False,
    key_padding_mask: torch.Tensor | None = None,
    scale: float | None = None,
) -> torch.Tensor:
    """The attention weights ``softmax(q kᵀ · scale + mask)``: ``(b, h, t, s)``, rows sum to 1."""
    t, s = q.shape[-2], k.shape[-2]
    k = repeat_kv(k, q.shape[1] // k.shape[1])
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = (q @ k.transpose(-2, -1)) * scale
    allowed = allowed_mask(t, s, causal=causal, key_padding_mask=key_padding_mask, device=q.device)
    if allowed is not None:
        scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
    return torch.softmax(scores, dim=-1)


def tiled_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    causal: bool = False,
    key_padding_mask: torch.Tensor | None = None,
    scale: float | None = None,
    block_q: int = 128,
    block_k: int = 128,
) -> torch.Tensor:
    """Online-softmax ("flash-style") attention over ``block_q × block_k`` tiles of scores."""
    b, h, t, d = q.shape
    s = k.shape[-2]
    n_rep = h // k.shape[1]
    scale = 1.0 / math.sqrt(d) if scale is None else scale
    neg = torch.finfo(q.dtype).min
    offset = s - t  # absolute position of query 0 (non-zero when decoding with a KV cache)
    k_pos_all = torch.arange(s, device=q.device)
    outputs = []
    for q0 in range(0, t, block_q):
        q_blk = q[:, :, q0 : q0 + block_q] * scale
        tq = q_blk.shape[-2]
        q_pos = torch.arange(q0 + offset, q0 + offset + tq, device=q.device)[:, None]
        m = torch.full((b, h, tq, 1), float("-inf"), dtype=q.dtype, device=q.device)
        l = torch.zeros((b, h, tq, 1), dtype=q.dtype, device=q.device)  # noqa: E741
        acc = torch.zeros((b, h, tq, v.shape[-1]), dtype=q.dtype, device=q.device)
        last_key = q0 + offset + tq if causal else s  # later key blocks are all in the future
        for k0 in range(0, min(s, last_key), block_k):
            k_blk = repeat_kv(k[:, :, k0 : k0 + block_k], n_rep)
            v_blk = repeat_kv(v[:, :, k0 : k0 + block_k], n_rep)
            scores = q_blk @ k_blk.transpose(-2, -1)
            allowed = None
            if causal:
                allowed = (k_pos_all[k0 : k0 + block_k][None, :] <= q_pos)[None, None]
            if key_padding_mask is not None:
                pad = key_padding_mask[:, k0 : k0 + block_k].bool()[:, None, None, :]
                allowed = pad if allowed is None else allowed & pad
            if allowed is not None:
                scores = scores.masked_fill(~allowed, neg)
            m_new = torch.maximum(m, scores.amax(dim=-1, keepdim=True))
            p = torch.exp(scores - m_new)
            correction = torch.exp(m - m_new)
            l = l * correction + p.sum(dim=-1, keepdim=True)  # noqa: E741
            acc = acc * correction + p @ v_blk
            m = m_new
        outputs.append(acc / l)
    return torch.cat(outputs, dim=2)


def sdpa_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    causal: bool = False,
    key_padding_mask: torch.Tensor | None = None,
    scale: float | None = None,
) -> torch.Tensor:
    """PyTorch's fused ``scaled_dot_product_attention`` (flash/efficient/math kernels)."""
    t, s = q.shape[-2], k.shape[-2]
    n_rep = q.shape[1] // k.shape[1]
    k, v = repeat_kv(k, n_rep), repeat_kv(v, n_rep)
    if key_padding_mask is None and (not causal or t == s):
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal and t > 1, scale=scale)
    if key_padding_mask is None and t == 1:  # one new token sees the whole cache
        return F.scaled_dot_product_attention(q, k, v, scale=scale)
    allowed = allowed_mask(t, s, causal=causal, key_padding_mask=key_padding_mask, device=q.device)
    mask = additive_mask(allowed, q.dtype)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale)


_KERNELS = {"naive": naive_attention, "tiled": tiled_attention, "sdpa": sdpa_attention}


def attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    impl: str = "sdpa",
    causal: bool = False,
    key_padding_mask: torch.Tensor | None = None,
    scale: float | None = None,
) -> torch.Tensor:
    """Dispatch to one of :data:`IMPLEMENTATIONS`; all three compute the same function."""
    try:
        kernel = _KERNELS[impl]
    except KeyError:
        raise ValueError(
            f"unknown attention impl {impl!r}; choose from {IMPLEMENTATIONS}"
        ) from None
    return kernel(q, k, v, causal=causal, key_padding_mask=key_padding_mask, scale=scale)


class MultiHeadAttention(nn.Module):
    """Multi-head self-attention with separate q/k/v/o projections and optional RoPE and KV cache.

    ``n_kv_heads == n_heads`` is MHA, ``1`` is MQA, a divisor in between is GQA.
    """

    def __init__(
        self,
        hidden_size: int,
        n_heads: int,
        n_kv_heads: int | None = None,
        head_dim: int | None = None,
        *,
        bias: bool = False,
        out_bias: bool | None = None,
        impl: str = "sdpa",
    ) -> None:
        super().__init__()
        n_kv_heads = n_heads if n_kv_heads is None else n_kv_heads
        if n_heads % n_kv_heads:
            raise ValueError(f"n_heads={n_heads} is not a multiple of n_kv_heads={n_kv_heads}")
        self.n_heads, self.n_kv_heads = n_heads, n_kv_heads
        self.head_dim = head_dim or hidden_size // n_heads
        self.impl = impl
        self.q_proj = nn.Linear(hidden_size, n_heads * self.head_dim, bias=bias)
        self.k_proj = nn.Linear(hidden_size, n_kv_heads * self.head_dim, bias=bias)
        self.v_proj = nn.Linear(hidden_size, n_kv_heads * self.head_dim, bias=bias)
        out_bias = bias if out_bias is None else out_bias
        self.o_proj = nn.Linear(n_heads * self.head_dim, hidden_size, bias=out_bias)
        # set by ch05_transformer.attention_maps to keep the weights of the last call
        self.keep_probabilities = False
        self.last_probabilities: torch.Tensor | None = None

    def forward(
        self,
        x: torch.Tensor,
        *,
        causal: bool,
        rope: tuple[torch.Tensor, torch.Tensor] | None = None,
        key_padding_mask: torch.Tensor | None = None,
        cache: KVCache | None = None,
        layer: int = 0,
    ) -> torch.Tensor:
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.n_kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.n_kv_heads, self.head_dim).transpose(1, 2)
        if rope is not None:
            from ch05_transformer.rope import apply_rotary

            q, k = apply_rotary(q, rope[0], rope[1]), apply_rotary(k, rope[0], rope[1])
        if cache is not None:
            k, v = cache.update(layer, k, v)
        if self.keep_probabilities:
            self.last_probabilities = attention_probabilities(
                q, k, causal=causal, key_padding_mask=key_padding_mask
            ).detach()
        out = attention(q, k, v, impl=self.impl, causal=causal, key_padding_mask=key_padding_mask)
        return self.o_proj(out.transpose(1, 2).reshape(b, t, self.n_heads * self.head_dim))


__all__ = [
    "IMPLEMENTATIONS",
    "AttentionImpl",
    "MultiHeadAttention",
    "attention",
    "attention_probabilities",
    "naive_attention",
    "repeat_kv",
    "sdpa_attention",
    "tiled_attention",
]
