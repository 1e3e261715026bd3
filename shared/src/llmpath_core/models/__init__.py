"""llmpath's shipped models: the default model and its draft model, loadable offline.

Both are standard Hugging Face folders inside this package (``default/`` and ``draft/``):
``LlamaForCausalLM`` weights in safetensors, a byte-level BPE ``tokenizer.json`` they share, and a
model card (``README.md`` for people, ``card.json`` for code). ch07-pretraining trained them on the
bundled stories; the card holds the exact commands and seed that rebuild them, the tokens seen,
the validation loss and bits per byte, and the sha256 of the weights.

The default model's validation loss (``model_card()["eval"]["loss"]``, measured by
:func:`evaluate_lm` on ``stories:validation``) is the number every later chapter compares against.

``evaluate_lm`` is the project's one definition of "loss on held-out text": the documents are
encoded and joined with the end-of-text token (as ch07 packs its corpus), cut into
non-overlapping windows of ``seq_len`` tokens, and the mean next-token cross-entropy over every
predicted token is returned with bits per byte (nats over the UTF-8 bytes the targets stand for).
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

from llmpath_core.errors import UserError

MODELS_DIR = Path(__file__).resolve().parent
NAMES = ("default", "draft")
EVAL_SOURCE = "stories:validation"
EVAL_MAX_CHARS = 200_000


def model_path(name: str = "default") -> Path:
    """The folder of a shipped model (``default`` or ``draft``)."""
    if name not in NAMES:
        raise UserError(f"unknown shipped model {name!r}: choose one of {', '.join(NAMES)}")
    path = MODELS_DIR / name
    if not (path / "model.safetensors").is_file():
        raise UserError(
            f"the {name} model is not in this installation ({path} has no model.safetensors): "
            "rebuild it with packages/ch07-pretraining/scripts/build_default_models.sh"
        )
    return path


def default_model_path() -> Path:
    """The default model's folder, for ``from_pretrained`` or any HF tool."""
    return model_path("default")


def draft_model_path() -> Path:
    """The draft model's folder (same tokenizer as the default model, about 8x fewer weights)."""
    return model_path("draft")


def model_card(name: str = "default") -> dict[str, Any]:
    """The machine-readable model card (``card.json``) of a shipped model."""
    return json.loads((model_path(name) / "card.json").read_text())


def weights_sha256(name: str = "default") -> str:
    """sha256 of the shipped ``model.safetensors`` (the card records the expected value)."""
    digest = hashlib.sha256()
    with open(model_path(name) / "model.safetensors", "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_model(name: str = "default", device: Any = "cpu", dtype: Any = None):
    """``(model, tokenizer)`` of a shipped model: ``LlamaForCausalLM`` in eval mode."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = model_path(name)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(
        path, local_files_only=True, dtype=dtype or torch.float32
    )
    return model.to(device).eval(), tokenizer


def load_default_model(device: Any = "cpu", dtype: Any = None):
    """llmpath's default model and its tokenizer, offline: ``(model, tokenizer)``."""
    return load_model("default", device, dtype)


def load_draft_model(device: Any = "cpu", dtype: Any = None):
    """The draft model for speculative decoding and its tokenizer (the default model's)."""
    return load_model("draft", device, dtype)


def token_byte_lengths(tokenizer) -> list[int]:
    """UTF-8 bytes each token id stands for in a byte-level BPE vocabulary (0 for special tokens).

    In GPT-2 style byte-level vocabularies every character of a token string maps to one byte.
    """
    lengths = [0] * len(tokenizer)
    special = set(tokenizer.all_special_ids)
    for piece, index in tokenizer.get_vocab().items():
        if index not in special and index < len(lengths):
            lengths[index] = len(piece)
    return lengths


def encode_documents(tokenizer, docs: list[str]) -> list[int]:
    """Token ids of ``docs``, each followed by the end-of-text token (ch07's packing)."""
    if tokenizer.eos_token_id is None:
        raise UserError("the tokenizer has no end-of-text (eos) token to separate documents")
    ids: list[int] = []
    for start in range(0, len(docs), 256):
        for row in tokenizer(docs[start : start + 256], add_special_tokens=False)["input_ids"]:
            ids.extend(row)
            ids.append(tokenizer.eos_token_id)
    return ids


def evaluate_lm(
    model,
    tokenizer,
    source: str | list[str] = EVAL_SOURCE,
    *,
    seq_len: int | None = None,
    max_chars: int | None = EVAL_MAX_CHARS,
    batch_size: int = 16,
    max_windows: int | None = None,
) -> dict[str, float]:
    """Mean next-token loss (nats), perplexity and bits per byte of a causal LM on held-out text.

    ``source`` is anything :func:`llmpath_core.load_documents` reads (default: the bundled
    stories' validation split, first ``max_chars`` characters) or a list of documents.
    ``seq_len`` defaults to the model's context, at most 256 tokens.
    """
    import torch
    import torch.nn.functional as F

    from llmpath_core.data import load_documents

    docs = load_documents(source, max_chars=max_chars) if isinstance(source, str) else source
    docs = [d for d in docs if d.strip()]
    if not docs:
        raise UserError("no text to evaluate on")
    if seq_len is None:
        seq_len = min(256, getattr(model.config, "max_position_embeddings", 256) or 256)
    ids = encode_documents(tokenizer, docs)
    n_windows = (len(ids) - 1) // seq_len
    if max_windows is not None:
        n_windows = min(n_windows, max_windows)
    if n_windows < 1:
        raise UserError(f"the evaluation text has {len(ids)} tokens, fewer than one window")
    data = torch.tensor(ids[: n_windows * seq_len + 1], dtype=torch.long)
    byte_len = torch.tensor(token_byte_lengths(tokenizer), dtype=torch.float64)
    device = next(model.parameters()).device
    total_nats, total_tokens, total_bytes = 0.0, 0, 0.0
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for first in range(0, n_windows, batch_size):
            rows = range(first, min(n_windows, first + batch_size))
            inputs = torch.stack([data[r * seq_len : (r + 1) * seq_len] for r in rows])
            targets = torch.stack([data[r * seq_len + 1 : (r + 1) * seq_len + 1] for r in rows])
            logits = model(input_ids=inputs.to(device)).logits.float()
            nll = F.cross_entropy(
                logits.reshape(-1, logits.size(-1)), targets.to(device).reshape(-1), reduction="sum"
            )
            total_nats += float(nll)
            total_tokens += targets.numel()
            total_bytes += float(byte_len[targets.clamp(max=len(byte_len) - 1)].sum())
    model.train(was_training)
    loss = total_nats / total_tokens
    return {
        "seq_len": seq_len,
        "loss": loss,
        "perplexity": math.exp(loss),
        "bits_per_byte": total_nats / (math.log(2) * max(1.0, total_bytes)),
        "tokens": total_tokens,
    }


__all__ = [
    "EVAL_MAX_CHARS",
    "EVAL_SOURCE",
    "default_model_path",
    "draft_model_path",
    "encode_documents",
    "evaluate_lm",
    "load_default_model",
    "load_draft_model",
    "load_model",
    "model_card",
    "model_path",
    "token_byte_lengths",
    "weights_sha256",
]
