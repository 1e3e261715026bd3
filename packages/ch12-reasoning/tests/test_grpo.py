"""GRPO: advantages and the clipped objective against direct loops and trl's GRPOTrainer loss."""

from __future__ import annotations

import types
from collections import defaultdict

import pytest
import torch

from ch12_reasoning.grpo import group_advantages, grpo_loss


def _fixed(seed: int = 0, b: int = 6, t: int = 5):
    g = torch.Generator().manual_seed(seed)
    logps = -torch.rand(b, t, generator=g) * 3
    old = logps + 0.4 * torch.randn(b, t, generator=g)  # ratios well outside [0.8, 1.2]
    ref = logps + 0.3 * torch.randn(b, t, generator=g)
    mask = torch.ones(b, t)
    mask[0, 3:] = 0
    mask[4, 1:] = 0
    return logps, old, ref, mask


def test_group_advantages_match_a_direct_loop():
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0])
    got = group_advantages(rewards, 4)
    for g in range(3):
        grp = rewards[4 * g : 4 * g + 4].tolist()
        mean = sum(grp) / 4
        std = (sum((r - mean) ** 2 for r in grp) / 3) ** 0.5  # unbiased, as torch.std
        for i, r in enumerate(grp):
            assert got[4 * g + i].item() == pytest.approx((r - mean) / (std + 1e-4), abs=1e-6)
    # a group where every answer agrees carries no signal
    assert torch.all(group_advantages(torch.ones(4), 4) == 0)


@pytest.mark.parametrize("beta", [0.0, 0.05])
def test_clipped_objective_matches_a_direct_loop(beta):
    logps, old, ref, mask = _fixed()
    adv = torch.tensor([1.2, -0.7, 0.3, -1.5, 0.9, -0.2])
    got = grpo_loss(logps, old, adv, mask, ref_logps=ref, beta=beta, eps_low=0.2, eps_high=0.28)
    import math

    seq_losses = []
    for i in range(logps.shape[0]):
        terms = []
        for j in range(logps.shape[1]):
            if mask[i, j] == 0:
                continue
            ratio = math.exp(logps[i, j] - old[i, j])
            clipped = min(max(ratio, 0.8), 1.28)
            term = -min(ratio * adv[i], clipped * adv[i])
            d = float(ref[i, j] - logps[i, j])
            term += beta * (math.exp(d) - d - 1)
            terms.append(float(term))
        seq_losses.append(sum(terms) / len(terms))
    assert got.item() == pytest.approx(sum(seq_losses) / len(seq_losses), abs=1e-6)


def _trl_self(beta: float, eps_low: float, eps_high: float, per_token_logps: torch.Tensor):
    """The attributes trl's ``GRPOTrainer._compute_loss`` reads, with its model call replaced
    by the fixed log-probs (so the loss arithmetic is trl's own code, unchanged)."""
    identity = types.SimpleNamespace(
        gather=lambda x: x,
        gather_for_metrics=lambda x: x,
        reduce=lambda x, reduction="sum": x,
        num_processes=1,
        sync_gradients=True,
    )
    return types.SimpleNamespace(
        _get_per_token_logps_and_entropies=lambda *a, **k: (
            per_token_logps,
            torch.zeros_like(per_token_logps),
            None,
        ),
        top_entropy_quantile=1.0,
        off_policy_mask_threshold=None,
        importance_sampling_level="token",
        beta=beta,
        args=types.SimpleNamespace(use_bias_correction_kl=False, delta=None),
        loss_type="grpo",
        epsilon_low=eps_low,
        epsilon_high=eps_high,
        use_vllm=False,
        vllm_importance_sampling_correction=False,
        model=types.SimpleNamespace(training=False),
        current_gradient_accumulation_steps=1,
        _entropy_bonus_enabled=False,
        aux_loss_enabled=False,
        accelerator=identity,
        _metrics={"train": defaultdict(list), "eval": defaultdict(list)},
    )


@pytest.mark.parametrize("beta", [0.0, 0.04])
def test_loss_equals_trl_grpo_trainer_loss_on_fixed_logprobs(beta):
    """trl's ``GRPOTrainer._compute_loss`` (loss_type="grpo", token-level ratios) on the same
    fixed log-probabilities, advantages and mask; tolerance 1e-6 (float32)."""
    from trl import GRPOTrainer

    logps, old, ref, mask = _fixed(seed=3)
    adv = group_advantages(torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 0.0]), 3)
    inputs = {
        "prompt_ids": torch.zeros(6, 2, dtype=torch.long),
        "prompt_mask": torch.ones(6, 2, dtype=torch.long),
        "completion_ids": torch.zeros(6, 5, dtype=torch.long),
        "completion_mask": mask.long(),
        "advantages": adv,
        "old_per_token_logps": old,
        "ref_per_token_logps": ref,
    }
    trl_loss = GRPOTrainer._compute_loss(_trl_self(beta, 0.2, 0.28, logps), None, inputs)
    ours = grpo_loss(logps, old, adv, mask, ref_logps=ref, beta=beta, eps_low=0.2, eps_high=0.28)
    assert ours.item() == pytest.approx(trl_loss.item(), abs=1e-6)
    # the fixture really exercises clipping: without it the loss differs
    unclipped = grpo_loss(
        logps, old, adv, mask, ref_logps=ref, beta=beta, eps_low=10.0, eps_high=10.0
    )
    assert abs(unclipped.item() - trl_loss.item()) > 1e-3


def test_trl_group_std_is_the_unbiased_std_we_use():
    from trl.trainer.utils import nanstd

    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0])
    ours = group_advantages(rewards, 4)
    grouped = rewards.view(-1, 4)
    theirs = (grouped - grouped.mean(1, keepdim=True)) / (
        nanstd(grouped, dim=1).unsqueeze(1) + 1e-4
    )
    assert torch.allclose(ours, theirs.reshape(-1), atol=1e-6)
