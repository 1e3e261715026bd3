"""A pre-allocated key/value cache for incremental decoding.

Generating token ``n+1`` only needs the new token's query against the keys and values of all
``n`` earlier tokens, which do not change. The cache keeps them, so a decode step costs O(n)
instead of recomputing the whole prefix at O(n²). *Prefill* runs the prompt once and fills the
cache; *decode* then feeds one token at a time.
"""

from __future__ import annotations

import torch


class KVCache:
    """Keys and values of every layer: ``(batch, n_kv_heads, max_len, head_dim)`` buffers."""

    def __init__(
        self,
        n_layers: int,
        batch: int,
        n_kv_heads: int,
        head_dim: int,
        max_len: int,
        *,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
    ) -> None:
        shape = (batch, n_kv_heads, max_len, head_dim)
        self.keys = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(n_layers)]
        self.values = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(n_layers)]
        self.lengths = [0] * n_layers
        self.max_len = max_len

    @property
    def length(self) -> int:
        """Tokens already cached (layer 0's count; all layers agree after a step)."""
        return self.lengths[0]

    def update(
        self, layer: int, k: torch.Tensor, v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Append ``k``/``v`` ``(b, h_kv, t, d)`` for ``layer``; return all keys/values so far."""
        start, t = self.lengths[layer], k.shape[-2]
        if start + t > self.max_len:
            raise ValueError(f"KV cache full: {start} + {t} tokens > max_len {self.max_len}")
        self.keys[layer][:, :, start : start + t] = k
        self.values[layer][:, :, start : start + t] = v
        self.lengths[layer] = start + t
        return self.keys[layer][:, :, : start + t], self.values[layer][:, :, : start + t]


__all__ = ["KVCache"]
