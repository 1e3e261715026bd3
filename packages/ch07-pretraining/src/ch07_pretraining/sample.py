"""Sample text from a trained run folder, loaded the standard way (``AutoModelForCausalLM``)."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from llmpath_core import UserError


def load_model(model_dir: str | os.PathLike):
    """Load ``(model, tokenizer)`` from a Hugging Face folder; a clear error if it is not one."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(model_dir)
    if not (path / "config.json").is_file() or not (path / "tokenizer.json").is_file():
        raise UserError(
            f"{path} is not a trained model folder (needs config.json and tokenizer.json): "
            "train one with `ch07-pretraining train --out DIR`"
        )
    model = AutoModelForCausalLM.from_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    return model.eval(), tokenizer


def generate(
    model_dir: str | os.PathLike,
    prompt: str = "",
    *,
    max_new_tokens: int = 64,
    temperature: float = 0.8,
    top_k: int = 50,
    seed: int = 0,
) -> str:
    """Continue ``prompt`` (from a document start) with top-k sampling; returns the new text."""
    if max_new_tokens < 1:
        raise UserError("max_new_tokens must be at least 1")
    if temperature < 0:
        raise UserError("temperature must be >= 0 (0 = greedy)")
    model, tokenizer = load_model(model_dir)
    ids = (
        [tokenizer.eos_token_id, *tokenizer(prompt)["input_ids"]]
        if prompt
        else [tokenizer.eos_token_id]
    )
    context = model.config.max_position_embeddings
    if len(ids) + max_new_tokens > context:
        raise UserError(
            f"prompt ({len(ids)} tokens) + {max_new_tokens} new tokens exceed the model's "
            f"context of {context}: shorten them"
        )
    input_ids = torch.tensor([ids])
    torch.manual_seed(seed)
    with torch.no_grad():
        out = model.generate(
            input_ids=input_ids,
            attention_mask=torch.ones_like(input_ids),
            max_new_tokens=max_new_tokens,
            do_sample=temperature > 0,
            temperature=temperature if temperature > 0 else None,
            top_k=top_k if temperature > 0 else None,
            pad_token_id=tokenizer.eos_token_id,
        )
    return tokenizer.decode(out[0, len(ids) :], skip_special_tokens=True)


__all__ = ["generate", "load_model"]
