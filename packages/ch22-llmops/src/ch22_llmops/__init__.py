"""ch22-llmops: the model lifecycle on MLflow, CI/CD gates and rollback, monitoring and drift,
A/B testing with honest statistics, and cost control.

Modules (one idea each): :mod:`~ch22_llmops.lifecycle` (MLflow tracking and registry, aliases,
rollback), :mod:`~ch22_llmops.candidates` (challengers and their evaluation),
:mod:`~ch22_llmops.gate` (the non-inferiority gate), :mod:`~ch22_llmops.pipeline` (the whole
lifecycle, the CI gate runner), :mod:`~ch22_llmops.workflow` (GitHub Actions template,
actionlint), :mod:`~ch22_llmops.iac` (Terraform checked offline), :mod:`~ch22_llmops.monitoring`
(Prometheus, Grafana, alerts), :mod:`~ch22_llmops.drift` (KS, chi², PSI, JS, Wasserstein, MMD),
:mod:`~ch22_llmops.abtest` (z/Welch tests, power, mSPRT, rollouts), :mod:`~ch22_llmops.cost`
(ledger, budgets, cache, routing, fleet cost).
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "msprt": "abtest",
    "peeking_simulation": "abtest",
    "power_two_proportions": "abtest",
    "sample_size_two_proportions": "abtest",
    "two_proportion_ztest": "abtest",
    "welch_ttest": "abtest",
    "chi2_test": "drift",
    "drift_report": "drift",
    "ks_test": "drift",
    "mmd_test": "drift",
    "psi": "drift",
    "wasserstein": "drift",
    "GatePolicy": "gate",
    "decide": "gate",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    # imported on first use, so that `ch22-llmops --help` does not pay for scipy
    if name in _WHERE:
        return getattr(importlib.import_module(f"ch22_llmops.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'ch22_llmops' has no attribute {name!r}")
