"""Candidate models for the lifecycle: a short fine-tune and a deliberately broken copy.

A release pipeline needs challengers to judge. Two kinds are made from the default model:

- :func:`fine_tune` — a few AdamW steps on the bundled training text (a routine retrain);
- :func:`degrade` — Gaussian noise on every weight matrix, the shape of a botched quantization
  or a corrupted upload: the kind of challenger an evaluation gate exists to block.

:func:`evaluate_folder` gives the held-out evaluation every gate decision uses
(``llmpath_core.evaluate_lm`` on a fixed slice of ``mix:validation``, so two candidates are
always scored on the same windows and can be compared pair by pair).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

EVAL_SOURCE = "mix:validation"


def load_folder(path: str | Path):
    """``(model, tokenizer)`` from a Hugging Face causal-LM folder, on CPU, in eval mode."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llmpath_core import UserError

    path = Path(path)
    if not (path / "config.json").is_file():
        raise UserError(f"{path} is not a Hugging Face model folder (no config.json)")
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True).eval()
    return model, tokenizer


def evaluate(model, tokenizer, *, max_windows: int = 24, seq_len: int = 128) -> dict[str, Any]:
    """Held-out loss and bits per byte on the first ``max_windows`` windows of mix:validation."""
    from llmpath_core import evaluate_lm

    return evaluate_lm(
        model, tokenizer, EVAL_SOURCE, seq_len=seq_len, max_chars=60_000, max_windows=max_windows
    )


def evaluate_folder(path: str | Path, **kwargs: Any) -> dict[str, Any]:
    """:func:`evaluate` of the model saved in ``path``."""
    model, tokenizer = load_folder(path)
    return evaluate(model, tokenizer, **kwargs)


def fine_tune(model, tokenizer, *, steps: int = 12, lr: float = 1e-4, batch: int = 8, seed=0):
    """A few AdamW steps of next-token training on the bundled ``mix`` training text."""
    import torch

    from llmpath_core import load_documents
    from llmpath_core.models import encode_documents

    torch.manual_seed(seed)
    docs = load_documents("mix", split="train", max_chars=200_000)
    ids = torch.tensor(encode_documents(tokenizer, docs), dtype=torch.long)
    seq = 128
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    losses = []
    for _ in range(steps):
        starts = torch.randint(0, len(ids) - seq - 1, (batch,))
        x = torch.stack([ids[s : s + seq] for s in starts])
        out = model(input_ids=x, labels=x)
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
        losses.append(float(out.loss.detach()))
    model.eval()
    return losses


def degrade(model, *, noise: float = 0.3, seed: int = 0) -> None:
    """Add Gaussian noise of ``noise`` times each matrix's own std to every weight matrix."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            if param.dim() == 2:
                param.add_(torch.randn(param.shape, generator=generator) * param.std() * noise)


def save(model, tokenizer, path: str | Path) -> Path:
    """Save a model folder (safetensors + tokenizer) and return its path."""
    path = Path(path)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
