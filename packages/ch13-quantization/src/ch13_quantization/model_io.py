"""Models in and out: load any HF causal LM, find its Linear layers, calibration and held-out text.

Every method in this chapter works on ``nn.Linear`` modules found by name, so it applies to any
``transformers`` causal LM built from them (Llama, Mistral, Qwen, OPT, ...). A skip list keeps
layers in full precision; ``lm_head`` is skipped by default because it is often tied to the input
embedding (quantizing it unties the two, which costs memory instead of saving it).
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from llmpath_core import UserError

DEFAULT_SKIP = ("lm_head",)
QUANT_CONFIG = "quantization.json"


def default_model_path() -> Path:
    """llmpath's default model folder (shipped inside llmpath-core)."""
    from llmpath_core.models import default_model_path as core_default

    return core_default()


def resolve_model_path(model: str | os.PathLike | None) -> str:
    """``None`` -> the default model; a local folder as is; anything else is a hub id."""
    if model is None:
        return str(default_model_path())
    path = Path(model).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise UserError(f"{path} is not a Hugging Face model folder (no config.json)")
        return str(path)
    if str(model).startswith((".", "/", "~")) or os.sep in str(model).strip("/").split("/", 1)[-1]:
        raise FileNotFoundError(2, "No such model folder", str(model))
    return str(model)


def load_model(model: str | os.PathLike | None = None, *, dtype=torch.float32):
    """``(model, tokenizer)`` in eval mode: a local folder, a hub id or (None) the default model.

    A folder written by :func:`ch13_quantization.serialize.save_quantized` comes back quantized.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # stderr carries our one-line errors and logs only
    source = resolve_model_path(model)
    if (Path(source) / QUANT_CONFIG).is_file():
        from ch13_quantization.serialize import load_quantized

        return load_quantized(source)
    local = Path(source).exists()
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local)
        lm = AutoModelForCausalLM.from_pretrained(source, local_files_only=local, dtype=dtype)
    except (OSError, ValueError) as exc:
        where = "this folder" if local else "the Hugging Face hub (offline?)"
        raise UserError(
            f"could not load a causal LM from {source!r} via {where}: {str(exc).splitlines()[0]}"
        ) from None
    return lm.eval(), tokenizer


def is_skipped(name: str, skip: Sequence[str]) -> bool:
    """A layer is skipped if a pattern equals its name, its last part, or globs it."""
    last = name.rsplit(".", 1)[-1]
    return any(p in (name, last) or fnmatch.fnmatchcase(name, p) for p in skip)


def find_linears(model: nn.Module, skip: Sequence[str] = DEFAULT_SKIP) -> dict[str, nn.Linear]:
    """``{name: module}`` of the ``nn.Linear`` layers to quantize, in forward order."""
    found = {
        name: module
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and not is_skipped(name, skip)
    }
    if not found:
        total = sum(isinstance(m, nn.Linear) for m in model.modules())
        why = "it has no nn.Linear layers" if total == 0 else "the skip list excludes all of them"
        raise UserError(f"nothing to quantize: {why} (this chapter quantizes nn.Linear weights)")
    return found


def set_module(model: nn.Module, name: str, new: nn.Module) -> None:
    """Replace the submodule ``name``; quantizing a tied ``lm_head`` unties it first."""
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    old = getattr(parent, child)
    config = getattr(model, "config", None)
    if config is not None and isinstance(old, nn.Linear):
        embed = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
        if embed is not None and embed.weight is old.weight:
            config.tie_word_embeddings = False
            if hasattr(model, "_tied_weights_keys"):
                model._tied_weights_keys = None
            if hasattr(model, "all_tied_weights_keys"):
                model.all_tied_weights_keys = {}
    setattr(parent, child, new)


def decoder_blocks(model: nn.Module, linears: dict[str, nn.Linear]) -> list[list[str]]:
    """The target layers grouped by transformer block (the largest ``nn.ModuleList``), in order.

    GPTQ and AWQ quantize one block at a time so later blocks see the already quantized ones.
    Layers outside any block (or a model without blocks) form groups of their own.
    """
    lists = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.ModuleList)]
    lists = [(n, m) for n, m in lists if any(k.startswith(n + ".") for k in linears)]
    if not lists:
        return [[name] for name in linears]
    prefix, blocks = max(lists, key=lambda item: len(item[1]))
    groups: list[list[str]] = [[] for _ in blocks]
    outside: list[list[str]] = []
    for name in linears:
        if name.startswith(prefix + "."):
            index = int(name[len(prefix) + 1 :].split(".", 1)[0])
            groups[index].append(name)
        else:
            outside.append([name])
    return [g for g in groups if g] + outside


def context_length(model: nn.Module, wanted: int = 256) -> int:
    limit = getattr(getattr(model, "config", None), "max_position_embeddings", None) or wanted
    return min(wanted, int(limit))


def token_windows(
    tokenizer,
    source: str,
    *,
    split: str,
    n: int | None,
    seq_len: int,
    seed: int = 0,
    max_chars: int | None = None,
) -> torch.Tensor:
    """``[n, seq_len]`` token windows of ``source`` (``n`` random ones, or all in order)."""
    from llmpath_core import load_documents
    from llmpath_core.models import encode_documents

    docs = [d for d in load_documents(source, split=split, max_chars=max_chars) if d.strip()]
    if not docs:
        raise UserError(f"no text in {source!r} ({split} split)")
    ids = torch.tensor(encode_documents(tokenizer, docs), dtype=torch.long)
    if len(ids) < seq_len + 1:
        raise UserError(
            f"{source!r} ({split}) has {len(ids)} tokens, fewer than one window of {seq_len}"
        )
    if n is None:
        count = len(ids) // seq_len
        return ids[: count * seq_len].reshape(count, seq_len)
    generator = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, len(ids) - seq_len, (n,), generator=generator)
    return torch.stack([ids[s : s + seq_len] for s in starts.tolist()])


def calibration_data(
    model: nn.Module,
    tokenizer,
    source: str = "stories",
    *,
    n_samples: int = 32,
    seq_len: int | None = None,
    seed: int = 0,
) -> torch.Tensor:
    """Random windows of the first 200 k characters of the calibration text's train split."""
    if n_samples < 1:
        raise UserError("calibration needs at least one sample (--calib-samples >= 1)")
    seq_len = seq_len or context_length(model)
    return token_windows(
        tokenizer,
        source,
        split="train",
        n=n_samples,
        seq_len=seq_len,
        seed=seed,
        max_chars=200_000,
    )


@torch.no_grad()
def run_batches(model: nn.Module, tokens: torch.Tensor, batch_size: int = 8) -> None:
    """Forward ``tokens`` through the model in batches (to feed hooks)."""
    device = next(model.parameters()).device
    for start in range(0, len(tokens), batch_size):
        model(input_ids=tokens[start : start + batch_size].to(device), use_cache=False)


__all__ = [
    "DEFAULT_SKIP",
    "QUANT_CONFIG",
    "calibration_data",
    "context_length",
    "decoder_blocks",
    "default_model_path",
    "find_linears",
    "is_skipped",
    "load_model",
    "resolve_model_path",
    "run_batches",
    "set_module",
    "token_windows",
]
