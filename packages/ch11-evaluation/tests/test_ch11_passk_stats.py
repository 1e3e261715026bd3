"""pass@k equals the Codex estimator; statistics agree with scipy and statsmodels."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from ch11_evaluation.codeexec import pass_at_k, pass_at_k_exact
from ch11_evaluation.stats import (
    adjust_pvalues,
    bootstrap_ci,
    clustered_stderr,
    mcnemar_exact,
    mean_stderr,
    paired_comparison,
    paired_t,
)


@pytest.mark.parametrize(
    ("n", "c", "k"),
    [(10, 3, 1), (10, 3, 5), (20, 0, 3), (7, 7, 2), (200, 13, 10), (200, 13, 100), (5, 2, 4)],
)
def test_pass_at_k_is_the_unbiased_estimator(n, c, k):
    assert pass_at_k(n, c, k) == pytest.approx(pass_at_k_exact(n, c, k), abs=1e-12)
    if n <= 10:  # the definition: over all k-subsets of the n samples, the share with a pass
        samples = [1] * c + [0] * (n - c)
        subsets = list(itertools.combinations(range(n), k))
        direct = np.mean([any(samples[i] for i in s) for s in subsets])
        assert pass_at_k(n, c, k) == pytest.approx(direct, abs=1e-12)
    assert pass_at_k(n, c, 1) == pytest.approx(c / n)


def test_pass_at_k_rejects_impossible_counts():
    with pytest.raises(ValueError):
        pass_at_k(5, 6, 1)


@pytest.fixture
def scores():
    rng = np.random.default_rng(0)
    skill = rng.normal(size=300)
    a = (skill + rng.normal(size=300) > 0).astype(float)
    b = (skill + 0.3 + rng.normal(size=300) > 0).astype(float)
    return a, b


def test_stderr_and_bootstrap_agree_with_scipy(scores):
    from scipy import stats

    a, _ = scores
    assert mean_stderr(a) == pytest.approx(stats.sem(a), rel=1e-12)
    ours = bootstrap_ci(a, n_resamples=4000, seed=1)
    theirs = stats.bootstrap(
        (a,), np.mean, n_resamples=4000, method="percentile", random_state=np.random.default_rng(2)
    )
    assert ours.low == pytest.approx(theirs.confidence_interval.low, abs=0.01)
    assert ours.high == pytest.approx(theirs.confidence_interval.high, abs=0.01)
    assert ours.stderr == pytest.approx(theirs.standard_error, rel=0.05)
    assert ours.stderr == pytest.approx(mean_stderr(a), rel=0.05)  # CLT and bootstrap agree


def test_paired_tests_agree_with_scipy_and_statsmodels(scores):
    from scipy import stats
    from statsmodels.stats.contingency_tables import mcnemar

    a, b = scores
    t, p = paired_t(a - b)
    ref = stats.ttest_rel(a, b)
    assert t == pytest.approx(ref.statistic, rel=1e-10)
    assert p == pytest.approx(ref.pvalue, rel=1e-8)
    table = [
        [np.sum((a == 1) & (b == 1)), np.sum((a == 1) & (b == 0))],
        [np.sum((a == 0) & (b == 1)), np.sum((a == 0) & (b == 0))],
    ]
    assert mcnemar_exact(a, b) == pytest.approx(mcnemar(table, exact=True).pvalue, rel=1e-10)
    cmp = paired_comparison(a, b)
    assert cmp.paired_stderr < cmp.unpaired_stderr  # correlated items: pairing pays
    assert cmp.p_permutation == pytest.approx(p, abs=0.02)


def test_clustered_stderr_matches_statsmodels():
    import statsmodels.api as sm

    rng = np.random.default_rng(3)
    clusters = np.repeat(np.arange(30), 8)  # 8 questions per passage
    x = (rng.normal(size=30)[clusters] + rng.normal(size=240) > 0).astype(float)
    fit = sm.OLS(x, np.ones_like(x)).fit(cov_type="cluster", cov_kwds={"groups": clusters})
    assert clustered_stderr(x, clusters) == pytest.approx(float(fit.bse[0]), rel=1e-10)
    assert clustered_stderr(x, clusters) > mean_stderr(x) * 1.3  # ignoring clusters understates


@pytest.mark.parametrize(
    ("ours", "theirs"), [("bonferroni", "bonferroni"), ("holm", "holm"), ("bh", "fdr_bh")]
)
def test_multiple_comparison_corrections_match_statsmodels(ours, theirs):
    from statsmodels.stats.multitest import multipletests

    p = [0.001, 0.04, 0.03, 0.2, 0.011, 0.5, 0.049]
    expected = multipletests(p, method=theirs)[1]
    assert adjust_pvalues(p, ours) == pytest.approx(list(expected), abs=1e-12)
    assert math.isclose(max(adjust_pvalues(p, "bonferroni")), 1.0)
