"""Ours vs the anchors, side by side in one process: scipy (drift), statsmodels (A/B tests).

For each statistic: the largest absolute difference from the anchor over 20 seeded inputs and
the median time of ours and the anchor's call (ratio = anchor / ours; > 1 means ours is faster).
Then the optional-stopping simulation over 5 seeds (mean and standard error of the rejection
rates of the naive peeking z-test and of mSPRT under A/A).

Run: ``nice -n 10 uv run python packages/ch22-llmops/benchmarks/bench_vs_anchors.py``
(writes ``benchmarks/results/anchors.json``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
from scipy import stats
from scipy.spatial.distance import jensenshannon
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest
from statsmodels.stats.weightstats import ttest_ind

from ch22_llmops import abtest, drift
from llmpath_core import machine_info, measure, write_json

OUT = Path(__file__).parent / "results" / "anchors.json"


def _pairs(seed: int):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 1, 1000), rng.normal(0.1 * (seed % 4), 1.1, 800)


def _cats(seed: int):
    rng = np.random.default_rng(seed)
    p = [0.3, 0.2, 0.2, 0.2, 0.1]
    return rng.choice(list("abcde"), 1000), rng.choice(list("abcde"), 800, p=p)


def _chisquare_ref(ref, cur):
    keys = sorted(set(ref) | set(cur))
    obs = [np.sum(cur == k) for k in keys]
    exp = [np.sum(ref == k) * len(cur) / len(ref) for k in keys]
    return stats.chisquare(obs, exp)


CASES = {
    "ks_statistic": (
        lambda a, b: drift.ks_statistic(a, b),
        lambda a, b: stats.ks_2samp(a, b).statistic,
        _pairs,
    ),
    "wasserstein": (drift.wasserstein, stats.wasserstein_distance, _pairs),
    "jensen_shannon": (drift.js_distance, lambda a, b: jensenshannon(*drift.binned(a, b)), _pairs),
    "chi2_p_value": (
        lambda a, b: drift.chi2_test(a, b)["p_value"],
        lambda a, b: _chisquare_ref(a, b).pvalue,
        _cats,
    ),
    "welch_t": (
        lambda a, b: abtest.welch_ttest(a, b)["t"],
        lambda a, b: ttest_ind(a, b, usevar="unequal")[0],
        _pairs,
    ),
}


def ztest_case(seed: int):
    rng = np.random.default_rng(seed)
    n_c, n_t = rng.integers(500, 5000, 2)
    c, t = rng.binomial(n_c, 0.1), rng.binomial(n_t, 0.11)
    ours = abtest.two_proportion_ztest(c, n_c, t, n_t)
    z, _ = proportions_ztest([t, c], [n_t, n_c])
    lo, hi = confint_proportions_2indep(t, n_t, c, n_c, method="wald", compare="diff")
    ci_diff = max(abs(ours["ci"][0] - lo), abs(ours["ci"][1] - hi))
    return abs(ours["z"] - z), ci_diff, (c, n_c, t, n_t)


def main() -> None:
    rows = {}
    for name, (ours, anchor, data) in CASES.items():
        diffs = [abs(ours(*data(s)) - anchor(*data(s))) for s in range(20)]
        a, b = data(0)
        t_ours = measure(lambda a=a, b=b, f=ours: f(a, b), repeats=20)
        t_anchor = measure(lambda a=a, b=b, f=anchor: f(a, b), repeats=20)
        rows[name] = {
            "max_abs_diff": float(max(diffs)),
            "ours_ms": t_ours.median * 1e3,
            "anchor_ms": t_anchor.median * 1e3,
            "speedup": t_anchor.median / t_ours.median,
        }
    zs = [ztest_case(s) for s in range(20)]
    c, n_c, t, n_t = zs[0][2]
    t_ours = measure(lambda: abtest.two_proportion_ztest(c, n_c, t, n_t), repeats=50)
    t_anchor = measure(
        lambda: (
            proportions_ztest([t, c], [n_t, n_c]),
            confint_proportions_2indep(t, n_t, c, n_c, method="wald", compare="diff"),
        ),
        repeats=50,
    )
    rows["ztest_z_and_ci"] = {
        "max_abs_diff": float(max(max(z[0], z[1]) for z in zs)),
        "ours_ms": t_ours.median * 1e3,
        "anchor_ms": t_anchor.median * 1e3,
        "speedup": t_anchor.median / t_ours.median,
    }
    sims = [abtest.peeking_simulation(experiments=2000, peeks=20, seed=s) for s in range(5)]
    peeking = {}
    for key in ("naive_peeking_rate", "fixed_horizon_rate", "msprt_rate"):
        vals = np.array([s[key] for s in sims])
        peeking[key] = {"mean": float(vals.mean()), "stderr": float(vals.std(ddof=1) / np.sqrt(5))}
    result = {
        "date": dt.date.today().isoformat(),
        "machine": machine_info(),
        "parity": rows,
        "optional_stopping_aa_20_peeks_5_seeds": peeking,
    }
    write_json(OUT, result)
    for name, row in rows.items():
        print(
            f"{name:16s} max|diff| {row['max_abs_diff']:.2e}  ours {row['ours_ms']:.3f} ms"
            f"  anchor {row['anchor_ms']:.3f} ms  x{row['speedup']:.2f}"
        )
    print(peeking)


if __name__ == "__main__":
    main()
