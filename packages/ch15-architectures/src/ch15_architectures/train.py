"""Train small language models on llmpath's bundled stories and measure them the project's way.

Text: ``llmpath_core.load_text("stories")`` encoded with the default model's byte-level BPE
tokenizer (4,096 tokens) and packed with end-of-text separators; held-out loss:
``llmpath_core.evaluate_lm`` on ``stories:validation`` (paired windows, so two models compare
with :func:`llmpath_core.paired_difference`).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from llmpath_core import UserError


@functools.lru_cache(maxsize=1)
def tokenizer():
    """The default model's tokenizer (offline)."""
    from transformers import AutoTokenizer

    from llmpath_core import default_model_path

    return AutoTokenizer.from_pretrained(default_model_path(), local_files_only=True)


@functools.lru_cache(maxsize=4)
def story_tokens(split: str = "train", max_chars: int = 400_000) -> torch.Tensor:
    """Token ids of the bundled stories (``split``), documents joined by end-of-text."""
    from llmpath_core import load_documents
    from llmpath_core.models import encode_documents

    docs = load_documents("stories", split=split, max_chars=max_chars)
    return torch.tensor(encode_documents(tokenizer(), docs), dtype=torch.long)


@dataclass
class TrainResult:
    """What :func:`train_lm` measured."""

    steps: int
    tokens: int
    seconds: float
    losses: list[float] = field(default_factory=list)
    expert_load: list[list[list[float]]] = field(default_factory=list)  # step, layer, expert
    dropped: list[float] = field(default_factory=list)

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / max(self.seconds, 1e-9)

    @property
    def final_loss(self) -> float:
        tail = self.losses[-max(1, len(self.losses) // 10) :]
        return sum(tail) / len(tail)


def batches(tokens: torch.Tensor, batch: int, seq_len: int, gen: torch.Generator):
    """Endless random windows ``(inputs, targets)`` of ``seq_len`` tokens."""
    if len(tokens) <= seq_len + 1:
        raise UserError(f"only {len(tokens)} tokens of text, fewer than one window of {seq_len}")
    while True:
        start = torch.randint(0, len(tokens) - seq_len - 1, (batch,), generator=gen)
        rows = torch.stack([tokens[s : s + seq_len + 1] for s in start.tolist()])
        yield rows[:, :-1], rows[:, 1:]


def train_lm(
    model: nn.Module,
    tokens: torch.Tensor,
    *,
    steps: int = 150,
    batch: int = 16,
    seq_len: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
    aux_coef: float = 0.01,
    z_coef: float = 0.0,
    on_step=None,
) -> TrainResult:
    """AdamW with linear warm-up and cosine decay; the loss adds ``aux_coef`` times the model's
    ``aux_loss`` (MoE load balancing) and ``z_coef`` times its router z-loss."""
    gen = torch.Generator().manual_seed(seed)
    data = batches(tokens, batch, seq_len, gen)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, betas=(0.9, 0.95))
    warm = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: (
            min(1.0, (s + 1) / warm)
            * 0.5
            * (1 + torch.cos(torch.tensor(torch.pi * s / steps)).item())
        ),
    )
    result = TrainResult(steps=steps, tokens=steps * batch * seq_len, seconds=0.0)
    model.train()
    start = time.perf_counter()
    for step in range(steps):
        x, y = next(data)
        out = model(x)
        loss = F.cross_entropy(out.logits.reshape(-1, out.logits.shape[-1]), y.reshape(-1))
        total = loss + aux_coef * out.aux_loss
        if z_coef and hasattr(model, "z_loss"):
            total = total + z_coef * model.z_loss
        opt.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        result.losses.append(loss.item())
        moes = model.moe_layers() if hasattr(model, "moe_layers") else []
        if moes:
            result.expert_load.append([m.expert_load().tolist() for m in moes])
            result.dropped.append(sum(m.dropped_fraction() for m in moes) / len(moes))
        if on_step is not None:
            on_step(step)
    result.seconds = time.perf_counter() - start
    model.eval()
    return result


def held_out(model: nn.Module, seq_len: int = 64, max_chars: int = 40_000) -> dict[str, Any]:
    """:func:`llmpath_core.evaluate_lm` on the held-out stories."""
    from llmpath_core import evaluate_lm

    return evaluate_lm(
        model, tokenizer(), "stories:validation", seq_len=seq_len, max_chars=max_chars
    )
