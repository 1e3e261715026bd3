"""Cohen's kappa equals sklearn's; Krippendorff's alpha equals the krippendorff package's."""

from __future__ import annotations

import numpy as np
import pytest

from ch11_evaluation.agreement import cohen_kappa, krippendorff_alpha, percent_agreement


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_cohen_kappa_matches_sklearn(weights):
    from sklearn.metrics import cohen_kappa_score

    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, 200)
    b = np.where(rng.random(200) < 0.6, a, rng.integers(0, 4, 200))
    ours = cohen_kappa(a.tolist(), b.tolist(), weights)
    assert ours == pytest.approx(cohen_kappa_score(a, b, weights=weights), abs=1e-12)


def test_kappa_corrects_for_chance():
    a = ["A"] * 18 + ["B"] * 2
    b = ["A"] * 17 + ["B"] + ["A"] * 2
    assert percent_agreement(a, b) == 0.85
    assert cohen_kappa(a, b) < 0.0  # high raw agreement, below chance


def test_krippendorff_alpha_matches_the_package_with_missing_values():
    import krippendorff

    rng = np.random.default_rng(1)
    truth = rng.integers(0, 3, 60)
    ratings = []
    for _ in range(4):
        r = np.where(rng.random(60) < 0.7, truth, rng.integers(0, 3, 60)).astype(float)
        r[rng.random(60) < 0.2] = np.nan
        ratings.append(r)
    ours = krippendorff_alpha([[None if np.isnan(v) else int(v) for v in r] for r in ratings])
    theirs = krippendorff.alpha(reliability_data=np.array(ratings), level_of_measurement="nominal")
    assert ours == pytest.approx(theirs, abs=1e-12)
