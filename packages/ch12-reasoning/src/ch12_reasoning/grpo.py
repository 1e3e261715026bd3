"""GRPO: reinforcement learning on a verifiable reward (the final answer is right or wrong).

Group Relative Policy Optimization (Shao et al. 2024, DeepSeekMath): sample ``G`` completions per
prompt, reward each (1 if the final answer is right), and use the group-normalised reward
``A_i = (r_i - mean(r)) / (std(r) + eps)`` as every token's advantage — no value network. The
loss is PPO's clipped surrogate per token,

    L = - mean_seq( mean_tok( min(rho * A, clip(rho, 1 - eps_lo, 1 + eps_hi) * A) - beta * KL ) )

with ``rho = exp(logp - logp_old)`` and the k3 KL estimator ``exp(ref - logp) - (ref - logp) - 1``
against a frozen reference. ``std`` is the unbiased sample std, as trl's ``GRPOTrainer`` uses
(``scale_rewards="group"``, ``loss_type="grpo"``); a test holds the two together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from transformers import LlamaForCausalLM

    from ch12_reasoning.policy import CharTokenizer


def group_advantages(rewards: torch.Tensor, group_size: int, eps: float = 1e-4) -> torch.Tensor:
    """``(r - group mean) / (group std + eps)`` for rewards laid out group after group."""
    grouped = rewards.view(-1, group_size)
    mean = grouped.mean(dim=1, keepdim=True)
    std = (
        grouped.std(dim=1, keepdim=True)
        if group_size > 1
        else grouped.new_zeros(grouped.size(0), 1)
    )
    return ((grouped - mean) / (std + eps)).reshape(-1)


def grpo_loss(
    logps: torch.Tensor,
    old_logps: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    ref_logps: torch.Tensor | None = None,
    beta: float = 0.0,
    eps_low: float = 0.2,
    eps_high: float = 0.2,
) -> torch.Tensor:
    """The clipped GRPO objective (to minimise) over ``(B, T)`` per-token log-probabilities."""
    import torch

    ratio = torch.exp(logps - old_logps)
    adv = advantages.unsqueeze(1)
    per_token = -torch.min(ratio * adv, torch.clamp(ratio, 1 - eps_low, 1 + eps_high) * adv)
    if beta != 0.0:
        assert ref_logps is not None, "beta > 0 needs reference log-probs"
        per_token = per_token + beta * (torch.exp(ref_logps - logps) - (ref_logps - logps) - 1)
    mask = mask.to(per_token.dtype)
    return ((per_token * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).mean()


def completion_logps(
    model: LlamaForCausalLM, tok: CharTokenizer, prompts: list[str], completions: list[str]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token log-probs of each completion (+ end token) given its prompt, and the mask."""
    import torch

    rows, starts = [], []
    for p, c in zip(prompts, completions, strict=True):
        pre = [tok.bos_id, *tok.encode(p)]
        rows.append(pre + tok.encode(c) + [tok.eos_id])
        starts.append(len(pre))
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), tok.pad_id)
    attn = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        attn[i, : len(r)] = 1
    logits = model(input_ids=ids, attention_mask=attn).logits[:, :-1].float()
    logp = torch.log_softmax(logits, -1).gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    mask = torch.zeros_like(logp)
    for i, (r, s) in enumerate(zip(rows, starts, strict=True)):
        mask[i, s - 1 : len(r) - 1] = 1
    return logp, mask


@dataclass
class GRPOConfig:
    """One GRPO run: ``steps`` updates of ``prompts`` problems × ``group`` samples each."""

    steps: int = 30
    prompts: int = 8
    group: int = 8
    lr: float = 3e-4
    beta: float = 0.0
    temperature: float = 1.0
    seed: int = 0


def grpo_train(
    model: LlamaForCausalLM, tok: CharTokenizer, problems: list, cfg: GRPOConfig
) -> list[dict[str, float]]:
    """Train ``model`` in place with GRPO on the final-answer reward; one row of stats per step.

    ``problems`` are :class:`~ch12_reasoning.problems.Arithmetic` items drawn in order (cycling).
    One update per sampled batch, so the ratio is 1 at the update (on-policy, as trl with
    ``num_iterations=1``); the clip matters when several updates reuse a batch.
    """
    import torch

    from ch12_reasoning.problems import parse_answer
    from ch12_reasoning.sampling import Counter, sample

    torch.manual_seed(cfg.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    ref = None
    if cfg.beta:
        import copy

        ref = copy.deepcopy(model).eval()
    history, cursor = [], 0
    for step in range(cfg.steps):
        batch = [problems[(cursor + i) % len(problems)] for i in range(cfg.prompts)]
        cursor += cfg.prompts
        prompts = [p.prompt for p in batch for _ in range(cfg.group)]
        counter = Counter()
        model.eval()
        completions = sample(model, tok, prompts, temperature=cfg.temperature, counter=counter)
        rewards = torch.tensor(
            [
                float(parse_answer(c) == batch[i // cfg.group].answer)
                for i, c in enumerate(completions)
            ]
        )
        adv = group_advantages(rewards, cfg.group)
        model.train()
        logps, mask = completion_logps(model, tok, prompts, completions)
        ref_logps = None
        if ref is not None:
            with torch.no_grad():
                ref_logps, _ = completion_logps(ref, tok, prompts, completions)
        loss = grpo_loss(logps, logps.detach(), adv, mask, ref_logps=ref_logps, beta=cfg.beta)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        history.append(
            {
                "step": step,
                "reward": float(rewards.mean()),
                "loss": float(loss.detach()),
                "tokens": counter.tokens,
                "length": float(mask.sum(-1).mean()),
            }
        )
    model.eval()
    return history
