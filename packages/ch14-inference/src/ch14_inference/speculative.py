"""Speculative decoding (Leviathan et al., 2023; Chen et al., 2023) and prompt-lookup drafting.

A cheap *proposer* guesses ``k`` tokens; the target model scores all of them in one forward pass
and the *rejection rule* keeps the target's distribution exactly: draft token ``x`` (drawn from
``q``) is accepted with probability ``min(1, p(x) / q(x))``; at the first rejection a token is drawn
from the residual ``norm(max(0, p - q))`` and the rest are discarded; if all ``k`` are accepted a
bonus token comes from ``p`` at the next position. Each target pass therefore yields between 1
and ``k + 1`` tokens. Under greedy decoding ``p`` and ``q`` are one-hot, so a draft token is kept
iff it equals the target's argmax, and the output is exactly the target's greedy output.

With a per-token acceptance rate ``alpha`` the expected tokens per target pass is
``(1 - alpha**(k+1)) / (1 - alpha)``; if a draft pass costs ``c`` target passes the expected
speed-up is that divided by ``1 + k*c`` (Leviathan et al., eq. 1 and Theorem 3.8).

Proposers: a small draft model (:class:`DraftModelProposer`) or *prompt lookup*
(:class:`NgramProposer`, Saxena 2023): find the latest earlier occurrence of the last ``n`` tokens
and propose what followed it; no second model, ``q`` is one-hot.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from ch14_inference.model import PagedLlama
from ch14_inference.sampling import SamplingParams, next_token_probs


def rejection_sample(
    target_probs: torch.Tensor,
    draft_probs: torch.Tensor,
    draft_tokens: list[int],
    generator: torch.Generator | None = None,
) -> tuple[list[int], int]:
    """Apply the rejection rule to ``k`` draft tokens.

    ``target_probs`` is ``(k + 1, vocab)`` (the target's distribution before each draft token and
    after the last), ``draft_probs`` ``(k, vocab)``. Returns the tokens to append (accepted drafts
    plus one corrected or bonus token) and the number of drafts accepted.
    """
    k = len(draft_tokens)
    if k:
        idx = torch.arange(k)
        drafted = torch.tensor(draft_tokens)
        p = target_probs[idx, drafted]
        q = draft_probs[idx, drafted]
        u = torch.rand(k, generator=generator, device=target_probs.device)
        rejected = (u * q >= p).nonzero()  # u >= p/q, without dividing by zero
        m = int(rejected[0]) if len(rejected) else k
    else:
        m = 0
    if m < k:
        residual = (target_probs[m] - draft_probs[m]).clamp_min(0)
        dist = residual / residual.sum()
    else:
        dist = target_probs[k]
    extra = int(torch.multinomial(dist, 1, generator=generator))
    return [*draft_tokens[:m], extra], m


class _Stream:
    """One sequence in a model's own cache (its blocks allocated in order, so slots 0..)."""

    def __init__(self, model: PagedLlama, capacity: int) -> None:
        self.model = model
        self.cache = model.new_stream_cache(capacity)
        self.computed = 0

    def feed(self, tokens: list[int], all_logits: bool = False) -> torch.Tensor:
        ids = torch.tensor(tokens[self.computed :], dtype=torch.long, device=self.model.device)
        start = self.computed
        self.computed = len(tokens)
        return self.model.forward_contiguous(ids, start, self.cache, all_logits)

    def rollback(self, length: int) -> None:
        self.computed = min(self.computed, length)


class DraftModelProposer:
    """Proposes ``k`` tokens by sampling them from a small draft model."""

    def __init__(self, draft: PagedLlama) -> None:
        self.draft = draft
        self.stream: _Stream | None = None

    def start(self, capacity: int) -> None:
        self.stream = _Stream(self.draft, capacity)

    def propose(
        self, tokens: list[int], k: int, params: SamplingParams, gen: torch.Generator | None
    ) -> tuple[list[int], torch.Tensor]:
        assert self.stream is not None
        self.stream.rollback(len(tokens) - 1)
        seq = list(tokens)
        out, probs = [], []
        for _ in range(k):
            logits = self.stream.feed(seq)
            if params.greedy:  # q is one-hot: skip building distributions inside the loop
                tok = int(logits[0].argmax())
            else:
                q = next_token_probs(logits, params)[0]
                tok = int(torch.multinomial(q, 1, generator=gen))
                probs.append(q)
            out.append(tok)
            seq.append(tok)
        if params.greedy:
            one_hot = torch.zeros(len(out), self.draft.vocab_size, device=self.draft.device)
            return out, one_hot.scatter_(1, torch.tensor(out)[:, None], 1.0)
        return out, torch.stack(probs) if probs else torch.empty(0)


class NgramProposer:
    """Prompt lookup: continue the latest earlier match of the last ``n`` tokens (n = max..min)."""

    def __init__(self, max_ngram: int = 3, min_ngram: int = 1) -> None:
        self.max_ngram, self.min_ngram = max_ngram, min_ngram
        self.vocab_size = 0

    def start(self, capacity: int) -> None:
        pass

    def propose(
        self, tokens: list[int], k: int, params: SamplingParams, gen: torch.Generator | None
    ) -> tuple[list[int], torch.Tensor]:
        out: list[int] = []
        for n in range(min(self.max_ngram, len(tokens) - 1), self.min_ngram - 1, -1):
            tail = tokens[-n:]
            for start in range(len(tokens) - n - 1, -1, -1):
                if tokens[start : start + n] == tail:
                    out = tokens[start + n : start + n + k]
                    break
            if out:
                break
        probs = torch.zeros(len(out), self.vocab_size)
        if out:
            probs[torch.arange(len(out)), torch.tensor(out)] = 1.0
        return out, probs


@dataclass
class SpecStats:
    """What a speculative run did: passes, proposals, acceptances and time."""

    target_passes: int = 0
    proposed: int = 0
    accepted: int = 0
    generated: int = 0
    seconds: float = 0.0
    accepted_per_pass: list[int] = field(default_factory=list)

    @property
    def acceptance_rate(self) -> float:
        return self.accepted / self.proposed if self.proposed else 0.0

    @property
    def tokens_per_pass(self) -> float:
        return self.generated / self.target_passes if self.target_passes else 0.0


def expected_tokens_per_pass(alpha: float, k: int) -> float:
    """``(1 - alpha^(k+1)) / (1 - alpha)``: tokens per target pass at acceptance rate ``alpha``."""
    if alpha >= 1:
        return k + 1.0
    return (1 - alpha ** (k + 1)) / (1 - alpha)


def expected_speedup(alpha: float, k: int, cost_ratio: float) -> float:
    """Analytic speed-up over plain decoding; a draft pass costs ``cost_ratio`` target passes."""
    return expected_tokens_per_pass(alpha, k) / (1 + k * cost_ratio)


class SpeculativeDecoder:
    """Decode one sequence with a target model and a proposer (draft model or n-gram lookup)."""

    def __init__(
        self,
        target: PagedLlama,
        proposer: DraftModelProposer | NgramProposer | None = None,
        k: int = 4,
        eos_token_id: int | None = None,
        seed: int = 0,
    ) -> None:
        self.target = target
        self.proposer = proposer
        self.k = k
        self.eos_token_id = eos_token_id
        self.generator = torch.Generator(device=target.device).manual_seed(seed)
        if isinstance(proposer, NgramProposer):
            proposer.vocab_size = target.vocab_size
        if (
            isinstance(proposer, DraftModelProposer)
            and proposer.draft.vocab_size != target.vocab_size
        ):
            raise ValueError("the draft and target models must share a vocabulary")

    def generate(
        self, prompt_ids: list[int], params: SamplingParams | None = None
    ) -> tuple[list[int], SpecStats]:
        """Generated token ids (after the prompt) and the run's statistics."""
        params = params or SamplingParams()
        capacity = self.target.max_positions
        if len(prompt_ids) >= capacity:
            raise ValueError("the prompt is longer than the model's context")
        limit = min(params.max_tokens, capacity - len(prompt_ids))
        stats = SpecStats()
        start = time.perf_counter()
        target = _Stream(self.target, capacity)
        if self.proposer is not None:
            self.proposer.start(capacity)
        tokens = list(prompt_ids)
        out: list[int] = []
        while len(out) < limit:
            k = min(self.k, limit - len(out) - 1, capacity - len(tokens) - 1)
            drafts, q = ([], None)
            if self.proposer is not None and k > 0:
                drafts, q = self.proposer.propose(tokens, k, params, self.generator)
            target.rollback(len(tokens) - 1)
            logits = target.feed(tokens + drafts, all_logits=True)[-(len(drafts) + 1) :]
            p = next_token_probs(logits, params)
            new, m = rejection_sample(p, q if drafts else p[:0], drafts, self.generator)
            stats.target_passes += 1
            stats.proposed += len(drafts)
            stats.accepted += m
            stats.accepted_per_pass.append(m)
            for tok in new:
                out.append(tok)
                tokens.append(tok)
                done = (
                    len(out) >= limit
                    or (tok == self.eos_token_id and not params.ignore_eos)
                    or tok in params.stop_token_ids
                )
                if done:
                    limit = len(out)
                    break
            target.rollback(len(tokens) - 1)
        stats.generated = len(out)
        stats.seconds = time.perf_counter() - start
        return out, stats


__all__ = [
    "DraftModelProposer",
    "NgramProposer",
    "SpecStats",
    "SpeculativeDecoder",
    "expected_speedup",
    "expected_tokens_per_pass",
    "rejection_sample",
]
