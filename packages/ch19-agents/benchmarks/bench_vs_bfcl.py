"""Our AST checker next to bfcl-eval's: verdict agreement on every perturbed case, and speed.

Run: ``uv run python packages/ch19-agents/benchmarks/bench_vs_bfcl.py``. bfcl-eval is installed
without its dependencies into ``.ci-work/bfcl`` (it pins numpy 1.26 and a dozen API clients, so
it cannot join the workspace lock; its AST checker needs only the standard library). Writes
``benchmarks/results/checker-vs-bfcl.json``.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import types
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from ch19_agents.benchdata import make_cases, oracle_calls, perturbations, to_check_case
from ch19_agents.calls import check_calls, functions_by_name
from llmpath_core.bench import compare, machine_info
from llmpath_core.io import write_json

SIDE = Path(__file__).resolve().parents[1] / ".ci-work" / "bfcl"
OUT = Path(__file__).parent / "results" / "checker-vs-bfcl.json"


def load_bfcl():
    if not (SIDE / "bfcl_eval").is_dir():
        subprocess.run(
            ["uv", "pip", "install", "--no-deps", "--target", str(SIDE), "bfcl-eval==2026.3.23"],
            check=True,
        )
    sys.path.insert(0, str(SIDE))
    stub = types.ModuleType("bfcl_eval.constants.model_config")
    stub.MODEL_CONFIG_MAPPING = {}
    sys.modules.setdefault("bfcl_eval.constants.model_config", stub)
    enums = importlib.import_module("bfcl_eval.constants.enums")
    return importlib.import_module("bfcl_eval.eval_checker.ast_eval.ast_checker"), enums


def main() -> None:
    checker, enums = load_bfcl()
    items = []
    for case in make_cases(8, seed=0):
        fns = functions_by_name(case["function"])
        for tag, pred in perturbations(case, oracle_calls(case)):
            items.append((case, fns, tag, pred, to_check_case(case, pred)["expected"]))

    def theirs_one(case, pred):
        if case["category"] == "irrelevance":
            return len(pred) == 0
        decoded = [{c["name"]: c["arguments"]} for c in pred]
        return checker.ast_checker(
            case["function"],
            decoded,
            case["ground_truth"],
            enums.Language.PYTHON,
            case["category"],
            "gorilla-openfunctions-v2",
        )["valid"]

    def ours():
        return [check_calls(fns, pred, exp)[0] for _, fns, _, pred, exp in items]

    def theirs():
        return [theirs_one(case, pred) for case, _, _, pred, _ in items]

    a, b = ours(), theirs()
    per_cat = Counter()
    agree = Counter()
    for (case, *_), x, y in zip(items, a, b, strict=True):
        per_cat[case["category"]] += 1
        agree[case["category"]] += x == y
    timing = compare("AST check of all cases", ours, theirs, names=("ours", "bfcl-eval"), repeats=5)
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "bfcl_eval": "2026.3.23",
        "cases": len(items),
        "accepted_by_bfcl": sum(b),
        "agreement": sum(x == y for x, y in zip(a, b, strict=True)) / len(items),
        "per_category": {c: {"cases": per_cat[c], "agree": agree[c]} for c in per_cat},
        "timing": timing.to_dict(),
    }
    print(result["agreement"], result["per_category"])
    write_json(OUT, result)


if __name__ == "__main__":
    main()
