"""ragas' non-LLM metrics computed by our evaluation equal ragas' own on the same samples."""

from __future__ import annotations

import pytest
from rapidfuzz.distance import Levenshtein

from ch18_rag.metrics import levenshtein
from ch18_rag.ragas_eval import our_scores, ragas_scores

SAMPLES = [
    (
        "Quo",
        "Quo",
        ["The capital of Zed is Quo.", "Zed was founded in 1432."],
        ["The capital of Zed is Quo."],
    ),
    (
        "a convenient way to insert assertions",
        "a convenient way to insert debugging assertions",
        [
            "Assert statements are a convenient way to insert debugging assertions.",
            "The pass statement is a null operation.",
            "Assert statements are convenient.",
        ],
        ["Assert statements are a convenient way to insert debugging assertions into a program."],
    ),
    (
        "1432",
        "1340",
        ["Nothing relevant here at all.", "Zed was founded in 1340."],
        ["Zed was founded in 1340.", "The capital of Zed is Quo."],
    ),
]


def test_levenshtein_equals_rapidfuzz():
    for a, b in [("kitten", "sitting"), ("", "abc"), ("flaw", "lawn"), ("Quo", "Quo")]:
        assert levenshtein(a, b) == Levenshtein.distance(a, b)


@pytest.mark.parametrize("sample", SAMPLES)
def test_non_llm_metrics_equal_ragas(sample):
    ours, theirs = our_scores(*sample), ragas_scores(*sample)
    assert ours.keys() == theirs.keys()
    for key in ours:
        assert ours[key] == pytest.approx(theirs[key], abs=1e-9), key
