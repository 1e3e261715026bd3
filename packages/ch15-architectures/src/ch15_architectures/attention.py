"""Sparse attention patterns for long context: sliding-window, dilated and global+local masks.

* sliding window (Longformer's local attention, Mistral's ``sliding_window``): query ``i`` sees
  keys ``i - window < j <= i``;
* dilated (Longformer's dilated windows): every ``dilation``-th key of a window ``window *
  dilation`` wide;
* global + local (Longformer, BigBird): a sliding window plus a few global positions that see,
  and are seen by, every position (causally), plus BigBird's random keys.

Each pattern is a boolean ``(T, T)`` mask (True = may attend) that goes straight into
``torch.nn.functional.scaled_dot_product_attention``. The dense mask still costs O(T^2) memory,
so :func:`blocked_window_attention` computes the sliding-window result block by block: each
block of queries meets only the keys its window can reach, and the peak memory is bounded by
the window, not the sequence. :class:`PeakMemory` measures that peak on the CPU by tracking
the live bytes of every tensor torch allocates.
"""

from __future__ import annotations

import math
import weakref
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

from llmpath_core import UserError


def _check(seq_len: int, window: int) -> None:
    if window < 1:
        raise UserError(f"the window must be at least 1 token (got {window})")
    if window > seq_len:
        raise UserError(
            f"window {window} is larger than the sequence ({seq_len} tokens): "
            "use a window of at most the sequence length"
        )


def causal_mask(seq_len: int, device=None) -> torch.Tensor:
    """Full causal attention: ``j <= i``."""
    return torch.ones(seq_len, seq_len, dtype=torch.bool, device=device).tril()


def sliding_window_mask(seq_len: int, window: int, device=None) -> torch.Tensor:
    """Causal sliding window: query ``i`` attends keys ``i - window < j <= i``."""
    _check(seq_len, window)
    i = torch.arange(seq_len, device=device)[:, None]
    j = torch.arange(seq_len, device=device)[None, :]
    return (j <= i) & (j > i - window)


def dilated_mask(seq_len: int, window: int, dilation: int = 2, device=None) -> torch.Tensor:
    """Causal dilated window: keys ``i - k * dilation`` for ``k = 0 .. window - 1``."""
    if dilation < 1:
        raise UserError(f"dilation must be at least 1 (got {dilation})")
    _check(seq_len, window)
    i = torch.arange(seq_len, device=device)[:, None]
    j = torch.arange(seq_len, device=device)[None, :]
    gap = i - j
    return (gap >= 0) & (gap % dilation == 0) & (gap < window * dilation)


def global_local_mask(
    seq_len: int,
    window: int,
    global_tokens: int = 1,
    random_keys: int = 0,
    seed: int = 0,
    device=None,
) -> torch.Tensor:
    """Longformer/BigBird: a sliding window, ``global_tokens`` leading global positions, and
    (BigBird) ``random_keys`` random earlier keys per query — all causal."""
    mask = sliding_window_mask(seq_len, window, device)
    g = min(global_tokens, seq_len)
    if g:
        mask[:, :g] = True  # every query sees the global positions
        mask[:g, :] = True  # the global positions see everything
    if random_keys:
        gen = torch.Generator().manual_seed(seed)
        cols = torch.randint(0, seq_len, (seq_len, random_keys), generator=gen).to(mask.device)
        mask.scatter_(1, cols, True)
    return mask & causal_mask(seq_len, device)


def masked_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """SDPA with an explicit dense boolean mask (the reference every pattern is held to)."""
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


def blocked_window_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int, block: int | None = None
) -> torch.Tensor:
    """Causal sliding-window attention computed one block of queries at a time.

    Queries ``[s, e)`` need keys ``[s - window + 1, e)`` only, so each step builds a
    ``block x (block + window - 1)`` score matrix: peak memory O(window^2) per head beyond the
    output itself, instead of the O(T^2) of the dense mask. Equals
    ``masked_attention(q, k, v, sliding_window_mask(T, window))``.
    """
    t = q.shape[-2]
    _check(t, window)
    block = block or window
    scale = 1.0 / math.sqrt(q.shape[-1])
    out = torch.empty_like(q)
    for s in range(0, t, block):
        e = min(t, s + block)
        ks = max(0, s - window + 1)
        scores = (q[..., s:e, :] @ k[..., ks:e, :].transpose(-1, -2)) * scale
        i = torch.arange(s, e, device=q.device)[:, None]
        j = torch.arange(ks, e, device=q.device)[None, :]
        allowed = (j <= i) & (j > i - window)
        scores = scores.masked_fill(~allowed, float("-inf"))
        out[..., s:e, :] = scores.softmax(-1) @ v[..., ks:e, :]
    return out


class PeakMemory(TorchDispatchMode):
    """Peak bytes of live tensor storage allocated inside the ``with`` block (CPU or GPU).

    Every aten op's outputs are seen here; a storage counts from its first output until the last
    tensor on it is freed. Tensors created before the block are not counted, so the number is
    the extra memory the computation needed.
    """

    def __init__(self) -> None:
        super().__init__()
        self.current = 0
        self.peak = 0
        self._refs: dict[int, list[int]] = {}  # data_ptr -> [nbytes, live tensors]
        self._known: set[int] = set()

    def __enter__(self) -> PeakMemory:
        super().__enter__()
        return self

    def _release(self, ptr: int) -> None:
        entry = self._refs.get(ptr)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            self.current -= entry[0]
            del self._refs[ptr]

    def _track(self, value: Any) -> None:
        if not isinstance(value, torch.Tensor):
            return
        storage = value.untyped_storage()
        ptr = storage.data_ptr()
        if ptr == 0:
            return
        entry = self._refs.get(ptr)
        if entry is None:
            entry = self._refs[ptr] = [storage.nbytes(), 0]
            self.current += entry[0]
            self.peak = max(self.peak, self.current)
        entry[1] += 1
        weakref.finalize(value, self._release, ptr)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for value in out if isinstance(out, (tuple, list)) else (out,):
            self._track(value)
        return out


def peak_bytes(fn, *args: Any) -> int:
    """Peak extra tensor memory (bytes) of ``fn(*args)``, measured with :class:`PeakMemory`."""
    with torch.no_grad(), PeakMemory() as tracker:
        result = fn(*args)
        del result
    return tracker.peak


def memory_vs_length(
    lengths: list[int], window: int, dim: int = 32, heads: int = 2, seed: int = 0
) -> dict[str, list[int]]:
    """Peak memory of dense-mask SDPA and of the blocked implementation at each length."""
    gen = torch.Generator().manual_seed(seed)
    dense, blocked = [], []
    for t in lengths:
        q, k, v = (torch.randn(1, heads, t, dim // heads, generator=gen) for _ in range(3))
        dense.append(
            peak_bytes(
                lambda q, k, v, t=t: masked_attention(q, k, v, sliding_window_mask(t, window)),
                q,
                k,
                v,
            )
        )
        blocked.append(
            peak_bytes(lambda q, k, v: blocked_window_attention(q, k, v, window), q, k, v)
        )
    return {"lengths": lengths, "dense_bytes": dense, "blocked_bytes": blocked}
