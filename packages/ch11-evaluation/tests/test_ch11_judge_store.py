"""Judge bias probes catch biased judges; the results store round-trips and plots."""

from __future__ import annotations

import pytest

from ch11_evaluation.judge import (
    LMJudge,
    OverlapJudge,
    Pair,
    judge_agreement,
    pairs_from_mc,
    position_consistency,
    verbosity_probe,
)
from ch11_evaluation.store import ResultsStore
from ch11_evaluation.tasks import load_task


class FirstPositionJudge:
    """Prefers whatever is shown first: the worst possible position bias."""

    name = "always-first"

    def prefer(self, pairs):
        return [0 for _ in pairs]


class LongerJudge:
    """Prefers the longer answer: pure verbosity bias."""

    name = "longer"

    def prefer(self, pairs):
        return [int(len(p.b) > len(p.a)) for p in pairs]


@pytest.fixture(scope="module")
def pairs():
    return pairs_from_mc(load_task("mmlu").items, n=24, seed=0)


def test_position_probe_separates_a_biased_judge_from_a_fair_one(pairs):
    biased = position_consistency(FirstPositionJudge(), pairs)
    assert biased.consistency == 0.0 and biased.first_position_rate == 1.0
    fair = position_consistency(OverlapJudge(), pairs)
    assert fair.consistency == 1.0 and fair.first_position_rate == 0.5
    assert fair.accuracy_original == fair.accuracy_swapped == 1.0


def test_verbosity_probe_measures_length_preference(pairs):
    report = verbosity_probe(LongerJudge(), pairs)
    assert report.prefers_worse_padded == 1.0 and report.verbosity_bias > 0.4
    assert verbosity_probe(OverlapJudge(), pairs).verbosity_bias == 0.0


def test_agreement_with_gold(pairs):
    assert judge_agreement(OverlapJudge(), pairs)["kappa"] == 1.0
    assert judge_agreement(FirstPositionJudge(), pairs)["kappa"] == pytest.approx(0.0)


def test_lm_judge_is_deterministic_and_reads_loglikelihoods(default_lm, pairs):
    judge = LMJudge(default_lm)
    few = pairs[:4]
    first = judge.prefer(few)
    assert first == judge.prefer(few)
    prompt_ll = default_lm.loglikelihood
    verdicts = []
    for p in few:
        from ch11_evaluation.judge import PAIRWISE_TEMPLATE

        prompt = PAIRWISE_TEMPLATE.format(question=p.question, a=p.a, b=p.b)
        (la, _), (lb, _) = prompt_ll([(prompt, " A"), (prompt, " B")])
        verdicts.append(int(lb > la))
    assert first == verdicts
    scores = judge.grade(few[0].question, [few[0].a, few[0].b])
    assert all(1.0 <= s <= 5.0 for s in scores)


def test_pairs_hold_one_right_answer(pairs):
    for p in pairs:
        good = p.a if p.gold == 0 else p.b
        assert good.removeprefix("The answer is ").rstrip(".") in p.question
    assert {p.gold for p in pairs} == {0, 1}
    assert isinstance(pairs[0], Pair)


def test_results_store_appends_and_dashboards(tmp_path):
    store = ResultsStore(tmp_path / "runs.sqlite")
    for version, acc in (("step-100", 0.3), ("step-200", 0.45)):
        store.append(
            {"task": "mmlu", "model": "m", "acc": acc, "acc_stderr": 0.05, "n": 40}, version=version
        )
    rows = store.rows()
    assert [(r["version"], r["value"]) for r in rows] == [("step-100", 0.3), ("step-200", 0.45)]
    assert [r["run_id"] for r in rows] == [1, 2]
    page = store.dashboard(tmp_path / "dash.html").read_text()
    assert "data:image/png;base64," in page and "step-200" in page
