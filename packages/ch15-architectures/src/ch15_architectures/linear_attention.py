"""Linear attention (Katharopoulos et al., 2020): softmax replaced by a feature map.

With ``phi(x) = elu(x) + 1`` (positive), causal attention becomes

    y_t = phi(q_t)^T S_t / (phi(q_t)^T z_t),   S_t = sum_{s<=t} phi(k_s) v_s^T,
                                                z_t = sum_{s<=t} phi(k_s)

three ways that give the same numbers:

* :func:`linear_attention_parallel` — the ``T x T`` matrix ``phi(Q) phi(K)^T`` masked to the
  causal triangle and row-normalised (training form, quadratic, like softmax attention);
* :func:`linear_attention_cumsum` — ``S_t`` and ``z_t`` as cumulative sums (linear time);
* :func:`linear_attention_recurrent` — one token at a time with a ``(d_k, d_v)`` state whose
  size does not grow with the sequence (an RNN: the inference form).

RWKV's wkv (``rwkv.py``) is the same idea with a learned exponential decay over positions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

LINEAR_FORMS = ("parallel", "cumsum", "recurrent")


def feature_map(x: torch.Tensor) -> torch.Tensor:
    """``elu(x) + 1``: positive, so the normaliser never vanishes."""
    return F.elu(x) + 1


def linear_attention_parallel(q, k, v, eps: float = 1e-6):
    """``q, k`` ``(..., T, d_k)``, ``v`` ``(..., T, d_v)`` -> ``(..., T, d_v)``, quadratic."""
    t = q.shape[-2]
    scores = feature_map(q) @ feature_map(k).transpose(-1, -2)
    scores = scores * torch.ones(t, t, dtype=torch.bool, device=q.device).tril()
    return (scores @ v) / (scores.sum(-1, keepdim=True) + eps)


def linear_attention_cumsum(q, k, v, eps: float = 1e-6):
    """Same result from cumulative sums of ``phi(k) v^T`` and ``phi(k)``: linear in ``T``."""
    fq, fk = feature_map(q), feature_map(k)
    S = torch.cumsum(fk[..., :, None] * v[..., None, :], dim=-3)  # (..., T, d_k, d_v)
    z = torch.cumsum(fk, dim=-2)  # (..., T, d_k)
    num = torch.einsum("...tk,...tkv->...tv", fq, S)
    return num / ((fq * z).sum(-1, keepdim=True) + eps)


def linear_attention_recurrent(q, k, v, eps: float = 1e-6, state=None, return_state=False):
    """Token by token with the state ``(S, z)``; pass ``state`` to continue a sequence."""
    fq, fk = feature_map(q), feature_map(k)
    if state is None:
        S = q.new_zeros(*q.shape[:-2], q.shape[-1], v.shape[-1])
        z = q.new_zeros(*q.shape[:-2], q.shape[-1])
    else:
        S, z = state
    ys = []
    for i in range(q.shape[-2]):
        S = S + fk[..., i, :, None] * v[..., i, None, :]
        z = z + fk[..., i, :]
        num = torch.einsum("...k,...kv->...v", fq[..., i, :], S)
        ys.append(num / ((fq[..., i, :] * z).sum(-1, keepdim=True) + eps))
    y = torch.stack(ys, dim=-2)
    return (y, (S, z)) if return_state else y


def linear_attention(q, k, v, mode: str = "cumsum"):
    """Dispatch to one of :data:`LINEAR_FORMS`."""
    forms = {
        "parallel": linear_attention_parallel,
        "cumsum": linear_attention_cumsum,
        "recurrent": linear_attention_recurrent,
    }
    if mode not in forms:
        raise ValueError(f"unknown linear-attention form {mode!r}: choose {', '.join(forms)}")
    return forms[mode](q, k, v)
