"""Our AST checker against BFCL's own (``bfcl-eval``), case for case, on every category.

The cases: the bundled BFCL-layout benchmark (40 entries, five categories), each with the
oracle's calls and every perturbation of them (wrong name, missing required or optional
parameter, wrong type, int for float, string variants BFCL normalises, reordered and missing
parallel calls, ...): about 670 verdicts. Tolerance: none, every verdict must agree.
"""

from __future__ import annotations

from collections import Counter

from ch19_agents.benchdata import CATEGORIES, make_cases, oracle_calls, perturbations, to_check_case
from ch19_agents.calls import check_calls, functions_by_name


def test_checker_agrees_with_bfcl_case_for_case(bfcl):
    verdicts = Counter()
    disagreements = []
    for case in make_cases(8, seed=0):
        fns = functions_by_name(case["function"])
        for tag, predicted in perturbations(case, oracle_calls(case)):
            theirs = bfcl(case, predicted)
            ours, reason = check_calls(fns, predicted, to_check_case(case, predicted)["expected"])
            verdicts[(case["category"], theirs)] += 1
            if ours != theirs:
                disagreements.append((case["id"], tag, theirs, reason))
    assert disagreements == []
    # every category has both accepted and rejected predictions, so agreement is not trivial
    for category in CATEGORIES:
        assert verdicts[(category, True)] > 0, category
        assert verdicts[(category, False)] > 0, category
    assert sum(verdicts.values()) > 500


def test_bfcl_tolerances_are_reproduced(bfcl):
    """The rules that make BFCL lenient, checked one by one against bfcl-eval."""
    case = next(c for c in make_cases(8, seed=0) if c["id"] == "simple_0")
    kept = {
        tag.split(":")[0] for tag, p in perturbations(case, oracle_calls(case)) if bfcl(case, p)
    }
    assert "identity" in kept
    assert "string_variant" in kept  # "Bathroom." == "bathroom" after normalisation
    assert "wrong_value" not in kept and "rename[0]" not in kept
