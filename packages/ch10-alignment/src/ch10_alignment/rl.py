"""RL from a reward: GRPO, RLOO and PPO (GAE, clipped losses, adaptive KL) from scratch.

The math is in small functions (held to a direct reference computation and to trl's code in the
tests); ``train_rl`` runs any of the three on a causal LM against a reward function over texts
(the programmatic judge or the Bradley-Terry reward model).

Conventions follow trl 1.16 where trl has the algorithm: GRPO's group-normalised advantages
``(r - mean_g) / (std_g + 1e-4)`` and its per-token clipped loss with the ``k3`` KL estimate
``exp(ref - logp) - (ref - logp) - 1`` added per token (``loss_type="grpo"``: mean over each
completion's tokens, then over completions); RLOO's sequence-level KL penalty in the reward
(``r - beta * sum_t (logp_old - logp_ref)``), leave-one-out baseline and sequence-level clipped
ratio. PPO (trl 1.16 has no PPO trainer) follows Ziegler et al. 2019 / Ouyang et al. 2022: a
per-token reward ``-kl_coef * (logp_old - logp_ref)`` plus the score on the last token, GAE over
a value head, clipped policy and value losses, and the adaptive KL controller
``kl_coef *= 1 + clip(KL / target - 1, -0.2, 0.2) * n / horizon``.
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

RewardFn = Callable[[list[str], list[str]], list[float]]

# ---------------------------------------------------------------- advantages and losses


def group_advantages(rewards: torch.Tensor, group_size: int, scale: bool = True) -> torch.Tensor:
    """GRPO: each reward minus its group's mean, divided by the group's (unbiased) std + 1e-4.

    ``rewards`` is flat, groups contiguous (``group_size`` completions of one prompt in a row).
    """
    g = rewards.view(-1, group_size)
    adv = (g - g.mean(1, keepdim=True)).view(-1)
    if scale:
        std = g.std(1, keepdim=True).expand_as(g).reshape(-1)
        adv = adv / (std + 1e-4)
    return adv


def rloo_advantages(rewards: torch.Tensor, group_size: int) -> torch.Tensor:
    """RLOO: each reward minus the mean of the other ``group_size - 1`` rewards of its group."""
    g = rewards.view(-1, group_size)
    baseline = (g.sum(1, keepdim=True) - g) / (group_size - 1)
    return (g - baseline).view(-1)


def k3_kl(logps: torch.Tensor, ref_logps: torch.Tensor) -> torch.Tensor:
    """Per-token KL(pi || pi_ref) estimate ``exp(ref - logp) - (ref - logp) - 1`` (always >= 0)."""
    d = ref_logps - logps
    return torch.exp(d) - d - 1


def clipped_surrogate(
    log_ratio: torch.Tensor, advantages: torch.Tensor, eps: float = 0.2
) -> torch.Tensor:
    """PPO's clipped objective as a loss, elementwise: ``-min(rho A, clip(rho, 1 +- eps) A)``."""
    ratio = torch.exp(log_ratio)
    return -torch.min(ratio * advantages, torch.clamp(ratio, 1 - eps, 1 + eps) * advantages)


def grpo_loss(
    logps: torch.Tensor,
    old_logps: torch.Tensor,
    ref_logps: torch.Tensor | None,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    eps: float = 0.2,
    beta: float = 0.04,
) -> torch.Tensor:
    """GRPO on per-token log-probs ``(B, T)``: clipped surrogate + ``beta`` k3-KL per token,
    averaged over each completion's tokens, then over completions."""
    per_token = clipped_surrogate(logps - old_logps, advantages[:, None], eps)
    if beta != 0.0:
        per_token = per_token + beta * k3_kl(logps, ref_logps)
    return ((per_token * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).mean()


def rloo_rewards(
    rewards: torch.Tensor,
    old_logps: torch.Tensor,
    ref_logps: torch.Tensor,
    mask: torch.Tensor,
    beta: float,
) -> torch.Tensor:
    """RLOO's KL-penalised reward: ``r - beta * sum_t (logp_old - logp_ref)`` per completion."""
    return rewards - beta * ((old_logps - ref_logps) * mask).sum(-1)


def rloo_loss(
    logps: torch.Tensor,
    old_logps: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    eps: float = 0.2,
) -> torch.Tensor:
    """RLOO: the clipped objective on the *sequence* log-ratio, averaged over completions."""
    seq = ((logps - old_logps) * mask).sum(-1)
    return clipped_surrogate(seq, advantages, eps).mean()


def gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    mask: torch.Tensor,
    *,
    gamma: float = 1.0,
    lam: float = 0.95,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation (Schulman et al. 2016) over ``(B, T)`` token rewards.

    ``mask`` marks real tokens (a prefix of each row); the value after the last real token is 0.
    Returns ``(advantages, returns)`` with ``returns = advantages + values``; padded positions 0.
    """
    B, T = rewards.shape
    adv = torch.zeros_like(rewards)
    last = torch.zeros(B, dtype=rewards.dtype, device=rewards.device)
    for t in reversed(range(T)):
        next_v = values[:, t + 1] * mask[:, t + 1] if t + 1 < T else torch.zeros_like(last)
        delta = rewards[:, t] + gamma * next_v - values[:, t]
        last = (delta + gamma * lam * last) * mask[:, t]
        adv[:, t] = last
    return adv, (adv + values) * mask


def value_loss(
    values: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    mask: torch.Tensor,
    clip: float = 0.2,
) -> torch.Tensor:
    """PPO's clipped value loss ``0.5 max((v - R)^2, (clip(v, v_old +- c) - R)^2)``, masked mean."""
    clipped = old_values + torch.clamp(values - old_values, -clip, clip)
    loss = 0.5 * torch.max((values - returns) ** 2, (clipped - returns) ** 2)
    return (loss * mask).sum() / mask.sum().clamp(min=1.0)


def whiten(x: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True) -> torch.Tensor:
    """Normalise ``x`` to unit variance over the masked entries (and zero mean by default)."""
    n = mask.sum().clamp(min=1.0)
    mean = (x * mask).sum() / n
    var = (((x - mean) * mask) ** 2).sum() / n
    out = (x - mean) * torch.rsqrt(var + 1e-8)
    if not shift_mean:
        out = out + mean
    return out * mask


@dataclass
class AdaptiveKLController:
    """Ziegler et al. 2019's adaptive KL coefficient (the rule trl's PPO trainer used).

    ``update(kl, n)`` after a batch of ``n`` samples whose mean KL is ``kl``:
    ``e = clip(kl / target - 1, -0.2, 0.2)``; ``value *= 1 + e * n / horizon``.
    """

    value: float
    target: float
    horizon: float

    def update(self, current_kl: float, n_steps: int) -> float:
        """Apply one update; return the new coefficient."""
        error = min(max(current_kl / self.target - 1, -0.2), 0.2)
        self.value *= 1 + error * n_steps / self.horizon
        return self.value


# ---------------------------------------------------------------- rollouts


@dataclass
class Rollout:
    """Prompts (left-padded) and sampled completions (right-padded) as ids, with masks and text."""

    prompt_ids: torch.Tensor
    prompt_mask: torch.Tensor
    completion_ids: torch.Tensor
    completion_mask: torch.Tensor
    prompts: list[str]
    completions: list[str]


def rollout(
    model, tokenizer, prompts: list[str], *, group_size: int, max_new_tokens: int
) -> Rollout:
    """``group_size`` samples (temperature 1, no top-k) per prompt; completions stop after EOS."""
    flat = [p for p in prompts for _ in range(group_size)]
    tokenizer.padding_side = "left"
    enc = tokenizer(flat, return_tensors="pt", padding=True, add_special_tokens=False).to(
        model.device
    )
    model.eval()
    with torch.no_grad():
        gen = model.generate(
            **enc,
            do_sample=True,
            top_k=0,
            max_new_tokens=max_new_tokens,
            pad_token_id=tokenizer.eos_token_id,
        )
    comp = gen[:, enc["input_ids"].shape[1] :]
    is_eos = comp == tokenizer.eos_token_id
    # keep tokens up to and including the first EOS (as trl does)
    after = torch.cumsum(is_eos.int(), 1) - is_eos.int()
    cmask = (after == 0).long()
    texts = tokenizer.batch_decode(comp * cmask, skip_special_tokens=True)
    return Rollout(enc["input_ids"], enc["attention_mask"], comp, cmask, flat, texts)


def token_logps(
    model, ro: Rollout, *, values_head: torch.nn.Module | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Per-token log-probs and entropies ``(B, T)`` of the completion tokens; values with a head."""
    ids = torch.cat([ro.prompt_ids, ro.completion_ids], 1)
    attn = torch.cat([ro.prompt_mask, ro.completion_mask], 1)
    T = ro.completion_ids.shape[1]
    out = model(input_ids=ids, attention_mask=attn, output_hidden_states=values_head is not None)
    logits = out.logits[:, -T - 1 : -1].float()
    logp_all = torch.log_softmax(logits, -1)
    logps = logp_all.gather(-1, ro.completion_ids[..., None]).squeeze(-1)
    entropy = -(logp_all.exp() * logp_all).sum(-1)
    values = None
    if values_head is not None:
        values = values_head(out.hidden_states[-1][:, -T - 1 : -1].float()).squeeze(-1)
    return logps, entropy, values


# ---------------------------------------------------------------- the trainer


@dataclass
class RLResult:
    """The trained policy, the per-step metrics and (PPO) the value head."""

    policy: object
    steps: list[dict] = field(default_factory=list)
    value_head: torch.nn.Module | None = None


def train_rl(
    model,
    tokenizer,
    prompts: list[str],
    reward_fn: RewardFn,
    *,
    algo: str = "grpo",
    steps: int = 20,
    prompts_per_step: int = 8,
    group_size: int = 4,
    max_new_tokens: int = 24,
    beta: float = 0.04,
    lr: float = 1e-4,
    eps: float = 0.2,
    ppo_epochs: int = 2,
    kl_target: float | None = 6.0,
    kl_horizon: float = 200.0,
    gamma: float = 1.0,
    lam: float = 0.95,
    vf_coef: float = 0.1,
    seed: int = 0,
    judge_fn: RewardFn | None = None,
    on_step: Callable[[int, object], None] | None = None,
) -> RLResult:
    """GRPO, RLOO or PPO on ``prompts`` against ``reward_fn``; ``model`` is the frozen reference.

    ``beta`` is GRPO's KL weight, RLOO's KL penalty and PPO's initial KL coefficient (adapted
    towards ``kl_target`` nats per completion when ``kl_target`` is set). Per step: mean reward,
    KL(pi || pi_ref) per completion (mean of ``sum_t logp - logp_ref`` on the samples), entropy,
    loss; ``judge`` (mean of ``judge_fn``) when given, for the reward-hacking monitor.
    ``on_step(step, policy)`` runs after each step.
    """
    if algo not in ("grpo", "rloo", "ppo"):
        raise ValueError("algo must be grpo, rloo or ppo")
    if group_size < 2 and algo != "ppo":
        raise ValueError("GRPO and RLOO need group_size >= 2")
    torch.manual_seed(seed)
    rng = random.Random(seed)
    reference = model
    reference.eval()
    for p in reference.parameters():
        p.requires_grad_(False)
    policy = copy.deepcopy(model)
    for p in policy.parameters():
        p.requires_grad_(True)
    params = list(policy.parameters())
    head = None
    if algo == "ppo":
        head = torch.nn.Linear(policy.config.hidden_size, 1)
        torch.nn.init.zeros_(head.weight)
        torch.nn.init.zeros_(head.bias)
        params += list(head.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    kl_ctl = AdaptiveKLController(beta, kl_target, kl_horizon) if kl_target else None
    result = RLResult(policy, value_head=head)
    order: list[str] = []
    for step in range(steps):
        t0 = time.perf_counter()
        if len(order) < prompts_per_step:
            order += rng.sample(prompts, len(prompts))
        batch, order = order[:prompts_per_step], order[prompts_per_step:]
        ro = rollout(policy, tokenizer, batch, group_size=group_size, max_new_tokens=max_new_tokens)
        mask = ro.completion_mask.float()
        scores = torch.tensor(reward_fn(ro.prompts, ro.completions), dtype=torch.float32)
        with torch.no_grad():
            old_logps, _, old_values = token_logps(policy, ro, values_head=head)
            ref_logps, _, _ = token_logps(reference, ro)
        seq_kl = ((old_logps - ref_logps) * mask).sum(-1)
        policy.train()
        info: dict = {}
        if algo == "grpo":
            adv = group_advantages(scores, group_size)
            logps, ent, _ = token_logps(policy, ro)
            loss = grpo_loss(logps, old_logps, ref_logps, adv, mask, eps=eps, beta=beta)
            opt.zero_grad()
            loss.backward()
            opt.step()
        elif algo == "rloo":
            adv = rloo_advantages(
                rloo_rewards(scores, old_logps, ref_logps, mask, beta), group_size
            )
            logps, ent, _ = token_logps(policy, ro)
            loss = rloo_loss(logps, old_logps, adv, mask, eps=eps)
            opt.zero_grad()
            loss.backward()
            opt.step()
        else:
            coef = kl_ctl.value if kl_ctl else beta
            rewards = -coef * (old_logps - ref_logps) * mask
            last = (mask.sum(-1).long() - 1).clamp(min=0)
            rewards[torch.arange(len(last)), last] += scores
            adv, returns = gae(rewards, old_values, mask, gamma=gamma, lam=lam)
            adv = whiten(adv, mask)
            for _ in range(ppo_epochs):
                logps, ent, values = token_logps(policy, ro, values_head=head)
                pg = clipped_surrogate(logps - old_logps, adv, eps)
                pg = (pg * mask).sum() / mask.sum().clamp(min=1.0)
                vl = value_loss(values, old_values, returns, mask)
                loss = pg + vf_coef * vl
                opt.zero_grad()
                loss.backward()
                opt.step()
            info = {"kl_coef": coef, "value_loss": vl.item(), "policy_loss": pg.item()}
            if kl_ctl:
                kl_ctl.update(seq_kl.mean().item(), len(scores))
        policy.eval()
        row = {
            "step": step + 1,
            "loss": loss.item(),
            "reward": scores.mean().item(),
            "kl": seq_kl.mean().item(),
            "entropy": ((ent.detach() * mask).sum() / mask.sum().clamp(min=1.0)).item(),
            "seconds": time.perf_counter() - t0,
            **info,
        }
        if judge_fn is not None:
            row["judge"] = sum(judge_fn(ro.prompts, ro.completions)) / len(ro.completions)
        result.steps.append(row)
        if on_step is not None:
            on_step(step + 1, policy)
    return result


def hacking_flag(steps: list[dict], window: int = 5) -> dict:
    """Reward-hacking monitor: the trained reward rises while the held-out judge falls.

    Compares the mean of the first and last ``window`` steps of ``reward`` and ``judge``.
    """
    if len(steps) < 2 * window or "judge" not in steps[0]:
        return {"flag": False, "reward_change": math.nan, "judge_change": math.nan}

    def change(key: str) -> float:
        first = sum(s[key] for s in steps[:window]) / window
        last = sum(s[key] for s in steps[-window:]) / window
        return last - first

    r, j = change("reward"), change("judge")
    return {"flag": bool(r > 0 and j < 0), "reward_change": r, "judge_change": j}
