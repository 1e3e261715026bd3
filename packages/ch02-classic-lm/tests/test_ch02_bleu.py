"""BLEU equals sacrebleu's corpus_bleu (13a); ROUGE equals rouge-score."""

from __future__ import annotations

import random

import pytest

from ch02_classic_lm.bleu import corpus_bleu, corpus_rouge, rouge, tokenize_13a
from llmpath_core import UserError, load_text


def _corpus(n=200, seed=0):
    lines = [x for x in load_text("pydoc", split="validation").splitlines() if x.strip()][:n]
    rng = random.Random(seed)
    extra = ["the", "a", "3.5", "x-1", ",", '"hi"', "&amp;", "(see", "e.g.", "1,000"]
    hyps = []
    for line in lines:
        words = line.split()
        for _ in range(rng.randint(0, 5)):
            if words and rng.random() < 0.5:
                del words[rng.randrange(len(words))]
            else:
                words.insert(rng.randrange(len(words) + 1), rng.choice(extra))
        hyps.append(" ".join(words))
    return hyps, lines


def test_tokenizer_equals_sacrebleu_13a():
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

    hyps, refs = _corpus()
    tok = Tokenizer13a()
    for line in hyps + refs + ["It costs $3.50, i.e. 1,000-2,000 units.", "a&lt;b &quot;q&quot;"]:
        assert tokenize_13a(line) == tok(line).split()


def test_bleu_equals_sacrebleu():
    import sacrebleu

    hyps, refs = _corpus()
    assert corpus_bleu(hyps, refs)["bleu"] == pytest.approx(
        sacrebleu.corpus_bleu(hyps, [refs]).score, abs=0.01
    )
    # short corpora hit the smoothing of zero matches and the brevity penalty
    for i in range(0, 40, 3):
        h, r = hyps[i : i + 2], refs[i : i + 2]
        assert corpus_bleu(h, r)["bleu"] == pytest.approx(
            sacrebleu.corpus_bleu(h, [r]).score, abs=0.01
        )
    h, r = ["the cat"], ["the cat sat on the mat"]
    assert corpus_bleu(h, r)["bleu"] == pytest.approx(sacrebleu.corpus_bleu(h, [r]).score, abs=0.01)
    # two reference streams
    other = [x.upper() for x in refs]
    assert corpus_bleu(hyps, [refs, other])["bleu"] == pytest.approx(
        sacrebleu.corpus_bleu(hyps, [refs, other]).score, abs=0.01
    )


def test_bleu_identity_and_mismatch():
    assert corpus_bleu(["a b c d e"], ["a b c d e"])["bleu"] == pytest.approx(100.0)
    with pytest.raises(UserError, match="references"):
        corpus_bleu(["a", "b"], ["a"])


def test_rouge_equals_rouge_score():
    from rouge_score import rouge_scorer

    hyps, refs = _corpus(30, seed=1)
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"])
    for h, r in zip(hyps, refs, strict=False):
        ours, theirs = rouge(h, r), scorer.score(r, h)
        for key in theirs:
            for part in ("precision", "recall", "fmeasure"):
                assert ours[key][part] == pytest.approx(getattr(theirs[key], part), abs=1e-12)
    mean = corpus_rouge(hyps, refs)
    assert 0 < mean["rouge2"] < mean["rouge1"] <= 1
