"""Positional encodings side by side, and how they extrapolate past the training length.

Attention is blind to order, so position must enter somewhere:

* **sinusoidal** (Vaswani et al., 2017): ``PE[p, 2i] = sin(p / 10000^(2i/d))``,
  ``PE[p, 2i+1] = cos(...)`` added to the token embeddings; fixed, defined for any position.
* **learned** (GPT-2, BERT): a trained vector per position, added to the embeddings; positions
  never seen in training keep their random initial vectors.
* **RoPE** (Su et al., 2021): queries and keys rotated by position (see :mod:`rope`).
* **ALiBi** (Press et al., 2022): no embedding at all; head ``h`` adds ``-m_h · (i - j)`` to the
  score of query ``i`` for key ``j``, with slopes ``m_h = 2^(-8h/H)``. The paper's claim: train
  short, test long, and the loss stays flat.

:func:`positional_study` trains the same small decoder with each and evaluates it on windows 1×,
2× and 4× the training context.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ch05_transformer.masks import causal_mask
from ch05_transformer.mlp import SwiGLU
from ch05_transformer.norms import RMSNorm
from ch05_transformer.rope import apply_rotary, rope_cos_sin

ENCODINGS = ("sinusoidal", "learned", "rope", "alibi")


def sinusoidal_table(n_positions: int, dim: int) -> torch.Tensor:
    """``(n_positions, dim)`` sinusoids of the original transformer."""
    position = torch.arange(n_positions, dtype=torch.float32)[:, None]
    div = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(n_positions, dim)
    table[:, 0::2] = torch.sin(position * div)
    table[:, 1::2] = torch.cos(position * div)
    return table


def alibi_slopes(n_heads: int) -> torch.Tensor:
    """The geometric slopes ``2^(-8/H), 2^(-16/H), ...`` (for a power-of-two number of heads)."""
    return torch.tensor([2.0 ** (-8.0 * (h + 1) / n_heads) for h in range(n_heads)])


def alibi_bias(n_heads: int, t: int) -> torch.Tensor:
    """``(heads, t, t)`` additive bias ``-m_h (i - j)`` (future keys are masked separately)."""
    distance = (torch.arange(t)[:, None] - torch.arange(t)[None, :]).clamp(min=0).float()
    return -alibi_slopes(n_heads)[:, None, None] * distance


@dataclass
class PositionalConfig:
    encoding: str = "rope"
    vocab_size: int = 512
    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 4
    max_positions: int = 512  # table size for sinusoidal/learned/RoPE: covers the 4x evaluation


class PositionalAttention(nn.Module):
    """Causal multi-head attention with RoPE, ALiBi or neither (for additive encodings)."""

    def __init__(self, cfg: PositionalConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.head_dim = cfg.hidden_size // cfg.num_heads
        self.qkv = nn.Linear(cfg.hidden_size, 3 * cfg.hidden_size, bias=False)
        self.out = nn.Linear(cfg.hidden_size, cfg.hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        q, k, v = (
            self.qkv(x).view(b, t, 3, self.cfg.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        )
        if self.cfg.encoding == "rope":
            cos, sin = rope_cos_sin(torch.arange(t, device=x.device), self.head_dim)
            q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        mask = torch.zeros(t, t, device=x.device).masked_fill(
            ~causal_mask(t, t, x.device), torch.finfo(x.dtype).min
        )
        if self.cfg.encoding == "alibi":
            mask = mask + alibi_bias(self.cfg.num_heads, t).to(x.device)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.out(y.transpose(1, 2).reshape(b, t, -1))


class PositionalDecoder(nn.Module):
    """A pre-norm decoder whose only variable part is the positional encoding."""

    def __init__(self, cfg: PositionalConfig) -> None:
        super().__init__()
        if cfg.encoding not in ENCODINGS:
            raise ValueError(f"unknown encoding {cfg.encoding!r}; choose from {ENCODINGS}")
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        if cfg.encoding == "learned":
            self.positions = nn.Embedding(cfg.max_positions, cfg.hidden_size)
        if cfg.encoding == "sinusoidal":
            self.register_buffer(
                "table", sinusoidal_table(cfg.max_positions, cfg.hidden_size), persistent=False
            )
        self.blocks = nn.ModuleList(
            nn.ModuleDict(
                {
                    "norm1": RMSNorm(cfg.hidden_size),
                    "attn": PositionalAttention(cfg),
                    "norm2": RMSNorm(cfg.hidden_size),
                    "mlp": SwiGLU(cfg.hidden_size, 3 * cfg.hidden_size),
                }
            )
            for _ in range(cfg.num_layers)
        )
        self.norm = RMSNorm(cfg.hidden_size)
        self.head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        t = ids.shape[1]
        x = self.embed(ids)
        if self.cfg.encoding == "learned":
            x = x + self.positions(torch.arange(t, device=ids.device))
        elif self.cfg.encoding == "sinusoidal":
            x = x + self.table[:t]
        for block in self.blocks:
            x = x + block["attn"](block["norm1"](x))
            x = x + block["mlp"](block["norm2"](x))
        return self.head(self.norm(x))


@torch.no_grad()
def _eval_loss(model: nn.Module, stream: torch.Tensor, length: int, n_tokens: int) -> float:
    n = max(1, min(n_tokens // length, (len(stream) - 1) // length))
    x = stream[: n * length].view(n, length)
    y = stream[1 : n * length + 1].view(n, length)
    logits = model(x)
    return float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)))


def positional_study(
    *,
    context: int = 32,
    steps: int = 200,
    batch_size: int = 16,
    lr: float = 3e-3,
    factors: tuple[int, ...] = (1, 2, 4),
    encodings: tuple[str, ...] = ENCODINGS,
    train_chars: int = 200_000,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Train one small decoder per encoding at ``context`` tokens; val loss at each factor."""
    from ch05_transformer.train import _batch, _stream, train_tokenizer
    from llmpath_core import tiny_stories

    texts = tiny_stories("train", train_chars)
    tokenizer = train_tokenizer(texts, 512)
    train_ids = _stream(tokenizer, texts)
    val_ids = _stream(tokenizer, tiny_stories("validation", 40_000))
    rows = []
    for encoding in encodings:
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        cfg = PositionalConfig(encoding=encoding, max_positions=context * max(factors))
        model = PositionalDecoder(cfg)
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.1)
        start = time.perf_counter()
        for _ in range(steps):
            x, y = _batch(train_ids, batch_size, context, gen)
            logits = model(x)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        model.eval()
        row: dict[str, Any] = {"encoding": encoding, "train_s": time.perf_counter() - start}
        for f in factors:
            row[f"loss@{f}x"] = _eval_loss(model, val_ids, context * f, n_tokens=8192)
        rows.append(row)
    return rows


__all__ = [
    "ENCODINGS",
    "PositionalConfig",
    "PositionalDecoder",
    "alibi_bias",
    "alibi_slopes",
    "positional_study",
    "sinusoidal_table",
]
