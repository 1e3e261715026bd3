"""Sampling parameters and batched next-token selection: greedy, temperature, top-k, top-p.

:func:`next_token_probs` turns logits into the distribution a request samples from (one-hot on
the argmax for greedy), row by row with each row's own settings, in a few batched tensor ops.
Speculative decoding uses the same function for the target and draft distributions, so its
rejection rule keeps exactly the distribution the engine would sample from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class SamplingParams:
    """How to pick tokens for one request (vLLM's names).

    ``temperature=0`` is greedy; ``top_k=0`` and ``top_p=1`` switch those filters off.
    ``stop`` strings end the text (and are cut from it); ``n`` completions share the prompt's KV.
    """

    n: int = 1
    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 1.0
    max_tokens: int = 16
    stop: list[str] = field(default_factory=list)
    stop_token_ids: list[int] = field(default_factory=list)
    ignore_eos: bool = False

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError("n must be >= 1")
        if self.temperature < 0:
            raise ValueError("temperature must be >= 0")
        if self.top_k < 0:
            raise ValueError("top_k must be >= 0 (0 = off)")
        if not 0 < self.top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")
        if self.max_tokens < 1:
            raise ValueError("max_tokens must be >= 1")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


def next_token_probs(
    logits: torch.Tensor, params: list[SamplingParams] | SamplingParams
) -> torch.Tensor:
    """Probabilities ``(rows, vocab)`` to sample from, each row with its own params."""
    rows, vocab = logits.shape
    if isinstance(params, SamplingParams):
        params = [params] * rows
    logits = logits.float()
    greedy = torch.tensor([p.greedy for p in params], device=logits.device)
    temps = torch.tensor([p.temperature or 1.0 for p in params], device=logits.device)
    logits = logits / temps[:, None]
    if any(p.top_k or p.top_p < 1 for p in params):
        top_k = torch.tensor([p.top_k or vocab for p in params], device=logits.device)
        top_p = torch.tensor([p.top_p for p in params], device=logits.device)
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        rank = torch.arange(vocab, device=logits.device)[None, :]
        drop = rank >= top_k[:, None]
        sorted_probs = sorted_logits.masked_fill(drop, float("-inf")).softmax(-1)
        # nucleus: drop a token once the tokens ranked above it already hold top_p of the mass
        drop |= (sorted_probs.cumsum(-1) - sorted_probs) >= top_p[:, None]
        drop[:, 0] = False
        sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
        logits = torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)
    probs = logits.softmax(-1)
    if greedy.any():
        one_hot = torch.zeros_like(probs).scatter_(-1, logits.argmax(-1, keepdim=True), 1.0)
        probs = torch.where(greedy[:, None], one_hot, probs)
    return probs


def sample(
    logits: torch.Tensor,
    params: list[SamplingParams] | SamplingParams,
    generator: torch.Generator | None = None,
    num_samples: int = 1,
) -> torch.Tensor:
    """Token ids ``(rows, num_samples)``: argmax rows for greedy, multinomial otherwise."""
    probs = next_token_probs(logits, params)
    if isinstance(params, SamplingParams):
        params = [params] * probs.shape[0]
    if all(p.greedy for p in params):
        return logits.argmax(-1, keepdim=True).expand(-1, num_samples).clone()
    return torch.multinomial(probs, num_samples, replacement=True, generator=generator)


__all__ = ["SamplingParams", "next_token_probs", "sample"]
