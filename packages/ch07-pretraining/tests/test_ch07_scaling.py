"""Scaling-law fit: recovers known constants; the experiment runs end to end on tiny models."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from ch07_pretraining.scaling import (
    JointFit,
    PowerLawFit,
    fit_joint,
    fit_power_law,
    scaling_experiment,
)
from llmpath_core import UserError


def test_fit_recovers_known_parameters():
    truth = PowerLawFit(E=1.5, A=2.0, alpha=0.4)
    n = np.array([1e4, 3e4, 1e5, 3e5, 1e6])
    fit = fit_power_law(n, truth.predict(n))
    assert pytest.approx(1.5, rel=1e-4) == fit.E
    assert pytest.approx(2.0, rel=1e-4) == fit.A
    assert fit.alpha == pytest.approx(0.4, rel=1e-4)
    assert float(fit.predict(1e7)) == pytest.approx(float(truth.predict(1e7)), rel=1e-4)
    with pytest.raises(UserError):
        fit_power_law([1e4, 1e5], [3.0, 2.0])


def test_joint_fit_recovers_known_parameters():
    truth = JointFit(E=1.2, A=1.5, alpha=0.35, B=2.5, beta=0.3)
    n, d = np.meshgrid([2e4, 5e4, 1e5, 3e5], [1e5, 3e5, 1e6, 3e6, 1e7])
    fit = fit_joint(n.ravel(), d.ravel(), truth.predict(n.ravel(), d.ravel()))
    for name in ("E", "A", "alpha", "B", "beta"):
        assert getattr(fit, name) == pytest.approx(getattr(truth, name), rel=1e-3), name
    with pytest.raises(UserError, match="two sizes"):
        fit_joint([1e5] * 5, [1e5, 2e5, 3e5, 4e5, 5e5], [3, 2.5, 2.2, 2.1, 2.0])


def test_scaling_experiment_end_to_end(tiny_config, tmp_path):
    config = tiny_config(max_steps=4, checkpoint_every=0, eval_every=2)
    result = scaling_experiment(config, [1, 2, 3, 4], tmp_path)
    params = [p["params"] for p in result["points"]]
    assert params == sorted(params) and len(set(params)) == 4
    assert result["held_out_depth"] == 4
    assert math.isfinite(result["predicted_loss"]) and result["relative_error"] >= 0
    # the token axis: two evaluations per run (steps 2 and 4), fitted jointly on three sizes
    assert [d for d, _ in result["points"][0]["curve"]] == [2 * 8 * 32, 4 * 8 * 32]
    assert math.isfinite(result["joint_predicted_loss"])


def test_scaling_lab_on_prepared_data_writes_both_plots(tiny_data, tmp_path):
    from ch07_pretraining.scaling import scaling_lab, summary_rows

    result = scaling_lab(tmp_path, [1, 2, 3, 4], steps=2, data=tiny_data)
    assert result["corpus"] == str(tiny_data) and result["held_out_depth"] == 4
    assert [p["depth"] for p in result["points"]] == [1, 2, 3, 4]
    assert not (tmp_path / "data").exists()  # the given data is used, nothing is prepared
    assert [Path(p).name for p in result["plots"]] == ["scaling.png", "scaling_tokens.png"]
    assert all(Path(p).stat().st_size > 1000 for p in result["plots"])
    rows = summary_rows(result)
    assert rows[-1] == {"what": "actual", "value": f"{result['actual_loss']:.4f}"}
