"""Intrinsic evaluation of word vectors: nearest neighbours, analogies (3CosAdd), projections.

``analogy_accuracy`` answers ``a : b :: c : ?`` with the word whose unit vector has the largest
cosine with ``b - a + c`` (the three question words excluded), as gensim's
``KeyedVectors.most_similar(positive=[b, c], negative=[a])`` does with unit vectors.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class WordVectors:
    """Words and their vectors (any source: ours, gensim's, GloVe's)."""

    def __init__(self, words: Sequence[str], vectors: np.ndarray) -> None:
        self.words = list(words)
        self.index = {w: i for i, w in enumerate(self.words)}
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self.unit = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def neighbours(self, word: str, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` words most cosine-similar to ``word``."""
        sims = self.unit @ self.unit[self.index[word]]
        sims[self.index[word]] = -np.inf
        best = np.argsort(-sims)[:k]
        return [(self.words[i], float(sims[i])) for i in best]

    def similarity(self, a: str, b: str) -> float:
        return float(self.unit[self.index[a]] @ self.unit[self.index[b]])

    def analogy(self, a: str, b: str, c: str) -> str:
        """``a : b :: c : ?`` by 3CosAdd."""
        target = self.unit[self.index[b]] - self.unit[self.index[a]] + self.unit[self.index[c]]
        target /= max(np.linalg.norm(target), 1e-12)
        sims = self.unit @ target
        for w in (a, b, c):
            sims[self.index[w]] = -np.inf
        return self.words[int(np.argmax(sims))]


def analogy_accuracy(
    wv: WordVectors, questions: Sequence[tuple[str, str, str, str, str]]
) -> dict[str, float]:
    """Accuracy per relation and ``"all"`` over ``(relation, a, b, c, d)`` questions.

    Questions with a word missing from the vocabulary count as wrong.
    """
    right: dict[str, list[bool]] = {}
    for rel, a, b, c, d in questions:
        ok = all(w in wv for w in (a, b, c, d)) and wv.analogy(a, b, c) == d
        right.setdefault(rel, []).append(ok)
    out = {rel: float(np.mean(v)) for rel, v in right.items()}
    out["all"] = float(np.mean([x for v in right.values() for x in v]))
    return out


def pca_2d(vectors: np.ndarray) -> np.ndarray:
    """Projection on the first two principal components (SVD of the centred matrix)."""
    x = vectors - vectors.mean(0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    return x @ vt[:2].T


def tsne_2d(vectors: np.ndarray, seed: int = 0) -> np.ndarray:
    """scikit-learn's t-SNE to 2-D (perplexity scaled to the number of points)."""
    from sklearn.manifold import TSNE

    perplexity = max(2.0, min(30.0, (len(vectors) - 1) / 3))
    return TSNE(2, perplexity=perplexity, random_state=seed, init="pca").fit_transform(vectors)


def plot_projection(path, words: Sequence[str], points: np.ndarray, title: str):
    """Scatter plot of labelled 2-D points, saved as PNG."""
    from matplotlib.figure import Figure

    from llmpath_core.report import save_figure

    fig = Figure(figsize=(6.5, 5), dpi=100)
    ax = fig.add_subplot()
    ax.scatter(points[:, 0], points[:, 1], s=10)
    for w, (x, y) in zip(words, points, strict=True):
        ax.annotate(w, (x, y), fontsize=7)
    ax.set_title(title)
    fig.tight_layout()
    return save_figure(fig, path)


__all__ = ["WordVectors", "analogy_accuracy", "pca_2d", "plot_projection", "tsne_2d"]
