"""A Llama-style decoder (Touvron et al., 2023): pre-norm RMSNorm, RoPE, SwiGLU, GQA, no biases.

Each block: ``x + attn(rmsnorm(x))`` then ``x + swiglu(rmsnorm(x))``; a final RMSNorm and the
LM head give the logits. Parameter names follow transformers' ``LlamaForCausalLM`` (without the
``model.`` prefix), so its checkpoints load by name (see :mod:`ch05_transformer.hf_loading`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from ch05_transformer.attention import MultiHeadAttention
from ch05_transformer.kv_cache import KVCache
from ch05_transformer.mlp import SwiGLU
from ch05_transformer.norms import RMSNorm
from ch05_transformer.rope import RopeScaling, RotaryEmbedding


@dataclass
class LlamaConfig:
    """Shape of a Llama-style decoder. The defaults make a ~1M-parameter model for CPU labs."""

    vocab_size: int = 512
    hidden_size: int = 128
    intermediate_size: int = 352
    num_layers: int = 4
    num_heads: int = 4
    num_kv_heads: int = 2
    head_dim: int | None = None
    max_position_embeddings: int = 256
    rope_theta: float = 10000.0
    rope_scaling: RopeScaling | None = None
    rms_norm_eps: float = 1e-6
    tie_word_embeddings: bool = False
    attention_bias: bool = False
    mlp_bias: bool = False
    attn_impl: str = "sdpa"
    gradient_checkpointing: bool = False

    @property
    def resolved_head_dim(self) -> int:
        return self.head_dim or self.hidden_size // self.num_heads


class LlamaBlock(nn.Module):
    """One pre-norm decoder block."""

    def __init__(self, cfg: LlamaConfig) -> None:
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.self_attn = MultiHeadAttention(
            cfg.hidden_size,
            cfg.num_heads,
            cfg.num_kv_heads,
            cfg.resolved_head_dim,
            bias=cfg.attention_bias,
            impl=cfg.attn_impl,
        )
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.mlp = SwiGLU(cfg.hidden_size, cfg.intermediate_size, bias=cfg.mlp_bias)

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        cache: KVCache | None = None,
        layer: int = 0,
    ) -> torch.Tensor:
        h = self.input_layernorm(x)
        x = x + self.self_attn(h, causal=True, rope=(cos, sin), cache=cache, layer=layer)
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaDecoder(nn.Module):
    """Token ids ``(batch, seq)`` -> next-token logits ``(batch, seq, vocab)``."""

    def __init__(self, cfg: LlamaConfig) -> None:
        super().__init__()
        self.config = cfg
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(LlamaBlock(cfg) for _ in range(cfg.num_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.rotary = RotaryEmbedding(
            cfg.resolved_head_dim, cfg.max_position_embeddings, cfg.rope_theta, cfg.rope_scaling
        )
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        if cfg.tie_word_embeddings:
            self.lm_head.weight = self.embed_tokens.weight
        self.apply(_init_weights)

    @property
    def max_positions(self) -> int:
        return self.config.max_position_embeddings

    def new_cache(self, batch: int, max_len: int | None = None) -> KVCache:
        """An empty KV cache sized for this model."""
        p = next(self.parameters())
        return KVCache(
            self.config.num_layers,
            batch,
            self.config.num_kv_heads,
            self.config.resolved_head_dim,
            max_len or self.config.max_position_embeddings,
            dtype=p.dtype,
            device=p.device,
        )

    def forward(self, input_ids: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        start = cache.length if cache is not None else 0
        cos, sin = self.rotary(start, input_ids.shape[1])
        x = self.embed_tokens(input_ids)
        for i, layer in enumerate(self.layers):
            if self.config.gradient_checkpointing and self.training and cache is None:
                x = checkpoint(layer, x, cos, sin, use_reentrant=False)
            else:
                x = layer(x, cos, sin, cache, i)
        return self.lm_head(self.norm(x))


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, std=0.02)


__all__ = ["LlamaBlock", "LlamaConfig", "LlamaDecoder"]
