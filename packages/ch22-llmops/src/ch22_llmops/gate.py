"""The evaluation gate: promote a challenger only if it is not worse than the champion.

Both models are evaluated on the same held-out windows, so the gate uses the *paired*
difference of their losses (``llmpath_core.paired_difference``): the per-window difficulty
cancels and the error bar is several times tighter than the two separate ones.

A challenger passes when

1. its loss is at most ``max_loss`` (an absolute floor, if set), and
2. the upper end of the one-sided ``z``-sigma bound on ``loss_challenger - loss_champion`` is
   at most ``margin`` (relative to the champion's loss): a non-inferiority test. With
   ``margin = 0`` the challenger must be significantly better.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class GatePolicy:
    """Thresholds of the gate."""

    margin: float = 0.005  # allowed relative loss regression (non-inferiority margin)
    z: float = 2.0  # sigmas of the one-sided bound
    max_loss: float | None = None  # absolute ceiling on the held-out loss


@dataclass
class GateDecision:
    """What the gate decided and why."""

    passed: bool
    reason: str
    challenger_loss: float
    champion_loss: float | None
    loss_diff: float | None
    loss_diff_stderr: float | None
    upper_bound_rel: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def decide(
    challenger: dict[str, Any], champion: dict[str, Any] | None, policy: GatePolicy | None = None
) -> GateDecision:
    """Gate ``challenger`` (an ``evaluate_lm`` result) against ``champion`` (None: first model)."""
    from llmpath_core import paired_difference

    policy = policy or GatePolicy()
    loss = float(challenger["loss"])
    if policy.max_loss is not None and loss > policy.max_loss:
        return GateDecision(
            False,
            f"loss {loss:.4f} above the ceiling {policy.max_loss}",
            loss,
            None,
            None,
            None,
            None,
        )
    if champion is None:
        return GateDecision(True, "no champion yet", loss, None, None, None, None)
    diff = paired_difference(champion, challenger)
    upper = (diff["loss_diff"] + policy.z * diff["loss_diff_stderr"]) / champion["loss"]
    passed = upper <= policy.margin
    reason = (
        f"loss change {diff['loss_diff_rel']:+.2%} (upper bound {upper:+.2%}) "
        f"{'within' if passed else 'exceeds'} the {policy.margin:.2%} margin"
    )
    return GateDecision(
        passed,
        reason,
        loss,
        float(champion["loss"]),
        diff["loss_diff"],
        diff["loss_diff_stderr"],
        upper,
    )
