"""Preference losses from scratch on (policy, reference) sequence log-probabilities.

Each function takes per-sequence summed log-probabilities (shape ``(batch,)``) and returns the
per-pair (or per-example) loss; take ``.mean()`` for the batch loss. The formulas follow trl 1.16
(``DPOTrainer``'s ``sigmoid``/``hinge``/``ipo`` branches, ``KTOTrainer``'s ``kto`` branch and
``ORPOTrainer.odds_ratio_loss``); the tests hold them to trl.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float = 0.1,
) -> torch.Tensor:
    """DPO (Rafailov et al. 2023): ``-log sigmoid(beta * (ratio_chosen - ratio_rejected))``."""
    delta = (policy_chosen - ref_chosen) - (policy_rejected - ref_rejected)
    return -F.logsigmoid(beta * delta)


def slic_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float = 0.1,
) -> torch.Tensor:
    """SLiC-HF hinge loss (Zhao et al. 2023) as in trl's ``hinge``: ``relu(1 - beta * delta)``."""
    delta = (policy_chosen - ref_chosen) - (policy_rejected - ref_rejected)
    return torch.relu(1 - beta * delta)


def ipo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float = 0.1,
    chosen_lengths: torch.Tensor | None = None,
    rejected_lengths: torch.Tensor | None = None,
) -> torch.Tensor:
    """IPO (Azar et al. 2023, Eq. 17): ``(delta - 1/(2 beta))^2``, ``beta`` playing the role of tau.

    With completion lengths the log-ratios are averaged per token first (trl's normalisation, which
    the IPO authors confirmed corresponds to the paper's results); without, they are sums.
    """
    chosen = policy_chosen - ref_chosen
    rejected = policy_rejected - ref_rejected
    if chosen_lengths is not None:
        chosen = chosen / chosen_lengths.clamp(min=1)
    if rejected_lengths is not None:
        rejected = rejected / rejected_lengths.clamp(min=1)
    return (chosen - rejected - 1 / (2 * beta)) ** 2


def kto_loss(
    policy_desirable: torch.Tensor,
    ref_desirable: torch.Tensor,
    policy_undesirable: torch.Tensor,
    ref_undesirable: torch.Tensor,
    kl: torch.Tensor | float,
    beta: float = 0.1,
    desirable_weight: float = 1.0,
    undesirable_weight: float = 1.0,
) -> torch.Tensor:
    """KTO (Ethayarajh et al. 2024) on unpaired examples.

    ``kl`` is the (detached, clamped at 0) reference point: the batch estimate of KL(pi || pi_ref)
    from mismatched prompt/completion pairs. Returns the desirable losses followed by the
    undesirable ones, weighted: ``1 - sigmoid(beta (r - kl))`` and ``1 - sigmoid(beta (kl - r))``.
    """
    kl = torch.as_tensor(kl, dtype=policy_desirable.dtype).clamp(min=0)
    chosen = 1 - torch.sigmoid(beta * ((policy_desirable - ref_desirable) - kl))
    rejected = 1 - torch.sigmoid(beta * (kl - (policy_undesirable - ref_undesirable)))
    return torch.cat([desirable_weight * chosen, undesirable_weight * rejected])


def orpo_odds_ratio_loss(
    policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, beta: float = 0.1
) -> torch.Tensor:
    """ORPO's odds-ratio term (Hong et al. 2024): ``-beta log sigmoid(log odds_w - log odds_l)``.

    ``odds(y) = p / (1 - p)`` with ``p = exp(logp)``; no reference model. The full ORPO loss is the
    chosen NLL plus this term (ORPO's ``lambda`` is ``beta`` here, as in trl).
    """
    chosen = policy_chosen.float()
    rejected = policy_rejected.float()
    log_odds = (chosen - rejected) - (_log1mexp(chosen) - _log1mexp(rejected))
    return -beta * F.logsigmoid(log_odds)


def _log1mexp(x: torch.Tensor) -> torch.Tensor:
    """``log(1 - exp(x))`` for ``x < 0``, stable on both sides of ``-log 2`` (Maechler 2012)."""
    return torch.where(
        x > -0.6931471805599453, torch.log(-torch.expm1(x)), torch.log1p(-torch.exp(x))
    )


def bradley_terry_loss(
    chosen_rewards: torch.Tensor, rejected_rewards: torch.Tensor
) -> torch.Tensor:
    """Reward-model loss: ``-log sigmoid(r_chosen - r_rejected)`` per pair."""
    return -F.logsigmoid(chosen_rewards - rejected_rewards)


LOSSES = {"sigmoid": dpo_loss, "ipo": ipo_loss, "hinge": slic_loss}
