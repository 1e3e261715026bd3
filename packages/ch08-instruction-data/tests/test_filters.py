"""Filters: ROUGE-L equals rouge-score; planted bad records go, and nothing else does."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from ch08_instruction_data.filters import Deduplicator, apply_filters, english_share, rouge_l
from ch08_instruction_data.pipeline import DEFAULT_NOISE
from ch08_instruction_data.tasks import (
    FOREIGN,
    SEEDS,
    check_response,
    plant_noise,
    template_records,
)

SEED_INSTRUCTIONS = [s["instruction"] for s in SEEDS]
# planted kinds the filters must remove; wrong and mismatched answers are well formed, so they
# stay for the judge (quality.py) to find
REMOVABLE = {
    "refusal",
    "empty",
    "runaway",
    "leak",
    "duplicate",
    "near_duplicate",
    "foreign",
    "seed_copy",
}


def test_rouge_l_equals_rouge_score():
    """Tolerance 1e-12: the same LCS F-measure on the same tokens."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    texts = [r["instruction"] for r in template_records(14, 3)] + SEED_INSTRUCTIONS
    texts += ["", "Hello, WORLD!! hello", "über café 12-3", FOREIGN[0][0]]
    for a, b in itertools.combinations(texts, 2):
        want = scorer.score(a, b)["rougeL"].fmeasure
        assert rouge_l(a, b) == pytest.approx(want, abs=1e-12), (a, b)


@pytest.mark.parametrize("seed", [0, 1])
def test_filters_remove_the_planted_records_and_nothing_else(seed):
    clean = template_records(400, seed)
    noisy = plant_noise(clean, DEFAULT_NOISE, seed)
    result = apply_filters(noisy, SEED_INSTRUCTIONS)
    removed = Counter(r["provenance"].get("planted", "clean") for r in result.removed)
    planted = Counter(r["provenance"].get("planted", "clean") for r in noisy)
    assert removed == Counter({k: v for k, v in planted.items() if k in REMOVABLE})
    assert sum(removed.values()) > 40
    kept = Counter(r["provenance"].get("planted", "clean") for r in result.kept)
    assert kept == Counter({k: planted[k] for k in ("clean", "wrong", "mismatched")})
    assert result.funnel["records_in"] == len(noisy)
    assert result.funnel["records_out"] == len(result.kept)
    # every exact or near duplicate removed has its original among the kept records
    originals = {(r["instruction"], r["response"]) for r in result.kept}
    for record in result.removed:
        if record["provenance"].get("planted") == "duplicate":
            assert (record["instruction"], record["response"]) in originals


def test_planted_wrong_answers_fail_their_checker():
    clean = template_records(140, 0)
    assert all(check_response(r["instruction"], r["response"])[1] for r in clean)
    noisy = plant_noise(clean, {"wrong": 0.5, "mismatched": 0.3}, 0)
    for record in noisy:
        kind = record["provenance"].get("planted")
        verdict = check_response(record["instruction"], record["response"])[1]
        assert verdict is (kind is None), record


def test_near_duplicates_and_language():
    dedup = Deduplicator(0.9)
    assert dedup.check({"instruction": "Add 12 and 30.", "response": "12 + 30 = 42"}) is None
    assert "exact" in dedup.check({"instruction": "Add 12 and 30.", "response": "12 + 30 = 42"})
    assert "near" in dedup.check({"instruction": "ADD 12  and 30!", "response": "12 + 30 = 42"})
    assert dedup.check({"instruction": "Add 12 and 31.", "response": "12 + 31 = 43"}) is None
    assert english_share("How many letters does the word cat have?") == 1.0
    assert english_share("¿Cuántas letras tiene la palabra casa?") < 0.5
