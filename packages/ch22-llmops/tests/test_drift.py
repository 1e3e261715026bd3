"""Drift statistics against scipy (stated tolerances) and a direct PSI computation."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from ch22_llmops import drift
from llmpath_core import UserError
from llmpath_core.bench import run_json


@pytest.mark.parametrize("shift", [0.0, 0.1, 0.5])
@pytest.mark.parametrize("seed", [0, 1])
def test_ks_equals_scipy(seed, shift):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(0, 1, 300), rng.normal(shift, 1, 250)
    ours = drift.ks_test(a, b)
    ref = stats.ks_2samp(a, b)
    assert ours["statistic"] == pytest.approx(ref.statistic, abs=1e-12)
    assert ours["p_value"] == pytest.approx(ref.pvalue, rel=1e-9)
    assert ours["drift"] == (ref.pvalue < 0.05)


def test_ks_statistic_with_ties_and_asymptotic_pvalue():
    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 5, 400), rng.integers(0, 6, 500)
    d = drift.ks_statistic(a, b)
    assert d == pytest.approx(stats.ks_2samp(a, b).statistic, abs=1e-12)
    # the Kolmogorov series written out equals scipy's limiting distribution (1e-10)
    x = np.sqrt(400 * 500 / 900) * d
    assert drift.kolmogorov_pvalue(d, 400, 500) == pytest.approx(stats.kstwobign.sf(x), abs=1e-10)


def test_chi2_equals_scipy_chisquare():
    rng = np.random.default_rng(0)
    ref = rng.choice(list("abcd"), 500, p=[0.4, 0.3, 0.2, 0.1])
    cur = rng.choice(list("abcd"), 300, p=[0.25, 0.25, 0.25, 0.25])
    ours = drift.chi2_test(ref, cur)
    keys = sorted(set(ref))
    f_obs = [np.sum(cur == k) for k in keys]
    f_exp = [np.sum(ref == k) * len(cur) / len(ref) for k in keys]
    ref_stat, ref_p = stats.chisquare(f_obs, f_exp)
    assert ours["statistic"] == pytest.approx(ref_stat, rel=1e-12)
    assert ours["p_value"] == pytest.approx(ref_p, rel=1e-9)
    assert ours["drift"] is True
    new = drift.chi2_test(["a", "b"] * 50, ["a", "b", "c"] * 30)
    assert new["statistic"] == float("inf") and new["p_value"] == 0.0 and new["drift"]


def test_psi_equals_direct_computation():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 2000), rng.normal(0.3, 1.2, 1500)
    edges = np.quantile(a, np.linspace(0, 1, 11))
    edges[0], edges[-1] = -np.inf, np.inf
    direct = 0.0
    for lo, hi in itertools.pairwise(edges):
        pa = max(np.mean((a >= lo) & (a < hi)) if hi != np.inf else np.mean(a >= lo), 1e-4)
        pb = max(np.mean((b >= lo) & (b < hi)) if hi != np.inf else np.mean(b >= lo), 1e-4)
        direct += (pb - pa) * np.log(pb / pa)
    assert drift.psi(a, b) == pytest.approx(direct, rel=1e-9)
    assert drift.psi(a, rng.normal(0, 1, 2000)) < 0.1 < drift.psi(a, b)


def test_js_and_wasserstein_equal_scipy():
    rng = np.random.default_rng(2)
    a, b = rng.exponential(1.0, 700), rng.exponential(1.3, 600)
    pa, pb = drift.binned(a, b)
    assert drift.js_distance(a, b) == pytest.approx(jensenshannon(pa, pb), abs=1e-12)
    assert drift.wasserstein(a, b) == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-10)


def test_embedding_drift_mmd_detects_a_shift_only():
    rng = np.random.default_rng(0)
    ref = rng.normal(0, 1, (60, 16))
    same = drift.mmd_test(ref, rng.normal(0, 1, (60, 16)), permutations=100)
    shifted = drift.mmd_test(ref, rng.normal(0.5, 1, (60, 16)), permutations=100)
    assert same["p_value"] > 0.05 and not same["drift"]
    assert shifted["p_value"] < 0.05 and shifted["drift"]
    assert drift.mean_embedding_distance(ref + 3, ref + 3) == pytest.approx(0, abs=1e-12)


def test_embedding_drift_with_the_default_model():
    from ch22_llmops.labs import embedding_drift

    result = embedding_drift(docs=24)
    assert not result["stories_vs_stories"]["drift"]
    assert result["stories_vs_prose"]["drift"] and result["stories_vs_prose"]["p_value"] < 0.05
    assert result["stories_vs_prose"]["cosine"] > 10 * result["stories_vs_stories"]["cosine"]


def _write_csv(path, columns):
    names = list(columns)
    rows = zip(*columns.values(), strict=True)
    path.write_text(",".join(names) + "\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n")
    return path


def test_drift_cli_on_csv_files_equals_scipy(tmp_path):
    rng = np.random.default_rng(5)
    a = {"x": rng.normal(0, 1, 200).round(4), "c": rng.choice(["u", "v"], 200)}
    b = {"x": rng.normal(0.4, 1, 200).round(4), "c": rng.choice(["u", "v"], 200, p=[0.3, 0.7])}
    ra, rb = _write_csv(tmp_path / "a.csv", a), _write_csv(tmp_path / "b.csv", b)
    out, _ = run_json(
        __import__("ch22_llmops.cli").cli.app,
        ["drift", "--reference", str(ra), "--current", str(rb)],
    )
    assert set(out) == {"x", "c"}
    assert out["x"]["test"] == "ks" and out["c"]["test"] == "chi2"
    ks = stats.ks_2samp(a["x"], b["x"])
    assert out["x"]["statistic"] == pytest.approx(ks.statistic, abs=1e-12)
    assert out["x"]["p_value"] == pytest.approx(ks.pvalue, rel=1e-9)
    assert out["x"]["drift"] is True and ks.pvalue < 0.05
    f_obs = [np.sum(b["c"] == k) for k in ("u", "v")]
    f_exp = [np.sum(a["c"] == k) for k in ("u", "v")]
    assert out["c"]["p_value"] == pytest.approx(stats.chisquare(f_obs, f_exp).pvalue, rel=1e-9)
    assert json.dumps(out)  # one JSON object


def test_drift_cli_rejects_different_columns(tmp_path, cli):
    ra = _write_csv(tmp_path / "a.csv", {"x": [1, 2, 3]})
    rb = _write_csv(tmp_path / "b.csv", {"y": [1, 2, 3]})
    proc = cli("drift", "--reference", str(ra), "--current", str(rb), "--json")
    assert proc.returncode == 2
    assert "different columns" in proc.stderr and "Traceback" not in proc.stderr
    assert json.loads(proc.stdout)["error"].startswith("the two tables have different columns")


def test_read_csv_drops_a_pandas_index_column(tmp_path):
    path = tmp_path / "indexed.csv"
    path.write_text(",x,c\n0,1.5,u\n1,2.5,v\n")
    assert drift.read_csv(path) == {"x": ["1.5", "2.5"], "c": ["u", "v"]}


def test_read_csv_errors(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1\n")
    with pytest.raises(UserError, match=r"1 fields"):
        drift.read_csv(bad)
    with pytest.raises(UserError, match="no such CSV"):
        drift.read_csv(tmp_path / "missing.csv")
