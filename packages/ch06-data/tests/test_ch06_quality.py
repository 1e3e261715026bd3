"""Quality heuristics, language ID, perplexity filter, contamination report."""

from __future__ import annotations

import random

from ch06_data.contamination import contamination_report
from ch06_data.labs import FOREIGN, JUNK
from ch06_data.quality import gopher_c4_reasons, language, perplexities
from llmpath_core.data import load_documents


def test_heuristics_keep_stories_and_drop_junk():
    stories = load_documents("stories", split="validation")[:30]
    assert sum(not gopher_c4_reasons(s) for s in stories) == 30
    reasons = [gopher_c4_reasons(j) for j in JUNK]
    assert all(reasons)
    assert "lorem_ipsum" in reasons[0] and "code_braces" in reasons[3]


def test_language_id():
    assert [language(t)[0] for t in FOREIGN] == ["fr", "de", "es"]
    assert language(load_documents("stories", split="validation")[0])[0] == "en"


def test_perplexity_separates_text_from_word_salad():
    stories = load_documents("stories", split="validation")[:4]
    rng = random.Random(0)
    salad = []
    for s in stories:
        w = s.split()
        rng.shuffle(w)
        salad.append(" ".join(w))
    good, bad = perplexities(stories, max_tokens=128), perplexities(salad, max_tokens=128)
    assert max(good) < min(bad)


def test_contamination_lists_the_leaked_items():
    train = load_documents("stories", split="train")[:120]
    test = load_documents("stories", split="test")[:30]
    leaked = [test[3], test[17] + " Extra words at the end of it."]
    report = contamination_report(train + leaked, {"test": test}, n=13, min_overlap=0.5)
    assert [c["index"] for c in report["contaminated"]] == [3, 17]
    assert report["sets"]["test"]["contaminated"] == 2
    assert report["contaminated"][0]["training_docs"][-1] >= 120
