"""Issue 12's criteria, checked from the two method tables (no model run).

uv run python benchmarks/issue12_criteria.py   # writes results/issue12-criteria.json
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def check(split: str) -> dict:
    rows = json.loads((RESULTS / f"method-table-mix-{split}.json").read_text())["rows"]
    by = {(r["method"], r["bits"], r["group"]): r for r in rows}
    rtn3, rtn4 = by[("rtn", 3, -1)], by[("rtn", 4, -1)]
    gptq3, gptq4, awq4 = by[("gptq", 3, -1)], by[("gptq", 4, -1)], by[("awq", 4, -1)]

    def closed(row, rtn):
        return 100 * (1 - row["ppl_vs_fp32_%"] / rtn["ppl_vs_fp32_%"])

    return {
        "fp32_perplexity": by[("fp32", 32, None)]["perplexity"],
        "rtn3_vs_fp32_%": [rtn3["ppl_vs_fp32_%"], rtn3["ppl_vs_fp32_se_%"]],
        "rtn4_vs_fp32_%": [rtn4["ppl_vs_fp32_%"], rtn4["ppl_vs_fp32_se_%"]],
        "rtn4_z": rtn4["ppl_vs_fp32_%"] / rtn4["ppl_vs_fp32_se_%"],
        "gptq3_vs_rtn3_%": [gptq3["ppl_vs_rtn_%"], gptq3["ppl_vs_rtn_se_%"]],
        "gptq3_se_over_diff": gptq3["ppl_vs_rtn_se_%"] / abs(gptq3["ppl_vs_rtn_%"]),
        "gptq4_vs_rtn4_%": [gptq4["ppl_vs_rtn_%"], gptq4["ppl_vs_rtn_se_%"]],
        "awq4_vs_rtn4_%": [awq4["ppl_vs_rtn_%"], awq4["ppl_vs_rtn_se_%"]],
        "gap_closed_%": {
            "gptq3": closed(gptq3, rtn3),
            "gptq4": closed(gptq4, rtn4),
            "awq4": closed(awq4, rtn4),
        },
        "criteria": {
            "rtn3_raises_ppl_by_at_least_2%": rtn3["ppl_vs_fp32_%"] >= 2,
            "rtn4_measurable_(>2_paired_se)": rtn4["ppl_vs_fp32_%"] > 2 * rtn4["ppl_vs_fp32_se_%"],
            "gptq3_vs_rtn3_se_below_a_third_of_diff": gptq3["ppl_vs_rtn_se_%"]
            < abs(gptq3["ppl_vs_rtn_%"]) / 3,
            "gptq3_better_than_rtn3": gptq3["ppl_vs_rtn_%"] < 0,
        },
    }


def main() -> None:
    out = {split: check(split) for split in ("validation", "test")}
    out["same_conclusion_on_both"] = out["validation"]["criteria"] == out["test"]["criteria"]
    (RESULTS / "issue12-criteria.json").write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
