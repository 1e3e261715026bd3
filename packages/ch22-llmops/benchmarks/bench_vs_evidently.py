"""Our drift tests vs evidently's stattests, on the same data (evidently runs in a side venv).

evidently needs ``pandas<3`` and the workspace is on pandas 3, so it cannot join the lock. This
script makes a side environment (``packages/ch22-llmops/.ci-work/evidently-venv``, ignored by
git; needs PyPI the first time), runs evidently's ``ks_stat_test``, ``chi_stat_test`` and
``psi_stat_test`` there on 20 seeded column pairs, and compares p-values, decisions and PSI
with ours. evidently's PSI bins the *combined* data with Sturges' rule, ours uses reference
deciles (the credit-scoring convention), so PSI values differ by design; both are recorded.

Run: ``uv run python packages/ch22-llmops/benchmarks/bench_vs_evidently.py``
(writes ``benchmarks/results/evidently.json``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ch22_llmops import drift
from llmpath_core import machine_info, write_json

HERE = Path(__file__).resolve().parent
VENV = HERE.parent / ".ci-work" / "evidently-venv"
OUT = HERE / "results" / "evidently.json"

SIDE = """
import json, sys
import pandas as pd
import evidently
from evidently.legacy.calculations.stattests import chi_stat_test, ks_stat_test, psi_stat_test
from evidently.legacy.calculations.stattests.registry import get_stattest
from evidently.legacy.core import ColumnType
cases = json.load(open(sys.argv[1]))
out = []
for c in cases:
    rn, cn = pd.Series(c["ref_num"]), pd.Series(c["cur_num"])
    rc, cc = pd.Series(c["ref_cat"]), pd.Series(c["cur_cat"])
    ks = ks_stat_test(rn, cn, ColumnType.Numerical, 0.05)
    chi = chi_stat_test(rc, cc, ColumnType.Categorical, 0.05)
    psi = psi_stat_test(rn, cn, ColumnType.Numerical, 0.1)
    out.append({"ks_p": ks.drift_score, "ks_drift": bool(ks.drifted),
                "chi_p": chi.drift_score, "chi_drift": bool(chi.drifted),
                "psi": psi.drift_score,
                "default_num": get_stattest(rn, cn, ColumnType.Numerical, None).name,
                "default_cat": get_stattest(rc, cc, ColumnType.Categorical, None).name})
print(json.dumps({"version": evidently.__version__, "results": out}))
"""


def side_python() -> Path:
    python = VENV / "bin" / "python"
    if not python.is_file():
        subprocess.run(["uv", "venv", "-q", "-p", "3.11", str(VENV)], check=True)
        subprocess.run(
            ["uv", "pip", "install", "-q", "evidently", "pandas<3"],
            check=True,
            env={**os.environ, "VIRTUAL_ENV": str(VENV)},
        )
    return python


def cases(n: int = 20) -> list[dict]:
    out = []
    for seed in range(n):
        rng = np.random.default_rng(seed)
        shift = 0.05 * (seed % 5)
        p = np.array([0.4, 0.3, 0.2, 0.1]) + np.array([-1, 0, 0, 1]) * 0.02 * (seed % 4)
        out.append(
            {
                "ref_num": rng.normal(0, 1, 500).round(5).tolist(),
                "cur_num": rng.normal(shift, 1, 400).round(5).tolist(),
                "ref_cat": rng.choice(list("abcd"), 500, p=[0.4, 0.3, 0.2, 0.1]).tolist(),
                "cur_cat": rng.choice(list("abcd"), 400, p=p).tolist(),
            }
        )
    return out


def main() -> None:
    data = cases()
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(data, f)
    proc = subprocess.run(
        [str(side_python()), "-c", SIDE, f.name], capture_output=True, text=True, check=True
    )
    theirs = json.loads(proc.stdout.strip().splitlines()[-1])
    rows = []
    for c, e in zip(data, theirs["results"], strict=True):
        ks = drift.ks_test(c["ref_num"], c["cur_num"])
        chi = drift.chi2_test(c["ref_cat"], c["cur_cat"])
        rows.append(
            {
                "ks_p_ours": ks["p_value"],
                "ks_p_evidently": e["ks_p"],
                "ks_same_decision": ks["drift"] == e["ks_drift"],
                "chi_p_ours": chi["p_value"],
                "chi_p_evidently": e["chi_p"],
                "chi_same_decision": chi["drift"] == e["chi_drift"],
                "psi_ours_deciles": drift.psi(c["ref_num"], c["cur_num"]),
                "psi_evidently_sturges": e["psi"],
                "evidently_default_numeric": e["default_num"],
                "evidently_default_categorical": e["default_cat"],
            }
        )
    summary = {
        "cases": len(rows),
        "ks_max_abs_p_diff": max(abs(r["ks_p_ours"] - r["ks_p_evidently"]) for r in rows),
        "ks_decisions_equal": sum(r["ks_same_decision"] for r in rows),
        "chi_max_abs_p_diff": max(abs(r["chi_p_ours"] - r["chi_p_evidently"]) for r in rows),
        "chi_decisions_equal": sum(r["chi_same_decision"] for r in rows),
        "psi_corr": float(
            np.corrcoef(
                [r["psi_ours_deciles"] for r in rows], [r["psi_evidently_sturges"] for r in rows]
            )[0, 1]
        ),
    }
    write_json(
        OUT,
        {
            "date": dt.date.today().isoformat(),
            "machine": machine_info(),
            "evidently": theirs["version"],
            "summary": summary,
            "rows": rows,
        },
    )
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
