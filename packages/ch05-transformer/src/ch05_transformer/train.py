"""Training a small Llama-style decoder on the bundled stories, on CPU, in under a minute.

A byte-level BPE tokenizer (``tokenizers``) is trained on the stories, the token stream is cut
into random windows, and AdamW with a cosine schedule minimises next-token cross-entropy. The
result can be saved as a transformers ``LlamaForCausalLM`` folder (weights, config, tokenizer).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from ch05_transformer.hf_loading import save_pretrained
from ch05_transformer.llama import LlamaConfig, LlamaDecoder
from llmpath_core import tiny_stories, track

EOS = "<|endoftext|>"


def train_tokenizer(texts: list[str], vocab_size: int = 512):
    """A byte-level BPE ``tokenizers.Tokenizer`` trained on ``texts``; ``<|endoftext|>`` is id 0."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    return tok


@dataclass
class TrainConfig:
    """What :func:`train_decoder` trains, and for how long."""

    model: LlamaConfig = field(default_factory=LlamaConfig)
    steps: int = 300
    batch_size: int = 16
    context: int = 64
    lr: float = 4e-3
    weight_decay: float = 0.1
    train_chars: int = 400_000
    val_chars: int = 40_000
    seed: int = 0
    device: str = "cpu"


@dataclass
class TrainResult:
    model: LlamaDecoder
    tokenizer: object
    losses: list[float]
    val_loss: float
    seconds: float
    tokens_seen: int


def _stream(tokenizer, texts: list[str]) -> torch.Tensor:
    eos = tokenizer.token_to_id(EOS)
    ids: list[int] = []
    for enc in tokenizer.encode_batch(texts):
        ids.extend(enc.ids)
        ids.append(eos)
    return torch.tensor(ids, dtype=torch.long)


def _batch(stream: torch.Tensor, batch: int, context: int, gen: torch.Generator):
    starts = torch.randint(0, len(stream) - context - 1, (batch,), generator=gen)
    idx = starts[:, None] + torch.arange(context + 1)[None, :]
    window = stream[idx]
    return window[:, :-1], window[:, 1:]


@torch.no_grad()
def evaluate(
    model: torch.nn.Module, stream: torch.Tensor, context: int, max_windows: int = 32
) -> float:
    """Mean next-token cross-entropy (nats/token) over consecutive windows of ``stream``."""
    model.eval()
    n = min(max_windows, (len(stream) - 1) // context)
    x = stream[: n * context].view(n, context)
    y = stream[1 : n * context + 1].view(n, context)
    device = next(model.parameters()).device
    logits = model(x.to(device))
    model.train()
    y = y.to(device)
    return float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)))


def train_decoder(cfg: TrainConfig | None = None, *, show_progress: bool = True) -> TrainResult:
    """Train a tokenizer and a Llama-style decoder on the bundled stories; returns both."""
    cfg = cfg or TrainConfig()
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    train_texts = tiny_stories("train", cfg.train_chars)
    tokenizer = train_tokenizer(train_texts, cfg.model.vocab_size)
    train_ids = _stream(tokenizer, train_texts)
    val_ids = _stream(tokenizer, tiny_stories("validation", cfg.val_chars))
    model = LlamaDecoder(cfg.model).to(cfg.device)
    opt = torch.optim.AdamW(
        model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.95)
    )
    warmup = max(1, cfg.steps // 20)

    def lr_at(step: int) -> float:
        if step < warmup:
            return cfg.lr * (step + 1) / warmup
        progress = (step - warmup) / max(1, cfg.steps - warmup)
        return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))

    losses: list[float] = []
    start = time.perf_counter()
    model.train()
    steps = range(cfg.steps)
    for step in track(steps, total=cfg.steps, description="training") if show_progress else steps:
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        x, y = _batch(train_ids, cfg.batch_size, cfg.context, gen)
        x, y = x.to(cfg.device), y.to(cfg.device)
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    seconds = time.perf_counter() - start
    val_loss = evaluate(model, val_ids, cfg.context)
    model.eval().cpu()  # results and saved folders live on the CPU
    return TrainResult(
        model, tokenizer, losses, val_loss, seconds, cfg.steps * cfg.batch_size * cfg.context
    )


def save_trained(result: TrainResult, path: str | Path) -> Path:
    """Save a trained decoder and its tokenizer as a transformers Llama folder."""
    return save_pretrained(result.model, path, {"tokenizer.json": result.tokenizer.to_str()})


__all__ = [
    "EOS",
    "TrainConfig",
    "TrainResult",
    "evaluate",
    "save_trained",
    "train_decoder",
    "train_tokenizer",
]
