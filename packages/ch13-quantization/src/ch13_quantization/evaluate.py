"""The trade-off, measured: perplexity on held-out text, bytes on disk and in memory, tokens/s.

Perplexity uses llmpath's one definition of held-out loss (``llmpath_core.models.evaluate_lm``:
documents joined with the end-of-text token, non-overlapping windows). Speed is greedy decoding
with the KV cache, batch 1, a fixed number of new tokens.
"""

from __future__ import annotations

import time

import torch
from torch import nn

from ch13_quantization.model_io import context_length
from ch13_quantization.serialize import memory_bytes

EVAL_SOURCE = "stories:validation"


def evaluation(
    model: nn.Module,
    tokenizer,
    source: str = EVAL_SOURCE,
    *,
    max_chars: int | None = 60_000,
    seq_len: int | None = None,
) -> dict:
    """The full ``evaluate_lm`` result (loss, perplexity, standard errors, per-window nats)."""
    from llmpath_core.models import evaluate_lm

    seq_len = seq_len or context_length(model)
    return evaluate_lm(model, tokenizer, source, seq_len=seq_len, max_chars=max_chars)


def perplexity(
    model: nn.Module,
    tokenizer,
    source: str = EVAL_SOURCE,
    *,
    max_chars: int | None = 60_000,
    seq_len: int | None = None,
) -> float:
    """``exp`` of the mean next-token loss on ``source`` (first ``max_chars`` characters)."""
    from llmpath_core.models import evaluate_lm

    seq_len = seq_len or context_length(model)
    result = evaluate_lm(model, tokenizer, source, seq_len=seq_len, max_chars=max_chars)
    return float(result["perplexity"])


@torch.no_grad()
def tokens_per_second(model: nn.Module, tokenizer, new_tokens: int = 32, repeats: int = 2) -> float:
    """Greedy decoding speed (batch 1, KV cache), best of ``repeats`` after one warm-up."""
    device = next(model.parameters()).device
    prompt = tokenizer("Once upon a time", return_tensors="pt")["input_ids"].to(device)
    new_tokens = min(new_tokens, context_length(model) - prompt.shape[1])
    kwargs = dict(
        max_new_tokens=new_tokens,
        min_new_tokens=new_tokens,
        do_sample=False,
        pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0,
    )
    model.generate(prompt, **kwargs)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        model.generate(prompt, **kwargs)
        best = min(best, time.perf_counter() - start)
    return new_tokens / best


def evaluate_model(
    model: nn.Module,
    tokenizer,
    *,
    size_bytes: int | None = None,
    source: str = EVAL_SOURCE,
    max_chars: int | None = 60_000,
    speed: bool = True,
) -> dict[str, float | int | None]:
    """``{"perplexity", "size_bytes", "memory_bytes", "tokens_per_s"}`` of a model."""
    return {
        "perplexity": perplexity(model, tokenizer, source, max_chars=max_chars),
        "size_bytes": size_bytes,
        "memory_bytes": memory_bytes(model),
        "tokens_per_s": tokens_per_second(model, tokenizer) if speed else None,
    }


__all__ = ["EVAL_SOURCE", "evaluate_model", "evaluation", "perplexity", "tokens_per_second"]
