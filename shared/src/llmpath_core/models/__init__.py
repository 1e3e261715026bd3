"""llmpath's shipped models: the default model and its draft model, loadable offline.

Both are standard Hugging Face folders inside this package (``default/`` and ``draft/``):
``LlamaForCausalLM`` weights in safetensors, a byte-level BPE ``tokenizer.json`` they share, and a
model card (``README.md`` for people, ``card.json`` for code). ch07-pretraining trained them on the
bundled stories; the card holds the exact commands and seed that rebuild them, the tokens seen,
the validation loss and bits per byte, and the sha256 of the weights.

The default model's held-out loss (``model_card()["eval"]["loss"]``, measured by
:func:`evaluate_lm` on ``mix:validation``) is the number every later chapter compares against.

``evaluate_lm`` is the project's one definition of "loss on held-out text": the documents are
encoded and joined with the end-of-text token (as ch07 packs its corpus), cut into
non-overlapping windows of ``seq_len`` tokens, and the mean next-token cross-entropy over every
predicted token is returned with bits per byte (nats over the UTF-8 bytes the targets stand for),
with standard errors over windows; :func:`paired_difference` compares two models on the same
windows.
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
EVAL_SOURCE = "mix:validation"
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


def _ratio_stderr(num: list[float], den: list[float]) -> float:
    """Standard error of ``sum(num) / sum(den)`` over independent units (delta method).

    Windows are the units: the ratio's linearisation ``(num_i - R * den_i) / mean(den)`` has
    the ratio's sampling variance; with equal ``den`` it is the usual standard error of a mean.
    """
    k = len(num)
    if k < 2:
        return float("nan")
    ratio = sum(num) / sum(den)
    mean_den = sum(den) / k
    resid = [(n - ratio * d) / mean_den for n, d in zip(num, den, strict=True)]
    mean = sum(resid) / k
    return math.sqrt(sum((r - mean) ** 2 for r in resid) / (k - 1) / k)


def evaluate_lm(
    model,
    tokenizer,
    source: str | list[str] = EVAL_SOURCE,
    *,
    seq_len: int | None = None,
    max_chars: int | None = EVAL_MAX_CHARS,
    batch_size: int = 16,
    max_windows: int | None = None,
) -> dict[str, Any]:
    """Mean next-token loss (nats), perplexity and bits per byte of a causal LM on held-out text.

    ``source`` is anything :func:`llmpath_core.load_documents` reads (default: ``mix:validation``,
    the first ``max_chars`` characters of the held-out stories and prose) or a list of documents.
    ``seq_len`` defaults to the model's context, at most 256 tokens.

    Besides the means, the result holds their standard errors over windows (``loss_stderr``,
    ``bpb_stderr``) and each window's summed nats and bytes (``window_nats``, ``window_bytes``), so
    that two models evaluated on the same text with the same tokenizer can be compared window by
    window with :func:`paired_difference`, an error bar far tighter than the two separate ones.
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
    window_nats: list[float] = []
    window_bytes: list[float] = []
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for first in range(0, n_windows, batch_size):
            rows = range(first, min(n_windows, first + batch_size))
            inputs = torch.stack([data[r * seq_len : (r + 1) * seq_len] for r in rows])
            targets = torch.stack([data[r * seq_len + 1 : (r + 1) * seq_len + 1] for r in rows])
            logits = model(input_ids=inputs.to(device)).logits.float()
            nll = F.cross_entropy(
                logits.reshape(-1, logits.size(-1)),
                targets.to(device).reshape(-1),
                reduction="none",
            ).reshape(targets.shape)
            window_nats.extend(nll.double().sum(dim=1).tolist())
            window_bytes.extend(byte_len[targets.clamp(max=len(byte_len) - 1)].sum(dim=1).tolist())
    model.train(was_training)
    total_tokens = n_windows * seq_len
    loss = sum(window_nats) / total_tokens
    bits = [n / math.log(2) for n in window_nats]
    return {
        "seq_len": seq_len,
        "loss": loss,
        "loss_stderr": _ratio_stderr(window_nats, [float(seq_len)] * n_windows),
        "perplexity": math.exp(loss),
        "bits_per_byte": sum(bits) / max(1.0, sum(window_bytes)),
        "bpb_stderr": _ratio_stderr(bits, window_bytes),
        "tokens": total_tokens,
        "windows": n_windows,
        "window_nats": window_nats,
        "window_bytes": window_bytes,
    }


def paired_difference(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float]:
    """``b - a`` in loss and bits per byte, with standard errors paired over the same windows.

    ``a`` and ``b`` are :func:`evaluate_lm` results on the same text with the same tokenizer and
    ``seq_len`` (so window ``i`` holds the same tokens in both). The windows' own difficulty
    cancels in the difference, which is why a paired error bar can resolve a 0.5 % change that
    the two separate error bars could not. ``*_rel`` is the difference relative to ``a``.
    """
    if a.get("window_bytes") != b.get("window_bytes") or a.get("seq_len") != b.get("seq_len"):
        raise UserError(
            "paired_difference needs two evaluations of the same text with the same tokenizer "
            "and seq_len (their windows differ)"
        )
    k = len(a["window_nats"])
    seq_len = float(a["seq_len"])
    diff_nats = [y - x for x, y in zip(a["window_nats"], b["window_nats"], strict=True)]
    diff_bits = [d / math.log(2) for d in diff_nats]
    loss_diff = sum(diff_nats) / (k * seq_len)
    return {
        "loss_diff": loss_diff,
        "loss_diff_stderr": _ratio_stderr(diff_nats, [seq_len] * k),
        "loss_diff_rel": loss_diff / a["loss"],
        "perplexity_ratio": math.exp(loss_diff),
        "bpb_diff": sum(diff_bits) / sum(a["window_bytes"]),
        "bpb_diff_stderr": _ratio_stderr(diff_bits, a["window_bytes"]),
        "windows": k,
    }


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """An :func:`evaluate_lm` result without its per-window lists (for tables and JSON)."""
    return {k: v for k, v in result.items() if not k.startswith("window_")}


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
    "paired_difference",
    "summary",
    "token_byte_lengths",
    "weights_sha256",
]
