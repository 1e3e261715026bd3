"""Ensembles and the merging lab: two fine-tunes, one per task, combined several ways.

- **logit ensemble**: the mixture ``log sum_i w_i softmax(z_i)`` of the members' next-token
  distributions (every member runs);
- **routing ensemble**: per sequence, the member with the lowest loss on the first
  ``route_tokens`` tokens answers the rest (one member runs after routing);
- **merges** (:mod:`.merge`): one model, the cost of one member.

:func:`merge_lab` fine-tunes the draft model (same tokenizer and shape family as the default
model, small enough for a CPU lab) on stories and on Python prose, then scores every combination
on both tasks, so each method's "capability kept per task" is one row.
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ch16_enhancement.merge import METHODS, merge_states


def mixture_log_probs(
    logits: Sequence[torch.Tensor], weights: Sequence[float] | None = None
) -> torch.Tensor:
    """``log sum_i w_i softmax(logits_i)`` with weights normalised to one."""
    w = torch.tensor(list(weights) if weights is not None else [1.0] * len(logits))
    w = w / w.sum()
    stacked = torch.stack([F.log_softmax(z.float(), dim=-1) for z in logits])
    return torch.logsumexp(stacked + w.log().reshape(-1, *([1] * (stacked.dim() - 1))), dim=0)


@torch.no_grad()
def sequence_losses(model, rows: torch.Tensor) -> torch.Tensor:
    """Per-position next-token loss ``[n, seq - 1]`` of ``rows``."""
    logits = model(input_ids=rows).logits[:, :-1]
    return F.cross_entropy(
        logits.reshape(-1, logits.size(-1)), rows[:, 1:].reshape(-1), reduction="none"
    ).view(rows.size(0), -1)


@torch.no_grad()
def ensemble_loss(models, rows: torch.Tensor) -> float:
    """Mean token loss of the logit ensemble on ``rows``."""
    log_probs = mixture_log_probs([m(input_ids=rows).logits[:, :-1] for m in models])
    return float(F.nll_loss(log_probs.reshape(-1, log_probs.size(-1)), rows[:, 1:].reshape(-1)))


@torch.no_grad()
def routed_loss(models, rows: torch.Tensor, route_tokens: int = 16) -> float:
    """Mean loss after ``route_tokens`` of the member chosen per sequence by its prefix loss."""
    per = torch.stack([sequence_losses(m, rows) for m in models])  # [members, n, seq-1]
    choice = per[:, :, : route_tokens - 1].mean(-1).argmin(0)
    rest = per[:, :, route_tokens - 1 :]
    return float(rest[choice, torch.arange(rows.size(0))].mean())


@dataclass
class MergeLabConfig:
    """Sizes of the merging lab."""

    seq_len: int = 64
    steps: int = 60
    batch_size: int = 8
    lr: float = 5e-4
    eval_rows: int = 32
    density: float = 0.5
    seed: int = 0


def _fine_tune(model, windows: torch.Tensor, cfg: MergeLabConfig) -> None:
    rng = random.Random(cfg.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    model.train()
    for step in range(cfg.steps):
        for group in opt.param_groups:
            group["lr"] = cfg.lr * 0.5 * (1 + math.cos(math.pi * step / cfg.steps))
        batch = windows[[rng.randrange(len(windows)) for _ in range(cfg.batch_size)]]
        logits = model(input_ids=batch).logits[:, :-1]
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), batch[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    model.eval()


def merge_lab(cfg: MergeLabConfig, base=None, tokenizer=None) -> dict:
    """Fine-tune the base on two tasks, then score base, each fine-tune, every merge and the two
    ensembles on both tasks' held-out text (mean token loss; lower is better)."""
    from ch16_enhancement.continual import task_windows
    from llmpath_core import load_draft_model

    if base is None:
        base, tokenizer = load_draft_model()
    tasks = {"stories": "stories", "prose": "prose"}
    train = {
        t: task_windows(tokenizer, f"{s}:train", cfg.seq_len, 300_000) for t, s in tasks.items()
    }
    val = {
        t: task_windows(tokenizer, f"{s}:validation", cfg.seq_len, 100_000)[: cfg.eval_rows]
        for t, s in tasks.items()
    }
    tuned = {}
    for task in tasks:
        model = copy.deepcopy(base)
        torch.manual_seed(cfg.seed)
        _fine_tune(model, train[task], cfg)
        tuned[task] = model

    def score(model) -> dict:
        with torch.no_grad():
            return {t: float(sequence_losses(model, v).mean()) for t, v in val.items()}

    rows = [{"model": "base", **score(base)}]
    rows += [{"model": f"fine-tune:{t}", **score(m)} for t, m in tuned.items()]
    states = [{k: v.detach() for k, v in m.state_dict().items()} for m in tuned.values()]
    base_state = {k: v.detach() for k, v in base.state_dict().items()}
    for method in METHODS:
        if method == "slerp":
            merged = _slerp_two(base_state, states)
        else:
            merged = merge_states(
                states, method, base=base_state, density=cfg.density, seed=cfg.seed
            )
        model = copy.deepcopy(base)
        model.load_state_dict(merged)
        rows.append({"model": f"merge:{method}", **score(model)})
    members = list(tuned.values())
    rows.append(
        {"model": "ensemble:logits", **{t: ensemble_loss(members, v) for t, v in val.items()}}
    )
    rows.append(
        {"model": "ensemble:routing", **{t: routed_loss(members, v) for t, v in val.items()}}
    )
    best = {t: min(r[t] for r in rows[1:3]) for t in tasks}
    for r in rows:
        r["mean"] = sum(r[t] for t in tasks) / len(tasks)
        r["worst_gap_to_specialist"] = max(r[t] - best[t] for t in tasks)
    return {"rows": rows, "config": cfg.__dict__}


def _slerp_two(base_state, states):
    """SLERP of the two fine-tunes at t = 0.5 (the first as SLERP's base)."""
    return merge_states([states[1]], "slerp", base=states[0], t=0.5)


__all__ = [
    "MergeLabConfig",
    "ensemble_loss",
    "merge_lab",
    "mixture_log_probs",
    "routed_loss",
    "sequence_losses",
]
