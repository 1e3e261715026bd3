"""word2vec from scratch: skip-gram and CBOW with negative sampling and subsampling.

Mikolov et al. (2013), as the original C tool and gensim implement it:

- **Vocabulary**: words seen at least ``min_count`` times, most frequent first.
- **Subsampling** of frequent words: a token of a word with count ``c`` is kept with probability
  ``(sqrt(c / t) + 1) * t / c`` where ``t = sample * total_tokens`` (gensim's formula).
- **Dynamic window**: for every position a window ``b`` is drawn uniformly from ``1..window``,
  so nearer words are context more often.
- **Skip-gram**: each (center, context) pair is a positive example; ``negative`` noise words are
  drawn from the unigram distribution raised to ``0.75``. The loss of a pair is
  ``-log σ(u_ctx · v_w) - Σ_n log σ(-u_n · v_w)`` with input vectors ``v`` and output vectors
  ``u``.
- **CBOW**: the mean of the window's input vectors predicts the center word, same loss.
- **SGD** with the learning rate falling linearly from ``alpha`` to ``min_alpha``.

Pairs are trained in mini-batches (sparse embedding gradients, plain SGD), which is what makes a
pure-Python implementation usable; the word vectors are the input vectors ``v``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class Word2VecConfig:
    """Training settings; the defaults follow gensim's ``Word2Vec``."""

    dim: int = 50
    window: int = 5
    negative: int = 5
    sample: float = 1e-3
    min_count: int = 2
    epochs: int = 5
    alpha: float = 0.025
    min_alpha: float = 1e-4
    sg: bool = True  # skip-gram; False = CBOW
    batch_size: int = 1024
    ns_exponent: float = 0.75
    seed: int = 0


class Vocab:
    """Word <-> id with counts, most frequent first (ties: first seen)."""

    def __init__(self, sentences: Iterable[Sequence[str]], min_count: int = 1) -> None:
        counts = Counter(w for s in sentences for w in s)
        kept = [(w, c) for w, c in counts.items() if c >= min_count]
        kept.sort(key=lambda wc: -wc[1])
        self.words = [w for w, _ in kept]
        self.counts = np.array([c for _, c in kept], dtype=np.int64)
        self.index = {w: i for i, w in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, sentences: Iterable[Sequence[str]]) -> list[np.ndarray]:
        """Sentences as id arrays (out-of-vocabulary words dropped)."""
        return [
            np.array([self.index[w] for w in s if w in self.index], dtype=np.int64)
            for s in sentences
        ]

    def keep_probabilities(self, sample: float) -> np.ndarray:
        """Per-word probability that subsampling keeps a token."""
        if sample <= 0:
            return np.ones(len(self))
        threshold = sample * self.counts.sum()
        return np.minimum(1.0, (np.sqrt(self.counts / threshold) + 1) * threshold / self.counts)

    def noise_distribution(self, exponent: float = 0.75) -> np.ndarray:
        p = self.counts.astype(np.float64) ** exponent
        return p / p.sum()


def window_pairs(
    sentences: list[np.ndarray], window: int, keep: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One epoch's skip-gram pairs after subsampling and dynamic windows.

    Returns ``(center, context, position)`` arrays; ``position`` orders the pairs as a
    sequential pass over the corpus would (for the learning-rate schedule).
    """
    kept = [s[rng.random(len(s)) < keep[s]] for s in sentences]
    tokens = np.concatenate(kept) if kept else np.zeros(0, np.int64)
    sent_id = np.repeat(np.arange(len(kept)), [len(s) for s in kept])
    reach = rng.integers(1, window + 1, size=len(tokens))  # the dynamic window
    centers, contexts, positions = [], [], []
    for d in range(1, window + 1):
        for sign in (-1, 1):
            i = np.arange(len(tokens))
            j = i + sign * d
            ok = (j >= 0) & (j < len(tokens))
            i, j = i[ok], j[ok]
            ok = (sent_id[i] == sent_id[j]) & (reach[i] >= d)
            centers.append(tokens[i[ok]])
            contexts.append(tokens[j[ok]])
            positions.append(i[ok])
    pos = np.concatenate(positions)
    order = np.argsort(pos, kind="stable")
    return np.concatenate(centers)[order], np.concatenate(contexts)[order], pos[order]


def cbow_windows(
    sentences: list[np.ndarray], window: int, keep: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """One epoch's CBOW examples: ``(center, contexts)`` with contexts padded by ``-1``."""
    kept = [s[rng.random(len(s)) < keep[s]] for s in sentences]
    tokens = np.concatenate(kept) if kept else np.zeros(0, np.int64)
    sent_id = np.repeat(np.arange(len(kept)), [len(s) for s in kept])
    reach = rng.integers(1, window + 1, size=len(tokens))
    ctx = np.full((len(tokens), 2 * window), -1, dtype=np.int64)
    col = 0
    for d in range(1, window + 1):
        for sign in (-1, 1):
            i = np.arange(len(tokens))
            j = i + sign * d
            ok = (j >= 0) & (j < len(tokens))
            ok[ok] &= (sent_id[i[ok]] == sent_id[j[ok]]) & (reach[i[ok]] >= d)
            ctx[i[ok], col] = tokens[j[ok]]
            col += 1
    has = (ctx >= 0).any(1)
    return tokens[has], ctx[has]


def _sgd_step(
    v_in: torch.Tensor,
    u_out: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    negative: int,
    noise: torch.Tensor,
    lr: float,
    gen: torch.Generator,
) -> None:
    """One mini-batch of negative-sampling SGD, updating the tables in place.

    ``x`` holds input word ids ``(B,)`` (skip-gram) or padded context ids ``(B, 2w)`` (CBOW,
    ``-1`` = none, averaged); ``y`` the words to predict. With ``s = u · h`` the gradient of the
    log-likelihood is ``(label - σ(s))``: the output vectors move by ``g h``, the input by
    ``Σ g u`` (every context word of a CBOW window gets the whole of it, as in word2vec.c).
    """
    if x.dim() == 1:
        h = v_in[x]
    else:
        mask = (x >= 0).float()
        h = (v_in[x.clamp(min=0)] * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    targets = torch.cat(
        [
            y[:, None],
            torch.multinomial(noise, len(y) * negative, True, generator=gen).view(len(y), -1),
        ],
        dim=1,
    )
    u = u_out[targets]
    labels = torch.zeros(targets.shape)
    labels[:, 0] = 1.0
    g = (labels - torch.sigmoid(torch.einsum("bd,bkd->bk", h, u))) * lr
    dh = torch.einsum("bk,bkd->bd", g, u)
    u_out.index_add_(0, targets.reshape(-1), (g[..., None] * h[:, None]).reshape(-1, h.shape[1]))
    if x.dim() == 1:
        v_in.index_add_(0, x, dh)
    else:
        rows, cols = torch.nonzero(x >= 0, as_tuple=True)
        v_in.index_add_(0, x[rows, cols], dh[rows])


class Word2Vec:
    """Skip-gram / CBOW with negative sampling; ``vectors`` are the trained input vectors."""

    def __init__(self, config: Word2VecConfig | None = None) -> None:
        self.config = config or Word2VecConfig()
        self.vocab: Vocab | None = None
        self.vectors: np.ndarray | None = None
        self.words_per_second = 0.0

    def train(self, sentences: list[list[str]]) -> Word2Vec:
        """Fit on tokenised ``sentences``; returns ``self``."""
        cfg = self.config
        rng = np.random.default_rng(cfg.seed)
        gen = torch.Generator().manual_seed(cfg.seed)
        self.vocab = vocab = Vocab(sentences, cfg.min_count)
        if len(vocab) < 2:
            raise ValueError("the corpus has fewer than 2 words that reach min_count")
        ids = vocab.encode(sentences)
        keep = vocab.keep_probabilities(cfg.sample)
        noise = torch.tensor(vocab.noise_distribution(cfg.ns_exponent), dtype=torch.float)
        # gensim's start: input vectors uniform in ±0.5/dim, output vectors zero
        v_in = (torch.rand(len(vocab), cfg.dim, generator=gen) - 0.5) / cfg.dim
        u_out = torch.zeros(len(vocab), cfg.dim)
        total_words = int(sum(len(s) for s in ids))
        start = time.perf_counter()
        for epoch in range(cfg.epochs):
            if cfg.sg:
                center, context, pos = window_pairs(ids, cfg.window, keep, rng)
                inputs, targets = torch.from_numpy(context), torch.from_numpy(center)
                progress = pos / (int(pos[-1]) + 1 if len(pos) else 1)
            else:
                center, ctx = cbow_windows(ids, cfg.window, keep, rng)
                inputs, targets = torch.from_numpy(ctx), torch.from_numpy(center)
                progress = np.arange(len(center)) / max(1, len(center))
            for b in range(0, len(targets), cfg.batch_size):
                frac = (epoch + progress[b]) / cfg.epochs
                lr = cfg.alpha - (cfg.alpha - cfg.min_alpha) * frac
                x, y = inputs[b : b + cfg.batch_size], targets[b : b + cfg.batch_size]
                _sgd_step(v_in, u_out, x, y, cfg.negative, noise, lr, gen)
        self.vectors = v_in.numpy().copy()
        elapsed = time.perf_counter() - start
        self.words_per_second = total_words * cfg.epochs / max(elapsed, 1e-9)
        return self

    def __getitem__(self, word: str) -> np.ndarray:
        assert self.vocab is not None and self.vectors is not None
        return self.vectors[self.vocab.index[word]]


__all__ = ["Vocab", "Word2Vec", "Word2VecConfig", "cbow_windows", "window_pairs"]
