"""Outcome and process reward models: small heads over the policy's hidden states.

A *process* reward model (Lightman et al. 2023, "Let's verify step by step") scores every step of
a chain; an *outcome* reward model scores only the end. Both are the same small head here — an
MLP on the policy's last hidden state at a position (plus how confident the policy was in
the tokens it wrote there) — trained with binary cross-entropy:

- PRM: the position after each step (the ``;``), label from the solver (this step and every
  step before it are the solver's steps, :func:`~ch12_reasoning.problems.step_labels`);
- ORM: the last position of the chain, label "the final answer is right";
- Game-of-24 value model: the position after a step, label "the numbers left can still make 24"
  (the exact solver), used by tree search to prune branches.

A chain's PRM score is the minimum of its step scores: one wrong step sinks the chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from transformers import LlamaForCausalLM

    from ch12_reasoning.policy import CharTokenizer


def hidden_at(
    model: LlamaForCausalLM,
    tok: CharTokenizer,
    prompts: Sequence[str],
    chains: Sequence[str],
    mark: str = ";",
    batch_size: int = 256,
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """For each chain: (one feature row per ``mark`` in the chain, one feature row at its end).

    A feature row is the policy's last hidden state at that position followed by the minimum
    and mean log-probability of the tokens the policy wrote in that step (the whole chain for
    the end row): what the model "knew" and how sure it was while writing.
    """
    import torch

    out = []
    for start in range(0, len(prompts), batch_size):
        ps, cs = prompts[start : start + batch_size], chains[start : start + batch_size]
        rows = [[tok.bos_id, *tok.encode(p), *tok.encode(c)] for p, c in zip(ps, cs, strict=True)]
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), tok.pad_id)
        attn = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r)
            attn[i, : len(r)] = 1
        with torch.no_grad():
            res = model(input_ids=ids, attention_mask=attn, output_hidden_states=True)
        hs = res.hidden_states[-1].float()
        # log-prob the policy gave each token it wrote: a slip is usually a low-probability sample
        logp = torch.log_softmax(res.logits[:, :-1].float(), -1).gather(-1, ids[:, 1:, None])[
            ..., 0
        ]
        for i, (p, c) in enumerate(zip(ps, cs, strict=True)):
            offset = 1 + len(p)
            ends = [offset + j for j, ch in enumerate(c) if ch == mark]
            last = len(rows[i]) - 1
            steps, begin = [], offset
            for end in [*ends, last]:
                lp = logp[i, max(begin - 1, 0) : end] if end >= begin else logp[i, last - 1 : last]
                steps.append(torch.cat([hs[i, end], _confidence(lp)]))
                begin = end + 1
            whole = (
                _confidence(logp[i, offset - 1 : last])
                if last >= offset
                else _confidence(logp[i, :0])
            )
            final = torch.cat([hs[i, last], whole])
            out.append(
                (torch.stack(steps[:-1]) if ends else hs.new_zeros(0, hs.size(-1) + 2), final)
            )
    return out


def _confidence(logps: torch.Tensor) -> torch.Tensor:
    """(minimum, mean) token log-prob of a span; zeros for an empty span."""
    import torch

    if logps.numel() == 0:
        return torch.zeros(2)
    return torch.stack([logps.min(), logps.mean()])


@dataclass
class ScoreHead:
    """An MLP ``hidden -> 64 -> 1`` with a sigmoid, trained by :meth:`fit`."""

    hidden: int
    seed: int = 0
    losses: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        import torch

        gen = torch.Generator().manual_seed(self.seed)
        self.net = torch.nn.Sequential(
            torch.nn.Linear(self.hidden, 64), torch.nn.GELU(), torch.nn.Linear(64, 1)
        )
        with torch.no_grad():
            for p in self.net.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.05)

    def fit(
        self, x: torch.Tensor, y: torch.Tensor, epochs: int = 300, lr: float = 3e-3
    ) -> list[float]:
        """Full-batch Adam on BCE with class balancing; returns the loss per epoch."""
        import torch

        pos = float(y.mean().clamp(0.05, 0.95))
        weight = torch.where(y > 0.5, 0.5 / pos, 0.5 / (1 - pos))
        opt = torch.optim.Adam(self.net.parameters(), lr=lr)
        for _ in range(epochs):
            logits = self.net(x).squeeze(-1)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y, weight=weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
            self.losses.append(float(loss.detach()))
        return self.losses

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """Probabilities in [0, 1] for each row of ``x``."""
        import torch

        with torch.no_grad():
            return torch.sigmoid(self.net(x).squeeze(-1))


def chain_score(prm: ScoreHead, steps: torch.Tensor, last: torch.Tensor) -> float:
    """A chain's PRM score: the minimum step score (the end position if it has no step)."""
    x = steps if len(steps) else last.unsqueeze(0)
    return float(prm.score(x).min())
