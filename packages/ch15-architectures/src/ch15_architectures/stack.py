"""A configurable block stack: attention, MoE, SSM (Mamba) or convolution, chosen per layer.

Hybrids such as Jamba (attention + Mamba + MoE), Zamba or StripedHyena (attention + gated
convolution) interleave block kinds; :class:`StackLM` builds any such sequence from a list like
``["ssm", "ssm", "attn", "moe"]``:

* ``attn`` — pre-norm causal self-attention (RoPE, optional sliding window) + SwiGLU MLP;
* ``moe`` — the same attention + a sparse mixture-of-experts feed-forward layer;
* ``ssm`` — a Mamba block (selective scan, no MLP, as in Mamba);
* ``conv`` — a gated causal depthwise convolution (H3/Hyena's short filter) + SwiGLU MLP.

:func:`active_parameters` counts what one token touches (only ``top_k`` of the experts), and
:func:`flops_per_token` turns that into the usual ``2 * active + attention`` estimate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ch15_architectures.layers import CausalSelfAttention, RMSNorm, SwiGLU
from ch15_architectures.mamba import LMOutput, MambaBlock, MambaConfig
from ch15_architectures.moe import SparseMoE, check_top_k, load_balancing_loss, router_z_loss

BLOCKS = ("attn", "moe", "ssm", "conv")


@dataclass
class StackConfig:
    """A block stack. ``expert_hidden`` defaults to ``mlp_hidden // top_k``: the experts a token
    uses then hold as many weights as the dense MLP (matched active parameters)."""

    vocab_size: int = 4096
    hidden_size: int = 64
    layers: list[str] = field(default_factory=lambda: ["attn", "attn"])
    heads: int = 4
    mlp_hidden: int = 128
    experts: int = 4
    top_k: int = 2
    expert_hidden: int | None = None
    capacity_factor: float | None = None
    state_size: int = 16
    conv_kernel: int = 4
    window: int | None = None
    scan: str = "associative"  # the fastest of the three in training here (see the README)
    max_position_embeddings: int = 256

    def __post_init__(self) -> None:
        from llmpath_core import UserError

        bad = [kind for kind in self.layers if kind not in BLOCKS]
        if bad or not self.layers:
            raise UserError(f"unknown block kinds {bad or '(none)'}: use {', '.join(BLOCKS)}")
        if "moe" in self.layers:
            check_top_k(self.top_k, self.experts)

    @property
    def expert_size(self) -> int:
        return self.expert_hidden or max(1, self.mlp_hidden // self.top_k)


class ConvMixer(nn.Module):
    """``out(silu(gate) * causal_depthwise_conv(x))``: a gated short convolution."""

    def __init__(self, dim: int, kernel: int) -> None:
        super().__init__()
        self.in_proj = nn.Linear(dim, 2 * dim, bias=False)
        self.conv = nn.Conv1d(dim, dim, kernel, groups=dim, padding=kernel - 1)
        self.out_proj = nn.Linear(dim, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u, gate = self.in_proj(x).chunk(2, dim=-1)
        u = self.conv(u.transpose(1, 2))[..., : x.shape[1]].transpose(1, 2)
        return self.out_proj(F.silu(gate) * u)


class Block(nn.Module):
    """One layer of the stack (see the module docstring for the kinds)."""

    def __init__(self, kind: str, config: StackConfig) -> None:
        super().__init__()
        d = config.hidden_size
        self.kind = kind
        if kind == "ssm":
            self.ssm = MambaBlock(
                MambaConfig(hidden_size=d, state_size=config.state_size, scan=config.scan)
            )
            return
        self.norm1 = RMSNorm(d)
        self.norm2 = RMSNorm(d)
        if kind == "conv":
            self.mixer = ConvMixer(d, config.conv_kernel)
        else:
            self.mixer = CausalSelfAttention(d, config.heads, window=config.window)
        if kind == "moe":
            self.ffn = SparseMoE(
                d,
                config.expert_size,
                config.experts,
                config.top_k,
                capacity_factor=config.capacity_factor,
            )
        else:
            self.ffn = SwiGLU(d, config.mlp_hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "ssm":
            return self.ssm(x)
        x = x + self.mixer(self.norm1(x))
        return x + self.ffn(self.norm2(x))


class StackLM(nn.Module):
    """A language model over a :class:`StackConfig`; ``aux_loss`` is the MoE balance loss."""

    def __init__(self, config: StackConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.hidden_size)
        nn.init.normal_(self.embed.weight, std=0.02)
        self.blocks = nn.ModuleList(Block(kind, config) for kind in config.layers)
        self.norm = RMSNorm(config.hidden_size)
        self.head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.head.weight = self.embed.weight  # tied, so embeddings do not dominate the count

    def moe_layers(self) -> list[SparseMoE]:
        return [b.ffn for b in self.blocks if b.kind == "moe"]

    def forward(self, input_ids: torch.Tensor) -> LMOutput:
        x = self.embed(input_ids)
        for block in self.blocks:
            x = block(x)
        moes = self.moe_layers()
        aux: torch.Tensor | float = 0.0
        if moes:
            logits = [m.last.logits for m in moes]
            aux = load_balancing_loss(logits, self.config.experts, self.config.top_k)
            self.z_loss = sum(router_z_loss(lg) for lg in logits) / len(logits)
        return LMOutput(self.head(self.norm(x)), aux)


def total_parameters(model: nn.Module) -> int:
    """All distinct parameters (tied weights once)."""
    return sum(p.numel() for p in model.parameters())


def active_parameters(model: StackLM, *, embeddings: bool = False) -> int:
    """Parameters one token uses: MoE layers count ``top_k`` experts, not all of them."""
    cfg = model.config
    count = 0
    for name, p in model.named_parameters():
        if name.startswith("embed"):
            if embeddings:
                count += p.numel()
            continue
        if ".experts." in name:
            count += p.numel() * cfg.top_k // cfg.experts
        else:
            count += p.numel()
    return count


def flops_per_token(model: StackLM, seq_len: int) -> float:
    """Forward FLOPs per token: ``2 * active weights (with the head)`` plus attention scores."""
    cfg = model.config
    weights = active_parameters(model) + cfg.vocab_size * cfg.hidden_size  # head matmul
    attn = sum(1 for k in cfg.layers if k in ("attn", "moe"))
    span = min(seq_len, cfg.window or seq_len)
    return 2.0 * weights + attn * 2 * 2 * span * cfg.hidden_size / 2
