"""GloVe from scratch (Pennington, Socher and Manning, 2014), as the paper and ``glove.c`` do it.

1. **Co-occurrence matrix** ``X``: for every pair of words at distance ``d <= window`` in the
   same sentence, ``X[i, j]`` and ``X[j, i]`` grow by ``1 / d`` (the distance weighting of
   ``cooccur.c``, symmetric window).
2. **Weighted least squares** over the non-zero entries::

       J = Σ_ij f(X_ij) (w_i · w̃_j + b_i + b̃_j - log X_ij)²
       f(x) = (x / x_max) ** alpha  if x < x_max else 1

3. **AdaGrad** as ``glove.c`` runs it, with the paper's initial learning rate ``eta = 0.05``:
   the step of a parameter is ``s = eta * g`` with ``g`` the gradient of ``J / 2``; it moves by
   ``-s / sqrt(G)`` and then ``G += s²``, ``G`` starting at 1. Entries are visited in a fresh
   random order every epoch. ``glove.c`` updates one entry at a time; here a mini-batch of
   entries is one step (gradients of the batch summed per row): that makes it fast in PyTorch.

The word vectors are ``W + W̃`` (the paper's choice, ``glove.c``'s default ``-model 2``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ch04_embeddings.word2vec import Vocab


@dataclass
class GloVeConfig:
    """Training settings: the paper's ``x_max`` 100, ``alpha`` 3/4, learning rate 0.05 and
    window 10; 25 epochs (the paper runs 50 for ``dim < 300``; on this small corpus analogy
    accuracy stops improving after about 25)."""

    dim: int = 50
    window: int = 10
    min_count: int = 2
    x_max: float = 100.0
    alpha: float = 0.75
    learning_rate: float = 0.05
    epochs: int = 25
    batch_size: int = 1024
    seed: int = 0


@dataclass
class Cooccurrence:
    """The non-zero entries of a co-occurrence matrix: ``X[rows[k], cols[k]] = values[k]``."""

    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray
    size: int

    def dense(self) -> np.ndarray:
        out = np.zeros((self.size, self.size))
        out[self.rows, self.cols] = self.values
        return out


def cooccurrence(sentences: Sequence[np.ndarray], size: int, window: int) -> Cooccurrence:
    """Distance-weighted, symmetric co-occurrence counts of id sentences (``cooccur.c``).

    Sentences are boundaries: a window never crosses from one sentence into the next.
    """
    if not sentences:
        raise ValueError("no sentences")
    tokens = np.concatenate([np.asarray(s, dtype=np.int64) for s in sentences])
    sent_id = np.repeat(np.arange(len(sentences)), [len(s) for s in sentences])
    keys, weights = [], []
    for d in range(1, window + 1):
        i = np.arange(len(tokens) - d)
        i = i[sent_id[i] == sent_id[i + d]]
        a, b = tokens[i], tokens[i + d]
        keys += [a * size + b, b * size + a]
        weights += [np.full(len(i), 1.0 / d)] * 2
    key = np.concatenate(keys) if keys else np.zeros(0, np.int64)
    uniq, inverse = np.unique(key, return_inverse=True)
    values = np.bincount(inverse, weights=np.concatenate(weights), minlength=len(uniq))
    return Cooccurrence(uniq // size, uniq % size, values, size)


def weighting(x: torch.Tensor, x_max: float, alpha: float) -> torch.Tensor:
    """The paper's ``f(x)``: ``(x / x_max) ** alpha`` below ``x_max``, 1 above."""
    return torch.where(x < x_max, (x / x_max) ** alpha, torch.ones_like(x))


def glove_loss(
    w: torch.Tensor,
    w_ctx: torch.Tensor,
    b: torch.Tensor,
    b_ctx: torch.Tensor,
    rows: torch.Tensor,
    cols: torch.Tensor,
    x: torch.Tensor,
    x_max: float = 100.0,
    alpha: float = 0.75,
) -> torch.Tensor:
    """``J = Σ f(X_ij) (w_i · w̃_j + b_i + b̃_j - log X_ij)²`` over the given entries."""
    diff = (w[rows] * w_ctx[cols]).sum(-1) + b[rows] + b_ctx[cols] - torch.log(x)
    return (weighting(x, x_max, alpha) * diff**2).sum()


def glove_gradients(
    w: torch.Tensor,
    w_ctx: torch.Tensor,
    b: torch.Tensor,
    b_ctx: torch.Tensor,
    rows: torch.Tensor,
    cols: torch.Tensor,
    x: torch.Tensor,
    x_max: float = 100.0,
    alpha: float = 0.75,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients of :func:`glove_loss` w.r.t. ``w, w_ctx, b, b_ctx`` (dense, by hand).

    With ``g = 2 f(X_ij) diff_ij``: ``∂J/∂w_i = Σ_j g w̃_j``, ``∂J/∂w̃_j = Σ_i g w_i``,
    ``∂J/∂b_i = Σ_j g``, ``∂J/∂b̃_j = Σ_i g``.
    """
    diff = (w[rows] * w_ctx[cols]).sum(-1) + b[rows] + b_ctx[cols] - torch.log(x)
    g = 2 * weighting(x, x_max, alpha) * diff
    gw = torch.zeros_like(w).index_add_(0, rows, g[:, None] * w_ctx[cols])
    gc = torch.zeros_like(w_ctx).index_add_(0, cols, g[:, None] * w[rows])
    gb = torch.zeros_like(b).index_add_(0, rows, g)
    gbc = torch.zeros_like(b_ctx).index_add_(0, cols, g)
    return gw, gc, gb, gbc


class GloVe:
    """GloVe on tokenised sentences; ``vectors`` are ``W + W̃``, ``losses`` ``J`` per epoch."""

    def __init__(self, config: GloVeConfig | None = None) -> None:
        self.config = config or GloVeConfig()
        self.vocab: Vocab | None = None
        self.cooc: Cooccurrence | None = None
        self.vectors: np.ndarray | None = None
        self.losses: list[float] = []
        self.seconds = 0.0

    def train(self, sentences: list[list[str]]) -> GloVe:
        """Count co-occurrences and fit the weighted least squares; returns ``self``."""
        cfg = self.config
        gen = torch.Generator().manual_seed(cfg.seed)
        self.vocab = vocab = Vocab(sentences, cfg.min_count)
        if len(vocab) < 2:
            raise ValueError("the corpus has fewer than 2 words that reach min_count")
        start = time.perf_counter()
        self.cooc = cooc = cooccurrence(vocab.encode(sentences), len(vocab), cfg.window)
        rows, cols = torch.from_numpy(cooc.rows), torch.from_numpy(cooc.cols)
        x = torch.from_numpy(cooc.values).float()
        n, d = len(vocab), cfg.dim
        # glove.c: parameters uniform in ±0.5/dim, squared-gradient sums start at 1
        params = [
            (torch.rand(n, d, generator=gen) - 0.5) / d,
            (torch.rand(n, d, generator=gen) - 0.5) / d,
            (torch.rand(n, generator=gen) - 0.5) / d,
            (torch.rand(n, generator=gen) - 0.5) / d,
        ]
        gradsq = [torch.ones_like(p) for p in params]
        self.losses = []
        for _ in range(cfg.epochs):
            order = torch.randperm(len(x), generator=gen)
            total = 0.0
            for s in range(0, len(order), cfg.batch_size):
                sel = order[s : s + cfg.batch_size]
                r, c, xs = rows[sel], cols[sel], x[sel]
                total += float(glove_loss(*params, r, c, xs, cfg.x_max, cfg.alpha))
                grads = glove_gradients(*params, r, c, xs, cfg.x_max, cfg.alpha)
                for p, g2, g in zip(params, gradsq, grads, strict=True):
                    step = cfg.learning_rate * g / 2  # glove.c's gradient is that of J / 2
                    p -= step / torch.sqrt(g2)
                    g2 += step**2
            self.losses.append(total)
        w, w_ctx = params[0], params[1]
        self.vectors = (w + w_ctx).numpy().copy()
        self.seconds = time.perf_counter() - start
        return self

    def __getitem__(self, word: str) -> np.ndarray:
        assert self.vocab is not None and self.vectors is not None
        return self.vectors[self.vocab.index[word]]


__all__ = [
    "Cooccurrence",
    "GloVe",
    "GloVeConfig",
    "cooccurrence",
    "glove_gradients",
    "glove_loss",
    "weighting",
]
