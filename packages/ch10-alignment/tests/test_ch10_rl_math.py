"""GRPO / RLOO / PPO math against direct reference computations and trl 1.16's code (1e-6)."""

from __future__ import annotations

import inspect
import math

import pytest
import torch

from ch10_alignment.rl import (
    AdaptiveKLController,
    clipped_surrogate,
    gae,
    group_advantages,
    grpo_loss,
    k3_kl,
    rloo_advantages,
    rloo_loss,
    rloo_rewards,
    value_loss,
    whiten,
)

TOL = 1e-6


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    B, T = 8, 6
    logps = -torch.rand(B, T, generator=g, dtype=torch.float64) * 3
    old = logps + (torch.rand(B, T, generator=g, dtype=torch.float64) - 0.5) * 0.8
    ref = logps + (torch.rand(B, T, generator=g, dtype=torch.float64) - 0.5) * 1.0
    lengths = torch.tensor([6, 3, 5, 1, 6, 2, 4, 6])
    mask = (torch.arange(T)[None] < lengths[:, None]).to(torch.float64)
    rewards = torch.randn(B, generator=g, dtype=torch.float64)
    return logps, old, ref, mask, rewards


def test_gae_equals_the_discounted_sum_of_td_errors(batch):
    """A_t = sum_l (gamma lam)^l delta_{t+l}, delta_t = r_t + gamma V_{t+1} - V_t, V_end = 0."""
    _, _, _, mask, _ = batch
    g = torch.Generator().manual_seed(1)
    r = torch.randn(mask.shape, generator=g, dtype=torch.float64) * mask
    v = torch.randn(mask.shape, generator=g, dtype=torch.float64) * mask
    for gamma, lam in [(1.0, 0.95), (0.9, 1.0), (0.99, 0.0)]:
        adv, ret = gae(r, v, mask, gamma=gamma, lam=lam)
        for i in range(mask.shape[0]):
            n = int(mask[i].sum())
            vals = [*v[i, :n].tolist(), 0.0]
            deltas = [r[i, t].item() + gamma * vals[t + 1] - vals[t] for t in range(n)]
            for t in range(n):
                want = sum((gamma * lam) ** k * deltas[t + k] for k in range(n - t))
                assert adv[i, t].item() == pytest.approx(want, abs=TOL)
                assert ret[i, t].item() == pytest.approx(want + vals[t], abs=TOL)
            assert adv[i, n:].abs().sum() == 0
    # lam = 1, gamma = 1: the advantage is the return-to-go minus the value
    adv, _ = gae(r, v, mask, gamma=1.0, lam=1.0)
    togo = torch.flip(torch.cumsum(torch.flip(r, [1]), 1), [1]) * mask
    assert torch.allclose(adv, (togo - v) * mask, atol=TOL)


def test_clipped_surrogate_equals_the_case_by_case_definition():
    eps = 0.2
    for lr in (-0.7, -0.1, 0.0, 0.1, 0.5):
        for a in (-1.5, 0.0, 2.0):
            rho = math.exp(lr)
            clipped = min(max(rho, 1 - eps), 1 + eps)
            want = -min(rho * a, clipped * a)
            got = clipped_surrogate(torch.tensor(lr, dtype=torch.float64), torch.tensor(a), eps)
            assert got.item() == pytest.approx(want, abs=TOL)
    # beyond the clip the gradient is zero in the direction that would help further
    lr = torch.tensor(0.5, requires_grad=True)
    clipped_surrogate(lr, torch.tensor(1.0), eps).backward()
    assert lr.grad.item() == 0.0


def test_value_loss_and_whiten(batch):
    _, _, _, mask, _ = batch
    g = torch.Generator().manual_seed(2)
    v, vo, R = (torch.randn(mask.shape, generator=g, dtype=torch.float64) for _ in range(3))
    want = 0.0
    for i, j in mask.nonzero().tolist():
        vi, oi, ri = v[i, j].item(), vo[i, j].item(), R[i, j].item()
        c = oi + max(min(vi - oi, 0.2), -0.2)
        want += 0.5 * max((vi - ri) ** 2, (c - ri) ** 2)
    assert value_loss(v, vo, R, mask).item() == pytest.approx(want / mask.sum().item(), abs=TOL)
    w = whiten(v, mask)
    sel = w[mask.bool()]
    assert sel.mean().item() == pytest.approx(0.0, abs=1e-9)
    assert (sel**2).mean().item() == pytest.approx(1.0, abs=1e-6)


def test_adaptive_kl_controller_follows_its_rule():
    """Ziegler et al. 2019: e = clip(KL/target - 1, -0.2, 0.2); beta <- beta (1 + e n / horizon)."""
    c = AdaptiveKLController(0.1, target=6.0, horizon=100.0)
    assert c.update(9.0, 10) == pytest.approx(0.1 * (1 + 0.2 * 0.1))  # 9/6-1 = .5 clipped to .2
    v = c.value
    assert c.update(5.4, 10) == pytest.approx(v * (1 - 0.1 * 0.1))  # 5.4/6-1 = -0.1
    v = c.value
    assert c.update(6.0, 10) == pytest.approx(v)  # on target: unchanged
    # driven by a KL that stays above target, the coefficient only grows; below, only shrinks
    up, down = AdaptiveKLController(0.1, 6, 50), AdaptiveKLController(0.1, 6, 50)
    for _ in range(20):
        up.update(20.0, 8)
        down.update(0.5, 8)
    assert up.value > 0.1 * 1.5 and down.value < 0.1 / 1.5


def test_k3_kl_is_nonnegative_and_unbiased():
    """E_{x~p}[k3] = KL(p || q) for the estimator exp(q - p) - (q - p) - 1 (Schulman 2020)."""
    p = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    q = torch.tensor([0.2, 0.2, 0.6], dtype=torch.float64)
    k3 = k3_kl(p.log(), q.log())
    assert (k3 >= 0).all()
    assert (p * k3).sum().item() == pytest.approx((p * (p / q).log()).sum().item(), abs=1e-12)


# ---------------------------------------------------------------- against trl's code


def _trl_grpo(rewards, num_generations, logps, old, ref, adv_in, mask, beta, eps):
    """trl/trainer/grpo_trainer.py, one reward function, scale_rewards="group", loss_type="grpo"."""
    from trl.trainer.utils import nanstd

    mean_grouped_rewards = torch.nanmean(rewards.view(-1, num_generations), dim=1)
    mean_grouped_rewards = mean_grouped_rewards.repeat_interleave(num_generations, dim=0)
    std_rewards = nanstd(rewards.view(-1, num_generations), dim=1)
    std_rewards = std_rewards.repeat_interleave(num_generations, dim=0)
    advantages = rewards - mean_grouped_rewards
    advantages = advantages / (std_rewards + 1e-4)
    # _compute_loss
    advantages_ = adv_in.unsqueeze(1)
    coef_1 = torch.exp(logps - old)
    per_token_kl = torch.exp(ref - logps) - (ref - logps) - 1
    coef_2 = torch.clamp(coef_1, 1 - eps, 1 + eps)
    per_token_loss = -torch.min(coef_1 * advantages_, coef_2 * advantages_)
    per_token_loss = per_token_loss + beta * per_token_kl
    loss = ((per_token_loss * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).mean()
    return advantages, loss


def _trl_rloo(rewards, num_generations, logps, old, ref, mask, beta, eps):
    """trl/trainer/rloo_trainer.py: KL in the reward, leave-one-out baseline, sequence ratio."""
    per_token_kl = old - ref
    kl = (per_token_kl * mask).sum(-1)
    rewards = rewards - beta * kl
    grouped_rewards = rewards.view(-1, num_generations)
    scorable_counts = (~torch.isnan(grouped_rewards)).sum(dim=1, keepdim=True)
    grouped_sum = torch.nansum(grouped_rewards, dim=1, keepdim=True)
    baselines = (grouped_sum - grouped_rewards) / (scorable_counts - 1)
    advantages = rewards - baselines.view(-1)
    logps_s = (logps * mask).sum(1)
    old_logps = (old * mask).sum(1)
    coef_1 = torch.exp(logps_s - old_logps)
    coef_2 = torch.clamp(coef_1, 1 - eps, 1 + eps)
    loss = (-torch.min(coef_1 * advantages, coef_2 * advantages)).mean()
    return advantages, loss


def test_trl_source_still_has_the_transcribed_lines():
    from trl.trainer.grpo_trainer import GRPOTrainer
    from trl.trainer.rloo_trainer import RLOOTrainer

    g = inspect.getsource(GRPOTrainer)
    for line in (
        "advantages = advantages / (std_rewards + 1e-4)",
        "torch.exp(ref_per_token_logps - per_token_logps)"
        " - (ref_per_token_logps - per_token_logps) - 1",
        "per_token_loss = -torch.min(per_token_loss1, per_token_loss2)",
        "loss = ((per_token_loss * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).mean()",
    ):
        assert line in g
    r = inspect.getsource(RLOOTrainer)
    for line in (
        "per_token_kl = old_per_token_logps - ref_per_token_logps",
        "rewards = rewards - self.beta * kl",
        "baselines = (grouped_sum - grouped_rewards) / (scorable_counts - 1)",
        "per_sequence_loss = -torch.min(per_sequence_loss1, per_sequence_loss2)",
    ):
        assert line in r


@pytest.mark.parametrize("beta", [0.0, 0.04, 0.3])
def test_grpo_advantages_and_loss_equal_trl(batch, beta):
    logps, old, ref, mask, rewards = batch
    adv = group_advantages(rewards, 4)
    trl_adv, trl_loss = _trl_grpo(rewards, 4, logps, old, ref, adv, mask, beta, 0.2)
    assert torch.allclose(adv, trl_adv, atol=TOL, rtol=0)
    ours = grpo_loss(logps, old, ref, adv, mask, eps=0.2, beta=beta)
    assert abs(ours.item() - trl_loss.item()) <= TOL
    # direct: a group's advantages sum to zero and have unit sample std (up to the 1e-4)
    g = adv.view(-1, 4)
    assert torch.allclose(g.sum(1), torch.zeros(2, dtype=g.dtype), atol=1e-9)
    assert torch.allclose(g.std(1), torch.ones(2, dtype=g.dtype), atol=1e-3)


@pytest.mark.parametrize("beta", [0.0, 0.05])
def test_rloo_advantages_and_loss_equal_trl(batch, beta):
    logps, old, ref, mask, rewards = batch
    adv = rloo_advantages(rloo_rewards(rewards, old, ref, mask, beta), 4)
    trl_adv, trl_loss = _trl_rloo(rewards, 4, logps, old, ref, mask, beta, 0.2)
    assert torch.allclose(adv, trl_adv, atol=TOL, rtol=0)
    assert abs(rloo_loss(logps, old, adv, mask, eps=0.2).item() - trl_loss.item()) <= TOL
    # direct: r_i - mean_{j != i} r_j
    r = rloo_rewards(rewards, old, ref, mask, beta).view(-1, 4)
    for gi in range(2):
        for i in range(4):
            others = [r[gi, j].item() for j in range(4) if j != i]
            assert adv.view(-1, 4)[gi, i].item() == pytest.approx(
                r[gi, i].item() - sum(others) / 3, abs=TOL
            )
