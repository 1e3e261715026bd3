"""A/B statistics against statsmodels (stated tolerances) and simulations with binomial bounds."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_effectsize,
    proportions_ztest,
)
from statsmodels.stats.weightstats import ttest_ind

from ch22_llmops import abtest
from ch22_llmops.cli import app
from llmpath_core import UserError
from llmpath_core.bench import run_json
from llmpath_core.cli import run_app


@pytest.mark.parametrize("counts", [(100, 1000, 130, 1000), (45, 800, 40, 1200), (3, 50, 9, 60)])
def test_ztest_equals_statsmodels(counts):
    c, nc, t, nt = counts
    ours = abtest.two_proportion_ztest(c, nc, t, nt)
    z, p = proportions_ztest([t, c], [nt, nc])
    lo, hi = confint_proportions_2indep(t, nt, c, nc, method="wald", compare="diff")
    assert ours["z"] == pytest.approx(z, rel=1e-12)
    assert ours["p_value"] == pytest.approx(p, rel=1e-10)
    assert ours["ci"] == pytest.approx([lo, hi], rel=1e-12)
    assert ours["lift"] == pytest.approx((t / nt) / (c / nc) - 1, rel=1e-12)


def test_welch_equals_statsmodels_and_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(1.0, 1.0, 40), rng.normal(1.4, 2.5, 70)
    ours = abtest.welch_ttest(a, b)
    t, p, df = ttest_ind(a, b, usevar="unequal")
    assert ours["t"] == pytest.approx(t, rel=1e-12)
    assert ours["p_value"] == pytest.approx(p, rel=1e-10)
    assert ours["df"] == pytest.approx(df, rel=1e-12)
    assert ours["p_value"] == pytest.approx(
        stats.ttest_ind(a, b, equal_var=False).pvalue, rel=1e-10
    )


def test_power_and_sample_size_equal_statsmodels():
    h = proportion_effectsize(0.12, 0.10)
    for n in (500, 2000, 5000):
        assert abtest.power_two_proportions(0.10, 0.12, n) == pytest.approx(
            NormalIndPower().power(h, nobs1=n, alpha=0.05), rel=1e-10
        )
    n = abtest.sample_size_two_proportions(0.10, 0.12, power=0.8)
    assert n == pytest.approx(NormalIndPower().solve_power(h, alpha=0.05, power=0.8), rel=1e-6)


def test_aa_false_positive_rate_within_binomial_interval():
    aa = abtest.simulate_aa(experiments=4000, seed=1)
    assert aa["within"], aa["false_positive_rate"]
    # A/A p-values are uniform: KS against U(0,1) does not reject
    assert stats.kstest(aa["p_values"], "uniform").pvalue > 0.01


def test_empirical_power_matches_analytic():
    n = int(np.ceil(abtest.sample_size_two_proportions(0.10, 0.12, power=0.8)))
    rng = np.random.default_rng(0)
    runs = 2000
    c, t = rng.binomial(n, 0.10, runs), rng.binomial(n, 0.12, runs)
    rejected = sum(
        abtest.two_proportion_ztest(ci, n, ti, n)["significant"]
        for ci, ti in zip(c, t, strict=True)
    )
    lo, hi = stats.binom.interval(0.99, runs, abtest.power_two_proportions(0.10, 0.12, n))
    assert lo <= rejected <= hi


def test_sequential_test_keeps_error_under_optional_stopping():
    sim = abtest.peeking_simulation(experiments=2000, peeks=20, seed=0)
    lo, hi = sim["interval_99_at_alpha"]
    assert sim["naive_peeking_rate"] > hi  # peeking inflates the error (about 0.2)
    assert lo <= sim["fixed_horizon_rate"] <= hi  # one look at the end is fine
    assert sim["msprt_rate"] <= 0.05  # always valid
    alt = abtest.peeking_simulation(experiments=1000, peeks=20, effect=0.02, seed=0)
    assert alt["msprt_rate"] > 0.3  # and it still finds a real effect


def test_msprt_on_one_stream():
    rng = np.random.default_rng(0)
    n = 500 * np.arange(1, 21)
    c = np.cumsum(rng.binomial(500, 0.10, 20))
    t = np.cumsum(rng.binomial(500, 0.14, 20))
    res = abtest.msprt(c, t, n)
    assert res["reject"] and res["stopped_at"] < n[-1] and res["p_value"] < 0.05


def test_assignment_is_deterministic_and_balanced():
    arms = [abtest.assign(f"user-{i}", "exp1", (0.5, 0.5)) for i in range(4000)]
    assert arms == [abtest.assign(f"user-{i}", "exp1", (0.5, 0.5)) for i in range(4000)]
    counts = np.bincount(arms, minlength=2)
    assert abtest.srm_test(counts, (0.5, 0.5))["p_value"] > 0.001
    assert abtest.srm_test([2200, 1800], (0.5, 0.5))["p_value"] < 1e-8  # a broken split
    skew = np.bincount([abtest.assign(f"u{i}", "exp2", (0.9, 0.1)) for i in range(4000)])
    assert abtest.srm_test(skew, (0.9, 0.1))["p_value"] > 0.001


def test_gradual_rollout_stops_a_bad_variant():
    bad = abtest.gradual_rollout(0.01, 0.03, seed=0)
    assert not bad["completed"] and bad["stages"][-1]["action"] == "rollback"
    assert bad["stopped_at_share"] < 1.0
    good = abtest.gradual_rollout(0.01, 0.01, seed=0)
    assert good["completed"]


def test_abtest_cli_contract_and_bad_counts(capsys):
    out, _ = run_json(app, ["abtest", "--control", "100/1000", "--treatment", "130/1000"])
    assert {"z", "p_value", "lift", "ci"} <= set(out)
    z, p = proportions_ztest([130, 100], [1000, 1000])
    assert out["z"] == pytest.approx(z, rel=1e-12) and out["p_value"] == pytest.approx(p, rel=1e-10)
    with pytest.raises(SystemExit) as exc:
        run_app(app, ["abtest", "--control", "1200/1000", "--json"])
    assert exc.value.code == 2
    assert "more than N" in capsys.readouterr().err
    with pytest.raises(UserError):
        abtest.parse_counts("ten/100")
