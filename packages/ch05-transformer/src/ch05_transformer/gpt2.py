"""A GPT-2-style decoder (Radford et al., 2019): learned positions, pre-norm LayerNorm, GELU MLP.

Each block: ``x + attn(ln_1(x))`` then ``x + mlp(ln_2(x))``; a final LayerNorm and an LM head tied
to the token embedding give the logits. GPT-2 stores its projections as ``Conv1D`` with a fused
``c_attn``; :mod:`ch05_transformer.hf_loading` splits and transposes them into our linear layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from ch05_transformer.attention import MultiHeadAttention
from ch05_transformer.kv_cache import KVCache
from ch05_transformer.llama import _init_weights
from ch05_transformer.mlp import MLP
from ch05_transformer.norms import LayerNorm


@dataclass
class GPT2Config:
    """Shape of a GPT-2-style decoder (GPT-2 small: 768 wide, 12 layers, 12 heads)."""

    vocab_size: int = 512
    n_positions: int = 256
    n_embd: int = 128
    n_layer: int = 4
    n_head: int = 4
    n_inner: int | None = None
    layer_norm_epsilon: float = 1e-5
    activation: str = "tanh"  # GELU approximation: "tanh" is GPT-2's gelu_new, "none" exact
    attn_impl: str = "sdpa"
    gradient_checkpointing: bool = False


class GPT2Block(nn.Module):
    """One pre-norm GPT-2 block."""

    def __init__(self, cfg: GPT2Config) -> None:
        super().__init__()
        self.ln_1 = LayerNorm(cfg.n_embd, cfg.layer_norm_epsilon)
        self.attn = MultiHeadAttention(cfg.n_embd, cfg.n_head, bias=True, impl=cfg.attn_impl)
        self.ln_2 = LayerNorm(cfg.n_embd, cfg.layer_norm_epsilon)
        self.mlp = MLP(cfg.n_embd, cfg.n_inner or 4 * cfg.n_embd, approximate=cfg.activation)

    def forward(
        self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0
    ) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), causal=True, cache=cache, layer=layer)
        return x + self.mlp(self.ln_2(x))


class GPT2Decoder(nn.Module):
    """Token ids ``(batch, seq)`` -> next-token logits ``(batch, seq, vocab)``."""

    def __init__(self, cfg: GPT2Config) -> None:
        super().__init__()
        self.config = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.wpe = nn.Embedding(cfg.n_positions, cfg.n_embd)
        self.h = nn.ModuleList(GPT2Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = LayerNorm(cfg.n_embd, cfg.layer_norm_epsilon)
        self.apply(_init_weights)

    @property
    def max_positions(self) -> int:
        return self.config.n_positions

    def new_cache(self, batch: int, max_len: int | None = None) -> KVCache:
        p = self.wte.weight
        cfg = self.config
        return KVCache(
            cfg.n_layer,
            batch,
            cfg.n_head,
            cfg.n_embd // cfg.n_head,
            max_len or cfg.n_positions,
            dtype=p.dtype,
            device=p.device,
        )

    def forward(self, input_ids: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        start = cache.length if cache is not None else 0
        t = input_ids.shape[1]
        if start + t > self.config.n_positions:
            raise ValueError(f"{start + t} tokens exceed the context of {self.config.n_positions}")
        positions = torch.arange(start, start + t, device=input_ids.device)
        x = self.wte(input_ids) + self.wpe(positions)
        for i, block in enumerate(self.h):
            if self.config.gradient_checkpointing and self.training and cache is None:
                x = checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x, cache, i)
        return self.ln_f(x) @ self.wte.weight.T  # LM head tied to the token embedding


__all__ = ["GPT2Block", "GPT2Config", "GPT2Decoder"]
