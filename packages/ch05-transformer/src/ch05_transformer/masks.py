"""Attention masks: which key each query may look at.

Two rules combine. *Causal*: a token sees itself and the past only. With a KV cache the ``t`` new
queries sit at the end of ``s`` keys, so query ``i`` is at absolute position ``s - t + i`` and sees
keys ``j <= s - t + i``. *Padding*: a batch of unequal sequences is padded to one length and the
pad keys (``key_padding_mask == False``) are never looked at.

Masked scores are filled with the most negative finite float rather than ``-inf`` (as transformers
does), so a row with every key masked averages its values instead of producing NaN.
"""

from __future__ import annotations

import torch


def causal_mask(t: int, s: int, device: torch.device | str | None = None) -> torch.Tensor:
    """``(t, s)`` bool: True where query ``i`` (at position ``s - t + i``) may see key ``j``."""
    q_pos = torch.arange(s - t, s, device=device)[:, None]
    k_pos = torch.arange(s, device=device)[None, :]
    return k_pos <= q_pos


def allowed_mask(
    t: int,
    s: int,
    *,
    causal: bool,
    key_padding_mask: torch.Tensor | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor | None:
    """The combined ``(batch|1, 1, t, s)`` bool mask (True = may attend), or None if all allowed.

    ``key_padding_mask`` is ``(batch, s)`` with True for real tokens and False for padding.
    """
    mask = None
    if causal:
        mask = causal_mask(t, s, device)[None, None]
    if key_padding_mask is not None:
        pad = key_padding_mask.to(device=device, dtype=torch.bool)[:, None, None, :]
        mask = pad if mask is None else mask & pad
    return mask


def additive_mask(allowed: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Turn a bool mask into one added to the scores: 0 where allowed, else the dtype's min."""
    zero = torch.zeros((), dtype=dtype, device=allowed.device)
    return torch.where(allowed, zero, torch.finfo(dtype).min)


__all__ = ["additive_mask", "allowed_mask", "causal_mask"]
