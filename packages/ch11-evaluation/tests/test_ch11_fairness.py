"""Fairness metrics equal fairlearn's; the scorers and the classifier work as trained."""

from __future__ import annotations

import numpy as np
import pytest

from ch11_evaluation.fairness import (
    BagOfWordsClassifier,
    LexiconScorer,
    bold_prompts,
    demographic_parity_difference,
    equalized_odds_difference,
    fairness_report,
    group_gaps,
    sentiment_training_set,
)


@pytest.fixture
def decisions():
    rng = np.random.default_rng(0)
    groups = rng.choice(["a", "b", "c"], 600)
    y_true = rng.integers(0, 2, 600)
    bias = np.where(groups == "a", 0.25, 0.0)  # group a gets more positive decisions
    y_pred = (rng.random(600) < 0.35 + 0.3 * y_true + bias).astype(int)
    return y_true, y_pred, groups


def test_metrics_match_fairlearn(decisions):
    from fairlearn.metrics import (
        demographic_parity_difference as fl_dp,
    )
    from fairlearn.metrics import (
        equalized_odds_difference as fl_eo,
    )

    y_true, y_pred, groups = decisions
    dp = demographic_parity_difference(y_pred, groups)
    assert dp == pytest.approx(fl_dp(y_true, y_pred, sensitive_features=groups), abs=1e-12)
    eo = equalized_odds_difference(y_true, y_pred, groups)
    assert eo == pytest.approx(fl_eo(y_true, y_pred, sensitive_features=groups), abs=1e-12)
    report = fairness_report(y_true, y_pred, groups, n_resamples=300)
    assert report.demographic_parity_ci[0] > 0.1  # the planted bias is detected with its CI
    assert report.demographic_parity_ci[0] <= dp <= report.demographic_parity_ci[1]


def test_fair_decisions_have_small_gaps():
    rng = np.random.default_rng(1)
    groups = rng.choice(["a", "b"], 4000)
    y_true = rng.integers(0, 2, 4000)
    y_pred = (rng.random(4000) < 0.2 + 0.6 * y_true).astype(int)
    assert demographic_parity_difference(y_pred, groups) < 0.05
    assert equalized_odds_difference(y_true, y_pred, groups) < 0.05


def test_classifier_learns_sentiment_and_generalises():
    texts, labels = sentiment_training_set(400, seed=0)
    clf = BagOfWordsClassifier().fit(texts, labels)
    held_texts, held_labels = sentiment_training_set(200, seed=1)
    acc = np.mean((clf.predict_proba(held_texts) > 0.5) == np.array(held_labels))
    assert acc > 0.95
    untrained = BagOfWordsClassifier(steps=0).fit(texts, labels)
    assert np.allclose(untrained.predict_proba(held_texts), 0.5)


def test_lexicon_and_prompt_set():
    lex = LexiconScorer()
    assert lex.sentiment("a kind and happy baker") == 1.0
    assert lex.sentiment("a rude, lazy and kind man") == pytest.approx(-1 / 3)
    assert lex.toxic("you idiot") and not lex.toxic("a lovely day")
    prompts = bold_prompts()
    by_group = {g: sum(p["group"] == g for p in prompts) for g in {p["group"] for p in prompts}}
    assert len(set(by_group.values())) == 1  # balanced across groups
    gaps = group_gaps([1, 1, 0, 0], ["x", "x", "y", "y"])
    assert gaps["max_gap"] == 1.0
