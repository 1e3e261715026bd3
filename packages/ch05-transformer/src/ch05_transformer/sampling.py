"""Choosing the next token, and the generation loop with or without a KV cache.

Sampling turns logits into a token: greedy takes the argmax; temperature ``T`` divides the logits
(``T < 1`` sharpens, ``T > 1`` flattens); top-k keeps the ``k`` most likely tokens; top-p (nucleus,
Holtzman et al., 2020) keeps the smallest set whose probability reaches ``p``.

:func:`generate` either recomputes the whole sequence for every new token or runs the prompt once
(prefill) and then feeds one token at a time through the model's :class:`KVCache` (decode). Both
give the same tokens; the cache makes each step cost O(n) instead of O(n²).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from llmpath_core import UserError


@dataclass
class SamplingConfig:
    """``temperature == 0`` means greedy; ``top_k = 0`` and ``top_p = 1`` switch them off."""

    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 1.0


def filter_logits(logits: torch.Tensor, top_k: int = 0, top_p: float = 1.0) -> torch.Tensor:
    """Set the logits of tokens outside the top-k / top-p set to ``-inf``. ``logits`` ``(b, v)``."""
    if top_k > 0:
        kth = torch.topk(logits, min(top_k, logits.shape[-1]), dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        probs = torch.softmax(sorted_logits, dim=-1)
        before = probs.cumsum(dim=-1) - probs  # probability mass strictly before each token
        drop_sorted = before >= top_p  # the most likely token always stays (before == 0)
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def sample_next(
    logits: torch.Tensor, cfg: SamplingConfig, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Next token ids ``(b,)`` from the last-position logits ``(b, v)``."""
    if cfg.temperature <= 0:
        return logits.argmax(dim=-1)
    logits = filter_logits(logits / cfg.temperature, cfg.top_k, cfg.top_p)
    probs = torch.softmax(logits.float(), dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


@torch.no_grad()
def generate(
    model: torch.nn.Module,
    input_ids: torch.Tensor,
    max_new_tokens: int,
    *,
    sampling: SamplingConfig | None = None,
    use_cache: bool = True,
    seed: int | None = None,
    eos_token_id: int | None = None,
) -> torch.Tensor:
    """Append up to ``max_new_tokens`` tokens to ``input_ids`` ``(b, t)``; returns ``(b, t + n)``.

    ``model`` is one of our decoders (it has ``new_cache`` and ``max_positions``). Raises
    :class:`~llmpath_core.UserError` when the prompt plus new tokens do not fit its context.
    """
    sampling = sampling or SamplingConfig()
    total = input_ids.shape[1] + max_new_tokens
    if input_ids.shape[1] == 0:
        raise UserError("the prompt is empty: give at least one token")
    if total > model.max_positions:
        raise UserError(
            f"prompt of {input_ids.shape[1]} tokens + {max_new_tokens} new tokens = {total} is "
            f"longer than the model's context of {model.max_positions}: "
            "shorten the prompt or --max-new-tokens"
        )
    generator = None
    if seed is not None:
        generator = torch.Generator(device=input_ids.device).manual_seed(seed)
    was_training = model.training
    model.eval()
    ids = input_ids
    cache = model.new_cache(ids.shape[0], total) if use_cache else None
    step_input = ids
    for _ in range(max_new_tokens):
        logits = model(step_input, cache) if use_cache else model(ids)
        next_ids = sample_next(logits[:, -1, :], sampling, generator)
        ids = torch.cat([ids, next_ids[:, None]], dim=1)
        step_input = next_ids[:, None]
        if eos_token_id is not None and bool((next_ids == eos_token_id).all()):
            break
    model.train(was_training)
    return ids


__all__ = ["SamplingConfig", "filter_logits", "generate", "sample_next"]
