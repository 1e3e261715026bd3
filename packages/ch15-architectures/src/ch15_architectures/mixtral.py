"""A Mixtral-architecture language model (Jiang et al., 2024) built from this chapter's parts.

Each decoder layer is pre-norm grouped-query attention with RoPE (optionally a sliding window)
followed by a :class:`~ch15_architectures.moe.SparseMoE` feed-forward layer with top-2 routing
over 8 SwiGLU experts (in the original). Parameter names are ``transformers``'
``MixtralForCausalLM``'s, so its ``state_dict`` loads unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ch15_architectures.layers import CausalSelfAttention, RMSNorm
from ch15_architectures.mamba import LMOutput
from ch15_architectures.moe import SparseMoE, load_balancing_loss


@dataclass
class MixtralConfig:
    """Field meanings follow ``transformers.MixtralConfig``."""

    vocab_size: int = 4096
    hidden_size: int = 64
    intermediate_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    head_dim: int | None = None
    num_local_experts: int = 8
    num_experts_per_tok: int = 2
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    sliding_window: int | None = None
    tie_word_embeddings: bool = False
    max_position_embeddings: int = 256


class MixtralLayer(nn.Module):
    def __init__(self, config: MixtralConfig) -> None:
        super().__init__()
        d = config.hidden_size
        self.input_layernorm = RMSNorm(d, config.rms_norm_eps)
        self.self_attn = CausalSelfAttention(
            d,
            config.num_attention_heads,
            config.num_key_value_heads,
            config.head_dim,
            config.rope_theta,
            config.sliding_window,
        )
        self.post_attention_layernorm = RMSNorm(d, config.rms_norm_eps)
        self.mlp = SparseMoE(
            d, config.intermediate_size, config.num_local_experts, config.num_experts_per_tok
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x))
        return x + self.mlp(self.post_attention_layernorm(x))


class _Model(nn.Module):
    def __init__(self, config: MixtralConfig) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(MixtralLayer(config) for _ in range(config.num_hidden_layers))
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)


class MixtralLM(nn.Module):
    """Mixtral with ``MixtralForCausalLM``'s parameter names; ``aux_loss`` is the balance loss."""

    def __init__(self, config: MixtralConfig) -> None:
        super().__init__()
        self.config = config
        self.model = _Model(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        if config.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight

    def forward(self, input_ids: torch.Tensor) -> LMOutput:
        x = self.model.embed_tokens(input_ids)
        for layer in self.model.layers:
            x = layer(x)
        aux = load_balancing_loss(
            [layer.mlp.last.logits for layer in self.model.layers],
            self.config.num_local_experts,
            self.config.num_experts_per_tok,
        )
        return LMOutput(self.lm_head(self.model.norm(x)), aux)
