"""A load cache for the demo: a model's :class:`PagedLlama` tensors, keyed by its files' hash.

Loading a model through ``transformers`` costs seconds of imports before any work (tens of seconds
on a busy 2-core machine) and always gives the same tensors for the same files, so
:func:`load_cached` keeps :meth:`PagedLlama.to_state` in ``LLMPATH_HOME/ch14/model-cache/`` under
the SHA-256 of the folder's ``config.json`` and ``*.safetensors``: a changed model is a new key.
A cached load needs only torch and ``tokenizers``; the first load goes through
:func:`~ch14_inference.engine.load_model` and writes the cache atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch

from ch14_inference.model import PagedLlama
from llmpath_core import UserError

FORMAT = "ch14-paged-llama-1"


class CachedTokenizer:
    """The few tokenizer calls the engine makes, over ``tokenizers`` (no transformers import)."""

    def __init__(self, folder: Path) -> None:
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        config = folder / "tokenizer_config.json"
        eos = json.loads(config.read_text()).get("eos_token") if config.is_file() else None
        if isinstance(eos, dict):
            eos = eos.get("content")
        self.eos_token_id = self.tokenizer.token_to_id(eos) if eos else None

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text).ids

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=skip_special_tokens)


def model_folder(name: str) -> Path:
    """``"default"``/``"draft"`` (llmpath's models) or a folder path."""
    from llmpath_core import default_model_path, draft_model_path

    path = {"default": default_model_path, "draft": draft_model_path}.get(name)
    folder = Path(path()) if path else Path(name)
    if not (folder / "config.json").is_file():
        raise UserError(f"no model at {name!r}: give 'default', 'draft' or a HF model folder")
    return folder


def files_key(folder: Path) -> str:
    h = hashlib.sha256(FORMAT.encode())
    for f in [folder / "config.json", *sorted(folder.glob("*.safetensors"))]:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def load_cached(name: str, log: Any = None) -> tuple[PagedLlama, Any]:
    """A :class:`PagedLlama` and tokenizer for ``name``, from the cache when the files match."""
    from llmpath_core import artefact_path

    folder = model_folder(name)
    path = artefact_path("ch14", "model-cache", f"{files_key(folder)[:20]}.pt")
    has_tokenizer = (folder / "tokenizer.json").is_file()
    if path.is_file():
        model = PagedLlama.from_state(torch.load(path, weights_only=False))
        return model, CachedTokenizer(folder) if has_tokenizer else None
    from ch14_inference.engine import load_model

    model, tokenizer = load_model(str(folder))
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    torch.save(model.to_state(), tmp)
    os.replace(tmp, path)  # atomic: a crash never leaves a half-written cache entry
    if log is not None:
        log(f"cached {name} for the next run: {path}")
    return model, tokenizer


__all__ = ["CachedTokenizer", "files_key", "load_cached", "model_folder"]
