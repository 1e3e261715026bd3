"""Our preference losses against trl 1.16 on fixed log-probabilities (tolerance 1e-6).

trl 1.16 computes the DPO (sigmoid / hinge / ipo) and KTO losses inline inside
``DPOTrainer._compute_loss`` / ``KTOTrainer._compute_loss`` (they need a model forward and an
accelerator), so they cannot be called standalone: those are held to ``_trl_*`` below, line-for-line
transcriptions of trl's branches (``test_trl_source_still_has`` checks they are in trl's source).
ORPO's ``ORPOTrainer.odds_ratio_loss`` is called directly.
"""

from __future__ import annotations

import inspect
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from ch10_alignment.losses import (
    bradley_terry_loss,
    dpo_loss,
    ipo_loss,
    kto_loss,
    orpo_odds_ratio_loss,
    slic_loss,
)

TOL = 1e-6


@pytest.fixture
def logps():
    g = torch.Generator().manual_seed(0)
    pc, pr, rc, rr = (
        -(torch.rand(16, generator=g, dtype=torch.float64) * 40 + 1) for _ in range(4)
    )
    lengths = torch.randint(1, 30, (2, 16), generator=g).to(torch.float64)
    return pc, pr, rc, rr, lengths[0], lengths[1]


def _trl_dpo_branch(loss_type, beta, pc, pr, rc, rr, chosen_mask_sum=None, rejected_mask_sum=None):
    # trl/trainer/dpo_trainer.py, DPOTrainer._compute_loss, f_divergence_type == "reverse_kl"
    chosen_scores = pc - rc
    rejected_scores = pr - rr
    delta_score = chosen_scores - rejected_scores
    if loss_type == "sigmoid":
        return -F.logsigmoid(beta * delta_score)
    if loss_type == "hinge":
        return torch.relu(1 - beta * delta_score)
    chosen_avg_score = chosen_scores / chosen_mask_sum.clamp(min=1.0)
    rejected_avg_score = rejected_scores / rejected_mask_sum.clamp(min=1.0)
    ipo_delta = chosen_avg_score - rejected_avg_score
    return (ipo_delta - 1 / (2 * beta)) ** 2


def test_trl_source_still_has():
    """The transcribed branches are the ones in the installed trl."""
    from trl.trainer.dpo_trainer import DPOTrainer
    from trl.trainer.kto_trainer import KTOTrainer

    dpo_src = inspect.getsource(DPOTrainer._compute_loss)
    for line in (
        "per_sequence_loss = -F.logsigmoid(self.beta * delta_score)",
        "per_sequence_loss = torch.relu(1 - self.beta * delta_score)",
        "per_sequence_loss = (ipo_delta - 1 / (2 * self.beta)) ** 2",
        "chosen_avg_score = chosen_scores / chosen_mask.sum(dim=1).clamp(min=1.0)",
    ):
        assert line in dpo_src
    kto_src = inspect.getsource(KTOTrainer._compute_loss)
    for line in (
        "chosen_losses = 1 - F.sigmoid(self.beta * (chosen_logratios - kl))",
        "rejected_losses = 1 - F.sigmoid(self.beta * (kl - rejected_logratios))",
        "(self.desirable_weight * chosen_losses, self.undesirable_weight * rejected_losses)",
    ):
        assert line in kto_src


@pytest.mark.parametrize("beta", [0.05, 0.1, 0.5])
def test_dpo_and_slic_equal_trl(logps, beta):
    pc, pr, rc, rr, _, _ = logps
    ours = dpo_loss(pc, pr, rc, rr, beta)
    assert torch.allclose(ours, _trl_dpo_branch("sigmoid", beta, pc, pr, rc, rr), atol=TOL, rtol=0)
    ours = slic_loss(pc, pr, rc, rr, beta)
    assert torch.allclose(ours, _trl_dpo_branch("hinge", beta, pc, pr, rc, rr), atol=TOL, rtol=0)


@pytest.mark.parametrize("beta", [0.05, 0.1, 0.5])
def test_ipo_equals_trl(logps, beta):
    pc, pr, rc, rr, lc, lr = logps
    ours = ipo_loss(pc, pr, rc, rr, beta, lc, lr)
    assert torch.allclose(
        ours, _trl_dpo_branch("ipo", beta, pc, pr, rc, rr, lc, lr), atol=TOL, rtol=0
    )


def test_kto_equals_trl(logps):
    pc, pr, rc, rr, _, _ = logps
    beta, kl = 0.1, torch.tensor(0.37, dtype=torch.float64)
    ours = kto_loss(pc, rc, pr, rr, kl, beta, desirable_weight=1.0, undesirable_weight=1.33)
    chosen = 1 - F.sigmoid(beta * ((pc - rc) - kl))
    rejected = 1 - F.sigmoid(beta * (kl - (pr - rr)))
    ref = torch.cat((1.0 * chosen, 1.33 * rejected), 0)
    assert torch.allclose(ours, ref, atol=TOL, rtol=0)
    # the KL reference point is clamped at zero, as trl does after gathering
    assert torch.allclose(kto_loss(pc, rc, pr, rr, -1.0, beta), kto_loss(pc, rc, pr, rr, 0.0, beta))


@pytest.mark.parametrize("beta", [0.1, 1.0])
def test_orpo_equals_trl_odds_ratio_loss(beta):
    from trl.experimental.orpo.orpo_trainer import ORPOTrainer

    g = torch.Generator().manual_seed(1)
    # per-token-averaged log-probs as ORPO uses them, both sides of -log 2 to hit both branches
    pc = -(torch.rand(32, generator=g) * 3 + 0.01)
    pr = -(torch.rand(32, generator=g) * 3 + 0.01)
    fake = SimpleNamespace(beta=beta, accelerator=SimpleNamespace(device="cpu"))
    losses, *_ = ORPOTrainer.odds_ratio_loss(fake, pc, pr)
    # trl returns beta * log sigmoid(log odds) and subtracts its mean from the NLL
    assert torch.allclose(orpo_odds_ratio_loss(pc, pr, beta), -losses, atol=TOL, rtol=0)


def test_losses_push_the_right_way(logps):
    """Effect: raising the chosen log-ratio lowers every pairwise loss (a sign error would not)."""
    pc, pr, rc, rr, _, _ = logps
    for fn in (dpo_loss, slic_loss):
        assert fn(pc + 5, pr, rc, rr, 0.1).mean() < fn(pc, pr, rc, rr, 0.1).mean()
    avg_c, avg_r = pc / 40 - 0.05, pr / 40 - 0.05
    assert (
        orpo_odds_ratio_loss(avg_c + 0.04, avg_r).mean() < orpo_odds_ratio_loss(avg_c, avg_r).mean()
    )
    assert bradley_terry_loss(torch.tensor([2.0]), torch.tensor([0.0])) < bradley_terry_loss(
        torch.tensor([0.0]), torch.tensor([2.0])
    )
    # IPO is minimal at delta = 1/(2 beta), not at infinity
    d = torch.tensor([1 / (2 * 0.1)], dtype=torch.float64)
    z = torch.zeros(1, dtype=torch.float64)
    assert ipo_loss(d, z, z, z, 0.1).item() == pytest.approx(0.0)


def test_bradley_terry_equals_trl_reward_trainer_compute_loss():
    """``RewardTrainer.compute_loss`` on a batch [chosen; rejected] of fixed rewards (1e-6)."""
    from collections import defaultdict

    from trl.trainer.reward_trainer import RewardTrainer

    g = torch.Generator().manual_seed(2)
    rewards = torch.randn(2 * 12, 1, generator=g)
    fake_model = SimpleNamespace(training=False)

    def forward(**_):
        return SimpleNamespace(logits=rewards)

    fake = SimpleNamespace(
        model=fake_model,
        args=SimpleNamespace(center_rewards_coefficient=None),
        accelerator=SimpleNamespace(gather_for_metrics=lambda x: x, gather=lambda x: x),
        _metrics={"train": defaultdict(list), "eval": defaultdict(list)},
        _total_train_tokens=0,
    )
    theirs = RewardTrainer.compute_loss(fake, forward, {"attention_mask": torch.ones(24, 3)})
    chosen, rejected = rewards.squeeze(-1).chunk(2)
    ours = bradley_terry_loss(chosen, rejected).mean()
    assert abs(ours.item() - theirs.item()) <= TOL
