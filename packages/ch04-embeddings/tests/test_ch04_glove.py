"""GloVe from scratch: the co-occurrence counts, the loss and its gradients against direct
computations, and the trained vectors on the planted analogies."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ch04_embeddings.corpus import analogy_questions, training_corpus
from ch04_embeddings.glove import (
    GloVe,
    GloVeConfig,
    cooccurrence,
    glove_gradients,
    glove_loss,
    weighting,
)
from ch04_embeddings.wordeval import WordVectors, analogy_accuracy

MIN_ACCURACY = 0.3  # planted analogies solved by our GloVe (measured 0.42; chance ~1/1600)


def test_cooccurrence_weights_by_distance_within_sentences():
    # sentence 1: 0 1 2 ; sentence 2: 2 0  (window 2)
    x = cooccurrence([np.array([0, 1, 2]), np.array([2, 0])], size=3, window=2).dense()
    expected = np.zeros((3, 3))
    for a, b, w in [(0, 1, 1.0), (1, 2, 1.0), (0, 2, 0.5), (2, 0, 1.0)]:
        expected[a, b] += w
        expected[b, a] += w
    assert np.allclose(x, expected)
    assert np.allclose(x, x.T)


def test_loss_and_gradients_equal_direct_computation():
    g = torch.Generator().manual_seed(0)
    n, d = 5, 4
    w, wc = torch.randn(n, d, generator=g, dtype=torch.float64), torch.randn(n, d, generator=g)
    wc = wc.double()
    b, bc = torch.randn(n, generator=g).double(), torch.randn(n, generator=g).double()
    dense = torch.rand(n, n, generator=g).double() * 150 * (torch.rand(n, n, generator=g) > 0.4)
    rows, cols = torch.nonzero(dense, as_tuple=True)
    x = dense[rows, cols]
    # J by a double loop over the non-zero entries of the matrix, f written out
    direct = 0.0
    for i in range(n):
        for j in range(n):
            xij = float(dense[i, j])
            if xij > 0:
                f = (xij / 100) ** 0.75 if xij < 100 else 1.0
                diff = float(w[i] @ wc[j] + b[i] + bc[j]) - np.log(xij)
                direct += f * diff**2
    ours = glove_loss(w, wc, b, bc, rows, cols, x, x_max=100, alpha=0.75)
    assert float(ours) == pytest.approx(direct, rel=1e-12)
    assert (x >= 100).any() and (x < 100).any()  # both branches of f are exercised
    params = [p.clone().requires_grad_() for p in (w, wc, b, bc)]
    glove_loss(*params, rows, cols, x, 100, 0.75).backward()
    for ours_g, p in zip(
        glove_gradients(w, wc, b, bc, rows, cols, x, 100, 0.75), params, strict=True
    ):
        assert torch.allclose(ours_g, p.grad, atol=1e-10)
    assert torch.equal(weighting(torch.tensor([50.0, 100.0, 400.0]), 100, 0.75)[1:], torch.ones(2))


@pytest.fixture(scope="module")
def glove():
    return GloVe(GloVeConfig()).train(training_corpus())


def test_glove_learns_the_planted_analogies(glove):
    wv = WordVectors(glove.vocab.words, glove.vectors)
    acc = analogy_accuracy(wv, analogy_questions())
    assert acc["all"] >= MIN_ACCURACY, acc
    assert glove.losses[-1] < 0.5 * glove.losses[0]
    assert wv.similarity("king", "queen") > wv.similarity("king", "walked")
    # the same counts and schedule without training steps answer (almost) nothing
    untrained = GloVe(GloVeConfig(epochs=1, learning_rate=1e-12)).train(training_corpus())
    acc0 = analogy_accuracy(
        WordVectors(untrained.vocab.words, untrained.vectors), analogy_questions()
    )
    assert acc0["all"] < 0.05
