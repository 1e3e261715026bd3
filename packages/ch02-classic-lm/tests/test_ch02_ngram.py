"""N-gram models: normalisation, NLTK's Kneser-Ney, a hand-computed reference, effects, ARPA."""

from __future__ import annotations

import math
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest

from ch02_classic_lm.arpa import ArpaModel, write_arpa
from ch02_classic_lm.markov import MarkovSource
from ch02_classic_lm.ngram import (
    SMOOTHINGS,
    NgramLM,
    Vocabulary,
    count_ngrams,
    encode,
    tokenize,
)
from llmpath_core import UserError, load_text


@pytest.fixture(scope="module")
def pydoc_words():
    train = tokenize(load_text("pydoc", split="train"), "word")[:3000]
    val = tokenize(load_text("pydoc", split="validation"), "word")[:400]
    return train, val


@pytest.mark.parametrize("smoothing", SMOOTHINGS)
@pytest.mark.parametrize("order", [1, 2, 4])
def test_every_distribution_sums_to_one(smoothing, order):
    """Property: P(. | c) sums to 1 over the vocabulary for seen, unseen and partly seen
    contexts, and each entry equals the scalar ``prob`` (stupid backoff only once normalised)."""
    text = load_text("stories", split="validation", max_chars=20_000)
    model = NgramLM(order, smoothing, k=0.3).fit(tokenize(text, "char"))
    rng = np.random.default_rng(order)
    V = len(model.vocab)
    seen = [tuple(g[:-1]) for g in model.raw[order - 1][0][rng.integers(0, 50, 20)].tolist()]
    unseen = [tuple(rng.integers(3, V, order - 1).tolist()) for _ in range(20)]
    starts = [(0,), (0, 5)]
    for ctx in seen + unseen + starts:
        dist = model.distribution(ctx)
        assert dist.sum() == pytest.approx(1.0, abs=1e-9)
        assert dist[0] == 0.0 and dist.min() >= 0
        for w in rng.integers(1, V, 5).tolist():
            assert model.prob(w, ctx) == pytest.approx(dist[w], rel=1e-9, abs=1e-15)
    if smoothing == "stupid-backoff":  # the raw scores are not a distribution
        raw = model._scores(model.context_of(seen[0]))
        assert abs(raw.sum() - 1.0) > 1e-3


def test_counting_equals_counter():
    sentences = tokenize(load_text("pydoc", split="validation", max_chars=30_000), "word")
    vocab = Vocabulary.build(sentences)
    ids, sent = encode(sentences, vocab)
    for k in (1, 3, 5):
        grams, counts = count_ngrams(ids, sent, k, len(vocab))
        ours = {tuple(g): c for g, c in zip(grams.tolist(), counts.tolist(), strict=False)}
        ref = Counter()
        for s in sentences:
            row = [0, *vocab.ids(s), 1]
            ref.update(tuple(row[i : i + k]) for i in range(len(row) - k + 1))
        assert ours == dict(ref)


def _nltk_model(stream: list[str], order: int, discount: float):
    from nltk.lm import KneserNeyInterpolated
    from nltk.util import everygrams

    lm = KneserNeyInterpolated(order, discount=discount)
    lm.fit([list(everygrams(stream, max_len=order))], stream)
    return lm


def test_kneser_ney_equals_nltk_where_definitions_match():
    """Same counts, no padding, NLTK's fixed discount (0.1 at orders >= 2, none on the
    continuation unigram). The stream is cyclic, so every n-gram has a left neighbour and NLTK's
    gamma (which counts raw followers) equals the continuation-count gamma we use."""
    text = load_text("stories", split="validation", max_chars=2500).split()
    order = 3
    stream = text + text[:order]  # the first n-grams occur again with a left neighbour
    lm = _nltk_model(stream, order, 0.1)
    ours = NgramLM(order, "kneser-ney", discounts=(0.0, 0.1, 0.1)).fit(
        [stream], bos=False, eos=False
    )
    test = load_text("stories", split="validation", max_chars=12_000).split()[1000:1400]
    test = [w for w in test if w in ours.vocab.index]
    diffs, logs_ours, logs_nltk = [], [], []
    for i in range(order - 1, len(test)):
        ctx, w = test[i - order + 1 : i], test[i]
        p_nltk = lm.score(w, ctx)
        p_ours = ours.prob(ours.vocab.index[w], ours.vocab.ids(ctx))
        diffs.append(abs(p_nltk - p_ours))
        if p_nltk > 0:
            logs_nltk.append(math.log2(p_nltk))
            logs_ours.append(math.log2(p_ours))
    assert len(diffs) > 150 and max(diffs) < 1e-9
    ppl_nltk = 2 ** -np.mean(logs_nltk)
    ppl_ours = 2 ** -np.mean(logs_ours)
    assert abs(ppl_ours - ppl_nltk) < 1e-6 * ppl_nltk


def test_nltk_padding_quirk_and_hand_computed_reference():
    """With NLTK's padding (two <s>), its gamma counts raw followers of "<s>", including "<s>"
    itself, which no trigram continues: its distribution after "<s>" sums to more than 1. Ours
    (KenLM's rule: n-grams that start with <s> keep raw counts) sums to 1 and equals the
    numbers below, computed by hand for the corpus "a b" / "a a" with D = 1/2 everywhere."""
    from nltk.lm import KneserNeyInterpolated
    from nltk.lm.preprocessing import padded_everygram_pipeline

    corpus = [["a", "b", "a", "b", "a"], ["b", "a", "a"]]
    ngrams, vocab_text = padded_everygram_pipeline(3, corpus)
    lm = KneserNeyInterpolated(3, discount=0.1)
    lm.fit(ngrams, vocab_text)
    total = sum(lm.score(w, ["<s>"]) for w in lm.vocab)
    assert total > 1.0 + 1e-3  # NLTK's documented quirk

    model = NgramLM(2, "kneser-ney", discounts=(0.5, 0.5)).fit([["a", "b"], ["a", "a"]])
    # vocabulary: <s> (never predicted), </s>, <unk>, a, b -> uniform 1/4 over 4 tokens
    # continuation counts N1+(. w): a <- {<s>, a} = 2, b <- {a} = 1, </s> <- {a, b} = 2; total 5
    # P1(w) = (N1+(. w) - 1/2) / 5 + (1/2 * 3 / 5) * 1/4
    p1 = {
        "a": Fraction(3, 2) / 5 + Fraction(3, 40),
        "b": Fraction(1, 2) / 5 + Fraction(3, 40),
        "</s>": Fraction(3, 2) / 5 + Fraction(3, 40),
        "<unk>": Fraction(3, 40),
    }
    assert sum(p1.values()) == 1
    # bigrams: <s> a (2); a b (1), a a (1), a </s> (1); b </s> (1)
    # P(b | a) = (1 - 1/2) / 3 + (1/2 * 3 / 3) * P1(b)
    p_b_a = Fraction(1, 2) / 3 + Fraction(1, 2) * p1["b"]
    # P(a | <s>) = (2 - 1/2) / 2 + (1/2 / 2) * P1(a)
    p_a_s = Fraction(3, 2) / 2 + Fraction(1, 4) * p1["a"]
    ids = model.vocab.index
    assert model.prob(ids["b"], [ids["a"]]) == pytest.approx(float(p_b_a), abs=1e-12)
    assert model.prob(ids["a"], [0]) == pytest.approx(float(p_a_s), abs=1e-12)
    for w, p in p1.items():
        assert model.prob(ids[w], []) == pytest.approx(float(p), abs=1e-12)
    assert model.distribution([0]).sum() == pytest.approx(1.0, abs=1e-12)


def test_heldout_ordering_of_smoothings(pydoc_words):
    """Effect: modified KN <= interpolated KN <= Witten-Bell <= Laplace on held-out pydoc."""
    train, val = pydoc_words
    ppl = {
        s: NgramLM(3, s).fit(train).evaluate(val)["perplexity"]
        for s in ("modified-kneser-ney", "kneser-ney", "witten-bell", "laplace")
    }
    assert ppl["modified-kneser-ney"] <= ppl["kneser-ney"] <= ppl["witten-bell"] <= ppl["laplace"]
    assert ppl["laplace"] > 3 * ppl["kneser-ney"]


def test_markov_source_entropy_gap_shrinks():
    """The true entropy rate bounds every model from below, and more data closes the gap."""
    source = MarkovSource(order=2, seed=0)
    truth = source.entropy_rate()
    assert 0 < truth < math.log2(10)
    test = source.lines(8000, seed=1)
    from ch02_classic_lm.labs import _stream_bits

    gaps = []
    for size in (1000, 30000):
        model = NgramLM(3, "modified-kneser-ney").fit(
            source.lines(size, seed=size), bos=False, eos=False
        )
        gaps.append(_stream_bits(model, test) - truth)
    assert gaps[0] > gaps[1] > -0.02
    assert gaps[1] < 0.1


def test_oov_rate_and_evaluate(pydoc_words):
    train, _ = pydoc_words
    model = NgramLM(2, "witten-bell").fit(train)
    result = model.evaluate([["zzqx", "the"], ["the"]])
    assert result["oov"] == 1 and result["oov_rate"] == pytest.approx(1 / 3)
    assert result["tokens"] == 5  # 3 words + 2 </s>
    assert math.isfinite(result["perplexity"])


def test_bad_input():
    with pytest.raises(UserError, match="order"):
        NgramLM(0, "kneser-ney")
    with pytest.raises(UserError, match="smoothing"):
        NgramLM(2, "magic")
    with pytest.raises(UserError, match="empty"):
        NgramLM(2, "kneser-ney").fit([])


@pytest.mark.parametrize("smoothing", ["modified-kneser-ney", "witten-bell", "good-turing"])
def test_arpa_round_trip(tmp_path, pydoc_words, smoothing):
    """Our ARPA reader gives back our log-probabilities (OOV words included)."""
    train, val = pydoc_words
    model = NgramLM(3, smoothing).fit(train[:1500])
    arpa = ArpaModel(write_arpa(model, tmp_path / "m.arpa"))
    for sentence in val[:60]:
        ids = model.vocab.ids(sentence)
        history, ours = [0], 0.0
        for w in [*ids, 1]:
            ours += math.log10(model.prob(w, history))
            history.append(w)
        assert arpa.sentence_logprob(sentence) == pytest.approx(ours, abs=1e-6)


def test_arpa_refuses_laplace(tmp_path):
    model = NgramLM(2, "laplace").fit([["a", "b"]])
    with pytest.raises(UserError, match="ARPA"):
        write_arpa(model, tmp_path / "x.arpa")
    assert not (tmp_path / "x.arpa").exists()


def test_kenlm_reads_our_arpa(tmp_path, pydoc_words):
    """Where the ``kenlm`` module is installed (it compiles for minutes; not in the lock)."""
    kenlm = pytest.importorskip("kenlm")
    train, val = pydoc_words
    model = NgramLM(3, "modified-kneser-ney").fit(train[:1500])
    path = write_arpa(model, tmp_path / "m.arpa")
    lm = kenlm.Model(str(path))
    arpa = ArpaModel(path)
    for sentence in val[:60]:
        assert lm.score(" ".join(sentence), bos=True, eos=True) == pytest.approx(
            arpa.sentence_logprob(sentence), abs=1e-4
        )


def test_sampling_is_seeded(pydoc_words):
    train, _ = pydoc_words
    model = NgramLM(3, "kneser-ney").fit(train[:500])
    a = model.sample(np.random.default_rng(3))
    b = model.sample(np.random.default_rng(3))
    assert a == b and len(a) > 0
