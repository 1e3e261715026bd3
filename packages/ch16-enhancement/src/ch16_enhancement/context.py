"""Context extension lab: train a small RoPE Llama at length L, stretch it to s*L, measure.

1. :func:`train_base` trains a byte-level Llama at length ``L`` on the bundled stories with a
   passkey hidden in every sequence (the loss counts every byte, answer digits weighted up).
2. :func:`extend` switches its RoPE to one of the scalings of :mod:`.rope` for factor ``s``
   (``none`` keeps the trained frequencies: plain extrapolation).
3. :func:`finetune` continues training at the long length for a few steps (the "short
   fine-tune" of PI and YaRN papers), and :func:`recover` mixes short sequences back in.
4. :func:`evaluate_extension` gives passkey accuracy by length and depth and the loss by position
   on held-out stories, so degradation past ``L`` and short-context quality are both visible.
"""

from __future__ import annotations

import copy
import math
import random
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from ch16_enhancement.passkey import make_batch, passkey_accuracy
from ch16_enhancement.rope import RopeScaling, set_rope_scaling

METHODS = ("none", "linear", "ntk", "dynamic", "yarn")


@dataclass
class ContextConfig:
    """Sizes of the experiment. The defaults run in about a minute on 2 CPU cores."""

    train_len: int = 128
    hidden: int = 128
    layers: int = 2
    heads: int = 4
    base: float = 10000.0
    steps: int = 400
    batch_size: int = 16
    lr: float = 3e-3
    answer_weight: float = 4.0
    finetune_steps: int = 30
    finetune_batch: int = 4
    finetune_lr: float = 1e-3
    eval_samples: int = 16
    depths: tuple[float, ...] = (0.1, 0.5, 0.9)
    factors: tuple[int, ...] = (2, 4)
    methods: tuple[str, ...] = METHODS
    filler_chars: int = 300_000
    # "stories", "classic" (the passkey paper's repeated sentences) or "mixed"
    filler: str = "mixed"
    # YaRN's ramp, in rotations over L (the paper's defaults: 32 and 1)
    yarn_beta_fast: float = 32.0
    yarn_beta_slow: float = 1.0
    seed: int = 0


CLASSIC_FILLER = (
    "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. "
)


def filler_text(split: str, max_chars: int, kind: str = "stories") -> str:
    """The filler the passkey hides in: bundled stories of ``split``, the passkey paper's
    repeated sentences (``classic``), or both interleaved paragraph by paragraph (``mixed``)."""
    from llmpath_core import load_text

    if kind == "classic":
        return CLASSIC_FILLER * (max_chars // len(CLASSIC_FILLER) + 1)
    stories = load_text(f"stories:{split}", max_chars=max_chars)
    if kind == "stories":
        return stories
    if kind != "mixed":
        raise ValueError(f"unknown filler {kind!r}")
    paragraphs = stories.split("\n\n")
    return "\n\n".join(p if i % 2 else CLASSIC_FILLER * 3 for i, p in enumerate(paragraphs))


def build_model(cfg: ContextConfig):
    """A fresh byte-level ``LlamaForCausalLM`` trained-length ``cfg.train_len``."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(cfg.seed)
    config = LlamaConfig(
        vocab_size=256,
        hidden_size=cfg.hidden,
        intermediate_size=cfg.hidden * 2,
        num_hidden_layers=cfg.layers,
        num_attention_heads=cfg.heads,
        num_key_value_heads=cfg.heads,
        max_position_embeddings=cfg.train_len,
        rope_parameters={"rope_type": "default", "rope_theta": cfg.base},
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=None,
        pad_token_id=None,
        use_cache=False,
    )
    return LlamaForCausalLM(config)


def passkey_loss(
    model, ids: torch.Tensor, answer_mask: torch.Tensor, answer_weight: float
) -> torch.Tensor:
    """Next-byte cross-entropy over all positions + ``answer_weight`` x the answer digits' mean."""
    logits = model(input_ids=ids).logits[:, :-1]
    nll = F.cross_entropy(
        logits.reshape(-1, logits.size(-1)), ids[:, 1:].reshape(-1), reduction="none"
    )
    nll = nll.view(ids.size(0), -1)
    mask = answer_mask[:, 1:]
    return nll.mean() + answer_weight * nll[mask].mean()


def _train(
    model,
    filler: str,
    length: int,
    steps: int,
    batch: int,
    lr: float,
    weight: float,
    seed: int,
    short_len: int | None = None,
) -> list[float]:
    rng = random.Random(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0, betas=(0.9, 0.95))
    warmup = max(1, steps // 10)
    losses = []
    model.train()
    for step in range(steps):
        scale = min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * step / steps))
        for group in opt.param_groups:
            group["lr"] = lr * max(scale, 0.05)
        n = length if short_len is None or step % 2 == 0 else short_len
        ids, mask = make_batch(filler, n, batch, rng)
        loss = passkey_loss(model, ids, mask, weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(float(loss.detach()))
    model.eval()
    return losses


def train_base(cfg: ContextConfig, filler: str):
    """Train the base model at ``cfg.train_len``: returns ``(model, losses)``."""
    model = build_model(cfg)
    losses = _train(
        model, filler, cfg.train_len, cfg.steps, cfg.batch_size, cfg.lr, cfg.answer_weight, cfg.seed
    )
    return model, losses


def rope_spec(method: str, factor: float, cfg: ContextConfig) -> RopeScaling:
    """The :class:`RopeScaling` a method name stands for (``none`` = trained frequencies)."""
    head_dim = cfg.hidden // cfg.heads
    kind = {"none": "default", "ntk": "ntk"}.get(method, method)
    if method == "yarn":
        return RopeScaling(
            "yarn",
            float(factor),
            head_dim,
            cfg.base,
            cfg.train_len,
            beta_fast=cfg.yarn_beta_fast,
            beta_slow=cfg.yarn_beta_slow,
        )
    return RopeScaling(
        kind, 1.0 if method == "none" else float(factor), head_dim, cfg.base, cfg.train_len
    )


def extend(model, method: str, factor: float, cfg: ContextConfig):
    """A copy of ``model`` with its RoPE scaled by ``method`` for ``factor`` x the trained L."""
    extended = copy.deepcopy(model)
    set_rope_scaling(extended, rope_spec(method, factor, cfg))
    return extended


def finetune(
    model, filler: str, length: int, cfg: ContextConfig, steps: int | None = None
) -> list[float]:
    """A short fine-tune at ``length`` (in place): ``cfg.finetune_steps`` steps."""
    return _train(
        model,
        filler,
        length,
        steps or cfg.finetune_steps,
        cfg.finetune_batch,
        cfg.finetune_lr,
        cfg.answer_weight,
        cfg.seed + 1,
    )


def recover(
    model, filler: str, length: int, cfg: ContextConfig, steps: int | None = None
) -> list[float]:
    """The recovery fine-tune: long and short (trained-length) batches alternate."""
    return _train(
        model,
        filler,
        length,
        steps or cfg.finetune_steps,
        cfg.finetune_batch,
        cfg.finetune_lr,
        cfg.answer_weight,
        cfg.seed + 2,
        short_len=cfg.train_len,
    )


@torch.no_grad()
def loss_by_position(model, text: str, length: int, buckets: int, windows: int = 8) -> list[float]:
    """Mean next-byte loss (nats) in ``buckets`` equal slices of ``length``-byte windows."""
    data = torch.tensor(list(text.encode("utf-8")), dtype=torch.long)
    windows = min(windows, (len(data) - 1) // length)
    ids = torch.stack([data[i * length : (i + 1) * length] for i in range(windows)])
    model.eval()
    logits = model(input_ids=ids).logits[:, :-1]
    nll = F.cross_entropy(
        logits.reshape(-1, logits.size(-1)), ids[:, 1:].reshape(-1), reduction="none"
    )
    per_pos = nll.view(windows, -1).mean(0)
    size = per_pos.numel() // buckets
    return [float(per_pos[b * size : (b + 1) * size].mean()) for b in range(buckets)]


def evaluate_extension(
    model, filler: str, held_out: str, lengths: list[int], cfg: ContextConfig
) -> dict:
    """Passkey accuracy for each length and depth, and held-out loss by position at the longest."""
    acc = {}
    for n in lengths:
        acc[n] = {
            d: passkey_accuracy(model, filler, n, d, cfg.eval_samples, cfg.seed) for d in cfg.depths
        }
    longest = max(lengths)
    return {
        "passkey": {str(n): {str(d): a for d, a in by.items()} for n, by in acc.items()},
        "passkey_mean": {str(n): sum(by.values()) / len(by) for n, by in acc.items()},
        "loss_by_position": loss_by_position(model, held_out, longest, longest // cfg.train_len),
        "short_loss": loss_by_position(model, held_out, cfg.train_len, 1)[0],
    }


def run_experiment(cfg: ContextConfig, progress=None) -> dict:
    """The whole lab: base model, every method x factor, with and without the short fine-tune.

    Returns rows (one per method, factor and fine-tune) and the settings; ``progress`` (a
    callable taking a message) hears about each step.
    """
    say = progress or (lambda message: None)
    filler = filler_text("train", cfg.filler_chars, cfg.filler)
    held_out = filler_text("validation", 100_000)
    say(f"training the base model at length {cfg.train_len} for {cfg.steps} steps")
    base, losses = train_base(cfg, filler)
    rows = []
    for factor in cfg.factors:
        target = cfg.train_len * factor
        lengths = sorted({cfg.train_len * 2**k for k in range(8) if 2**k < factor} | {target})
        for method in cfg.methods:
            for tuned in (False, True):
                say(f"{method} x{factor}{' + fine-tune' if tuned else ''}")
                model = extend(base, method, factor, cfg)
                if tuned:
                    finetune(model, filler, target, cfg)
                result = evaluate_extension(model, filler, held_out, lengths, cfg)
                rows.append(
                    {
                        "method": method,
                        "factor": factor,
                        "finetuned": tuned,
                        "passkey_at_L": result["passkey_mean"][str(cfg.train_len)],
                        "passkey_at_target": result["passkey_mean"][str(target)],
                        "loss_short": result["short_loss"],
                        "loss_by_position": result["loss_by_position"],
                        "passkey": result["passkey"],
                    }
                )
    return {
        "config": asdict(cfg),
        "base_final_loss": losses[-1],
        "base_passkey_at_L": rows[0]["passkey_at_L"] if rows else None,
        "rows": rows,
    }


__all__ = [
    "METHODS",
    "ContextConfig",
    "build_model",
    "evaluate_extension",
    "extend",
    "filler_text",
    "finetune",
    "loss_by_position",
    "passkey_loss",
    "recover",
    "rope_spec",
    "run_experiment",
    "train_base",
]
