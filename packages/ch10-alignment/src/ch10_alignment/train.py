"""Sequence log-probabilities, a Bradley-Terry reward model and DPO with a frozen reference."""

from __future__ import annotations

import copy
import math
import random
import time
from dataclasses import dataclass, field

import torch

from ch10_alignment.data import Pair, sample_continuations
from ch10_alignment.judge import KeywordJudge
from ch10_alignment.losses import LOSSES, bradley_terry_loss


def _batch(tokenizer, prompts: list[str], completions: list[str], device) -> tuple:
    """Right-padded ``prompt + completion`` ids, attention mask and a completion-token mask."""
    rows, masks = [], []
    for p, c in zip(prompts, completions, strict=True):
        pi = tokenizer(p, add_special_tokens=False)["input_ids"]
        ci = tokenizer(c, add_special_tokens=False)["input_ids"] or [tokenizer.eos_token_id]
        rows.append(pi + ci)
        masks.append([0] * len(pi) + [1] * len(ci))
    width = max(map(len, rows))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows], device=device)
    attn = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows], device=device)
    comp = torch.tensor([m + [0] * (width - len(m)) for m in masks], device=device)
    return ids, attn, comp


def sequence_logps(model, tokenizer, prompts: list[str], completions: list[str]) -> tuple:
    """Summed log p(completion | prompt) per row, and the completion lengths in tokens."""
    ids, attn, comp = _batch(tokenizer, prompts, completions, model.device)
    logits = model(input_ids=ids, attention_mask=attn).logits[:, :-1].float()
    logp = torch.log_softmax(logits, -1).gather(-1, ids[:, 1:, None]).squeeze(-1)
    mask = comp[:, 1:].to(logp.dtype)
    return (logp * mask).sum(1), mask.sum(1)


# ---------------------------------------------------------------- reward model


@dataclass
class RewardModel:
    """A linear Bradley-Terry head on the frozen backbone's mean-pooled completion hidden states."""

    model: object
    tokenizer: object
    head: torch.nn.Linear

    def features(self, prompts: list[str], completions: list[str], batch: int = 64) -> torch.Tensor:
        """Mean last-layer hidden state over each completion's tokens."""
        out = []
        with torch.no_grad():
            for s in range(0, len(prompts), batch):
                ids, attn, comp = _batch(
                    self.tokenizer,
                    prompts[s : s + batch],
                    completions[s : s + batch],
                    self.model.device,
                )
                h = self.model(input_ids=ids, attention_mask=attn, output_hidden_states=True)
                last = h.hidden_states[-1].float()
                m = comp[..., None].float()
                out.append((last * m).sum(1) / m.sum(1).clamp(min=1))
        return torch.cat(out) if out else torch.zeros(0, self.head.in_features)

    def score(self, prompts: list[str], completions: list[str]) -> torch.Tensor:
        """Scalar reward per (prompt, completion)."""
        with torch.no_grad():
            return self.head(self.features(prompts, completions)).squeeze(-1)


def train_reward_model(
    model,
    tokenizer,
    train: list[Pair],
    heldout: list[Pair],
    *,
    epochs: int = 300,
    lr: float = 1e-2,
    weight_decay: float = 1e-3,
    seed: int = 0,
) -> tuple[RewardModel, dict]:
    """Fit the head with the Bradley-Terry loss (full batch, AdamW); report pairwise accuracies."""
    torch.manual_seed(seed)
    model.eval()
    rm = RewardModel(model, tokenizer, torch.nn.Linear(model.config.hidden_size, 1))

    def feats(pairs: list[Pair]) -> tuple[torch.Tensor, torch.Tensor]:
        prompts = [p.prompt for p in pairs]
        return (
            rm.features(prompts, [p.chosen for p in pairs]),
            rm.features(prompts, [p.rejected for p in pairs]),
        )

    fc, fr = feats(train)
    mu, sd = torch.cat([fc, fr]).mean(0), torch.cat([fc, fr]).std(0).clamp(min=1e-6)
    opt = torch.optim.AdamW(rm.head.parameters(), lr=lr, weight_decay=weight_decay)
    losses = []
    for _ in range(epochs):
        loss = bradley_terry_loss(rm.head((fc - mu) / sd), rm.head((fr - mu) / sd)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    # fold the standardisation into the head so ``score`` works on raw features
    with torch.no_grad():
        w = rm.head.weight / sd
        rm.head.bias -= (w * mu).sum()
        rm.head.weight.copy_(w)

    def accuracy(pairs: list[Pair]) -> float:
        if not pairs:
            return float("nan")
        c, r = feats(pairs)
        with torch.no_grad():
            return float((rm.head(c) > rm.head(r)).float().mean())

    return rm, {
        "train_pairs": len(train),
        "heldout_pairs": len(heldout),
        "train_accuracy": accuracy(train),
        "heldout_accuracy": accuracy(heldout),
        "final_loss": losses[-1],
    }


# ---------------------------------------------------------------- DPO


def make_optimizer(params, name: str, lr: float) -> torch.optim.Optimizer:
    """``adamw`` (torch's defaults, no weight decay) or ``sgd`` (no momentum)."""
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    raise ValueError("optimizer must be adamw or sgd")


@dataclass
class DPOResult:
    """The trained policy and the per-step metrics."""

    policy: object
    steps: list[dict] = field(default_factory=list)


def train_dpo(
    model,
    tokenizer,
    pairs: list[Pair],
    *,
    beta: float = 0.1,
    loss_type: str = "sigmoid",
    max_steps: int = 20,
    batch_size: int = 8,
    lr: float = 3e-4,
    seed: int = 0,
    optimizer: str = "adamw",
    on_step=None,
) -> DPOResult:
    """DPO (or IPO / SLiC by ``loss_type``) on ``pairs``; ``model`` is the frozen reference.

    Per step: loss, mean reward margin ``beta * (delta log-ratio)``, reward accuracy (margin > 0),
    wall seconds. ``optimizer``: ``adamw`` (no weight decay) or plain ``sgd``. ``on_step(step,
    policy)`` is called after each step (e.g. to evaluate checkpoints for the frontier).
    """
    if loss_type not in LOSSES:
        raise ValueError(f"loss_type must be one of {sorted(LOSSES)}")
    torch.manual_seed(seed)
    rng = random.Random(seed)
    reference = model
    reference.eval()
    for p in reference.parameters():
        p.requires_grad_(False)
    policy = copy.deepcopy(model)
    for p in policy.parameters():
        p.requires_grad_(True)
    policy.train()
    opt = make_optimizer(policy.parameters(), optimizer, lr)
    order: list[int] = []
    result = DPOResult(policy)
    for step in range(max_steps):
        t0 = time.perf_counter()
        if len(order) < batch_size:
            order += rng.sample(range(len(pairs)), len(pairs))
        idx, order = order[:batch_size], order[batch_size:]
        batch = [pairs[i] for i in idx]
        prompts = [b.prompt for b in batch] * 2
        completions = [b.chosen for b in batch] + [b.rejected for b in batch]
        logps, lengths = sequence_logps(policy, tokenizer, prompts, completions)
        with torch.no_grad():
            ref_logps, _ = sequence_logps(reference, tokenizer, prompts, completions)
        pc, pr = logps.chunk(2)
        rc, rr = ref_logps.chunk(2)
        if loss_type == "ipo":
            lc, lr_ = lengths.chunk(2)
            loss = LOSSES["ipo"](pc, pr, rc, rr, beta, lc, lr_).mean()
        else:
            loss = LOSSES[loss_type](pc, pr, rc, rr, beta).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        margin = beta * ((pc - rc) - (pr - rr)).detach()
        result.steps.append(
            {
                "step": step + 1,
                "loss": loss.item(),
                "reward_margin": margin.mean().item(),
                "reward_accuracy": (margin > 0).float().mean().item(),
                "seconds": time.perf_counter() - t0,
            }
        )
        if on_step is not None:
            on_step(step + 1, policy)
            policy.train()
    policy.eval()
    return result


def evaluate_policy(
    policy,
    reference,
    tokenizer,
    prompts: list[str],
    judge: KeywordJudge,
    *,
    n: int = 2,
    max_new_tokens: int = 24,
    seed: int = 1234,
) -> dict:
    """Win rate of ``policy`` over ``reference`` by ``judge`` on ``prompts`` and KL(policy || ref).

    Each prompt gets ``n`` samples from each model (same sampling seed); a win counts 1, a tie 0.5.
    KL is the Monte Carlo estimate ``E_{y~policy}[log pi(y|x) - log pi_ref(y|x)]`` per completion
    (nats, summed over its tokens), on the policy's samples.
    """
    ours = sample_continuations(
        policy, tokenizer, prompts, n=n, max_new_tokens=max_new_tokens, seed=seed
    )
    base = sample_continuations(
        reference, tokenizer, prompts, n=n, max_new_tokens=max_new_tokens, seed=seed
    )
    wins = [
        judge.prefer(a, b)
        for ao, bo in zip(ours, base, strict=True)
        for a, b in zip(ao, bo, strict=True)
    ]
    flat_p = [p for p, o in zip(prompts, ours, strict=True) for _ in o]
    flat_c = [c for o in ours for c in o]
    with torch.no_grad():
        lp, _ = sequence_logps(policy, tokenizer, flat_p, flat_c)
        lr, _ = sequence_logps(reference, tokenizer, flat_p, flat_c)
    kl = lp - lr
    win = sum(wins) / len(wins)
    pol_scores = torch.tensor([judge.score(c) for c in flat_c], dtype=torch.float64)
    return {
        "win_rate": win,
        "win_rate_stderr": math.sqrt(max(win * (1 - win), 1e-12) / len(wins)),
        "kl": kl.mean().item(),
        "kl_stderr": (kl.std() / math.sqrt(len(kl))).item() if len(kl) > 1 else float("nan"),
        "judge_score_policy": sum(judge.score(c) for c in flat_c) / len(flat_c),
        "judge_score_reference": sum(judge.score(c) for o in base for c in o) / len(flat_c),
        "judge_score_stderr": (pol_scores.std() / math.sqrt(len(pol_scores))).item()
        if len(pol_scores) > 1
        else float("nan"),
        "eval_comparisons": len(wins),
    }
