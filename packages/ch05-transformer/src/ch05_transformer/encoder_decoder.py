"""The original encoder-decoder transformer (Vaswani et al., 2017), on a toy task.

The encoder reads the source with bidirectional self-attention; each decoder block runs causal
self-attention over the target so far, then *cross-attention* whose queries come from the decoder
and whose keys/values come from the encoder's output, then an MLP. Positions are the original
sinusoids. Trained on reversing (or sorting) a sequence of digits, it learns to copy tokens across
by position, which only cross-attention can do.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ch05_transformer.attention import MultiHeadAttention, attention
from ch05_transformer.mlp import MLP
from ch05_transformer.norms import LayerNorm
from ch05_transformer.positional import sinusoidal_table


@dataclass
class Seq2SeqConfig:
    """A small encoder-decoder; tokens 0..9 are digits and ``bos_id`` starts the target."""

    vocab_size: int = 11
    bos_id: int = 10
    hidden_size: int = 64
    num_heads: int = 4
    num_layers: int = 2
    max_len: int = 32


class CrossAttention(nn.Module):
    """Queries from the decoder, keys and values from the encoder output."""

    def __init__(self, hidden: int, n_heads: int) -> None:
        super().__init__()
        self.n_heads, self.head_dim = n_heads, hidden // n_heads
        self.q_proj = nn.Linear(hidden, hidden)
        self.k_proj = nn.Linear(hidden, hidden)
        self.v_proj = nn.Linear(hidden, hidden)
        self.o_proj = nn.Linear(hidden, hidden)

    def forward(self, x: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        s = memory.shape[1]
        q = self.q_proj(x).view(b, t, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(memory).view(b, s, self.n_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(memory).view(b, s, self.n_heads, self.head_dim).transpose(1, 2)
        out = attention(q, k, v, causal=False)
        return self.o_proj(out.transpose(1, 2).reshape(b, t, -1))


class EncoderBlock(nn.Module):
    def __init__(self, cfg: Seq2SeqConfig) -> None:
        super().__init__()
        self.norm1 = LayerNorm(cfg.hidden_size)
        self.attn = MultiHeadAttention(cfg.hidden_size, cfg.num_heads, bias=True)
        self.norm2 = LayerNorm(cfg.hidden_size)
        self.mlp = MLP(cfg.hidden_size, 4 * cfg.hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), causal=False)
        return x + self.mlp(self.norm2(x))


class DecoderBlock(nn.Module):
    def __init__(self, cfg: Seq2SeqConfig) -> None:
        super().__init__()
        self.norm1 = LayerNorm(cfg.hidden_size)
        self.self_attn = MultiHeadAttention(cfg.hidden_size, cfg.num_heads, bias=True)
        self.norm2 = LayerNorm(cfg.hidden_size)
        self.cross_attn = CrossAttention(cfg.hidden_size, cfg.num_heads)
        self.norm3 = LayerNorm(cfg.hidden_size)
        self.mlp = MLP(cfg.hidden_size, 4 * cfg.hidden_size)

    def forward(self, x: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.norm1(x), causal=True)
        x = x + self.cross_attn(self.norm2(x), memory)
        return x + self.mlp(self.norm3(x))


class EncoderDecoder(nn.Module):
    """``(source, target_in)`` -> logits over the next target token ``(b, t, vocab)``."""

    def __init__(self, cfg: Seq2SeqConfig) -> None:
        super().__init__()
        self.config = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.register_buffer(
            "positions", sinusoidal_table(cfg.max_len, cfg.hidden_size), persistent=False
        )
        self.encoder = nn.ModuleList(EncoderBlock(cfg) for _ in range(cfg.num_layers))
        self.enc_norm = LayerNorm(cfg.hidden_size)
        self.decoder = nn.ModuleList(DecoderBlock(cfg) for _ in range(cfg.num_layers))
        self.dec_norm = LayerNorm(cfg.hidden_size)
        self.head = nn.Linear(cfg.hidden_size, cfg.vocab_size)

    def _embed(self, ids: torch.Tensor) -> torch.Tensor:
        return self.embed(ids) * self.config.hidden_size**0.5 + self.positions[: ids.shape[1]]

    def encode(self, source: torch.Tensor) -> torch.Tensor:
        x = self._embed(source)
        for block in self.encoder:
            x = block(x)
        return self.enc_norm(x)

    def decode(self, target_in: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        x = self._embed(target_in)
        for block in self.decoder:
            x = block(x, memory)
        return self.head(self.dec_norm(x))

    def forward(self, source: torch.Tensor, target_in: torch.Tensor) -> torch.Tensor:
        return self.decode(target_in, self.encode(source))

    @torch.no_grad()
    def greedy(self, source: torch.Tensor, length: int) -> torch.Tensor:
        """Greedy decoding of ``length`` tokens (the encoder runs once)."""
        memory = self.encode(source)
        out = torch.full((source.shape[0], 1), self.config.bos_id, device=source.device)
        for _ in range(length):
            next_id = self.decode(out, memory)[:, -1].argmax(-1, keepdim=True)
            out = torch.cat([out, next_id], dim=1)
        return out[:, 1:]


def make_task(task: str, n: int, length: int, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
    """Random digit sequences and their targets: ``reverse`` or ``sort``."""
    source = torch.randint(0, 10, (n, length), generator=gen)
    if task == "reverse":
        target = source.flip(1)
    elif task == "sort":
        target = source.sort(dim=1).values
    else:
        raise ValueError(f"unknown task {task!r}: reverse or sort")
    return source, target


def train_seq2seq(
    task: str = "reverse",
    *,
    length: int = 8,
    steps: int = 400,
    batch_size: int = 64,
    lr: float = 2e-3,
    cfg: Seq2SeqConfig | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Train on ``task`` and report exact-match and per-token accuracy on 500 fresh sequences."""
    cfg = cfg or Seq2SeqConfig()
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = EncoderDecoder(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    start = time.perf_counter()
    losses = []
    for _ in range(steps):
        source, target = make_task(task, batch_size, length, gen)
        target_in = torch.cat([torch.full((batch_size, 1), cfg.bos_id), target[:, :-1]], dim=1)
        logits = model(source, target_in)
        loss = F.cross_entropy(logits.reshape(-1, cfg.vocab_size), target.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    seconds = time.perf_counter() - start
    model.eval()
    source, target = make_task(task, 500, length, torch.Generator().manual_seed(seed + 10_000))
    predicted = model.greedy(source, length)
    return {
        "task": task,
        "length": length,
        "steps": steps,
        "first_loss": losses[0],
        "final_loss": sum(losses[-10:]) / 10,
        "token_accuracy": float((predicted == target).float().mean()),
        "sequence_accuracy": float((predicted == target).all(dim=1).float().mean()),
        "seconds": seconds,
        "model": model,
    }


__all__ = ["CrossAttention", "EncoderDecoder", "Seq2SeqConfig", "make_task", "train_seq2seq"]
