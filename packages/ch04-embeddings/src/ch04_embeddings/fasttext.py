"""FastText-style subword vectors from scratch (Bojanowski et al., 2017), as fastText does it.

- **Character n-grams** of ``"<" + word + ">"`` (the boundary markers) of ``min_n..max_n``
  characters, read like fastText's ``Dictionary::computeSubwords``: over the word's UTF-8 bytes,
  an n-gram starts only at the first byte of a character and its length counts characters; the
  one-character n-grams ``<`` and ``>`` are skipped.
- **Hashing** into ``bucket`` rows with fastText's 32-bit FNV-1a (every byte sign-extended from
  ``int8``, as ``Dictionary::hash`` does), so no n-gram vocabulary is stored.
- **Skip-gram with negative sampling** over the word's vector plus its n-grams' vectors: the
  input of a centre word is the mean of those rows; every row gets the whole gradient (fastText's
  ``Model::update``). Vocabulary, subsampling, dynamic windows, noise and the learning-rate
  schedule are word2vec's (:mod:`ch04_embeddings.word2vec`).
- A **vector for any word**: in-vocabulary, the mean of its word row and n-gram rows;
  out-of-vocabulary, the mean of its n-gram rows (gensim's ``FastTextKeyedVectors.get_vector``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from ch04_embeddings.word2vec import Vocab, window_pairs


@dataclass
class FastTextConfig:
    """Training settings; the defaults follow gensim's ``FastText`` except ``bucket``."""

    dim: int = 50
    window: int = 5
    negative: int = 5
    sample: float = 1e-3
    min_count: int = 2
    epochs: int = 5
    alpha: float = 0.025
    min_alpha: float = 1e-4
    min_n: int = 3
    max_n: int = 6
    bucket: int = 200_000  # fastText's 2,000,000 would be 400 MB of float32 at dim 50
    batch_size: int = 1024
    ns_exponent: float = 0.75
    seed: int = 0


def char_ngrams(word: str, min_n: int = 3, max_n: int = 6) -> list[bytes]:
    """The character n-grams of ``<word>`` as UTF-8 bytes, in fastText's order."""
    data = f"<{word}>".encode()
    out = []
    for i in range(len(data)):
        if data[i] & 0xC0 == 0x80:  # a UTF-8 continuation byte: not a character start
            continue
        j, n = i, 1
        while j < len(data) and n <= max_n:
            j += 1
            while j < len(data) and data[j] & 0xC0 == 0x80:
                j += 1
            if n >= min_n and not (n == 1 and (i == 0 or j == len(data))):
                out.append(data[i:j])
            n += 1
    return out


def fasttext_hash(data: bytes) -> int:
    """fastText's FNV-1a: ``h ^= uint32(int8(byte)); h *= 16777619`` from 2166136261."""
    h = 2166136261
    for byte in data:
        h ^= (byte - 256 if byte >= 128 else byte) & 0xFFFFFFFF  # sign-extend, as int8_t does
        h = (h * 16777619) & 0xFFFFFFFF
    return h


def ngram_buckets(word: str, min_n: int = 3, max_n: int = 6, bucket: int = 200_000) -> list[int]:
    """The bucket rows of ``word``'s n-grams (duplicates kept, as fastText keeps them)."""
    return [fasttext_hash(g) % bucket for g in char_ngrams(word, min_n, max_n)]


def _subword_sgd_step(
    table: torch.Tensor,
    u_out: torch.Tensor,
    flat: torch.Tensor,
    offsets: torch.Tensor,
    lengths: torch.Tensor,
    y: torch.Tensor,
    negative: int,
    noise: torch.Tensor,
    lr: float,
    gen: torch.Generator,
) -> None:
    """One mini-batch of negative-sampling SGD with bag-of-subword inputs, in place.

    Example ``b``'s input rows are ``flat[offsets[b] : offsets[b] + lengths[b]]``; its hidden
    vector ``h`` is their mean. With ``s = u · h`` and ``g = (label - σ(s)) lr``, the output
    vectors move by ``g h`` and every input row by the whole ``Σ g u``.
    """
    h = torch.nn.functional.embedding_bag(flat, table, offsets, mode="mean")
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
    table.index_add_(0, flat, dh.repeat_interleave(lengths, dim=0))


class FastText:
    """Skip-gram with negative sampling over word + subword vectors."""

    def __init__(self, config: FastTextConfig | None = None) -> None:
        self.config = config or FastTextConfig()
        self.vocab: Vocab | None = None
        self.table: np.ndarray | None = None  # rows 0..V-1 words, V.. the n-gram buckets
        self.vectors: np.ndarray | None = None  # in-vocabulary word vectors (composed)
        self.words_per_second = 0.0

    def subword_rows(self, word: str) -> list[int]:
        """Rows of ``table`` that make up ``word`` (its own row only if it is in the vocabulary)."""
        assert self.vocab is not None
        cfg = self.config
        rows = [len(self.vocab) + b for b in ngram_buckets(word, cfg.min_n, cfg.max_n, cfg.bucket)]
        if word in self.vocab.index:
            rows.insert(0, self.vocab.index[word])
        return rows

    def train(self, sentences: list[list[str]]) -> FastText:
        """Fit on tokenised ``sentences``; returns ``self``."""
        cfg = self.config
        rng = np.random.default_rng(cfg.seed)
        gen = torch.Generator().manual_seed(cfg.seed)
        self.vocab = vocab = Vocab(sentences, cfg.min_count)
        if len(vocab) < 2:
            raise ValueError("the corpus has fewer than 2 words that reach min_count")
        rows = [self.subword_rows(w) for w in vocab.words]
        # each word's input rows, concatenated (CSR): word i owns flat_rows[starts[i]:+lens[i]]
        lens = torch.tensor([len(r) for r in rows])
        starts = torch.cumsum(lens, 0) - lens
        flat_rows = torch.tensor([i for r in rows for i in r])
        ids = vocab.encode(sentences)
        keep = vocab.keep_probabilities(cfg.sample)
        noise = torch.tensor(vocab.noise_distribution(cfg.ns_exponent), dtype=torch.float)
        # fastText / gensim: input rows (words and buckets) uniform in ±1/dim, output rows zero
        table = (torch.rand(len(vocab) + cfg.bucket, cfg.dim, generator=gen) * 2 - 1) / cfg.dim
        u_out = torch.zeros(len(vocab), cfg.dim)
        total_words = int(sum(len(s) for s in ids))
        start = time.perf_counter()
        for epoch in range(cfg.epochs):
            center, context, pos = window_pairs(ids, cfg.window, keep, rng)
            center, targets = torch.from_numpy(center), torch.from_numpy(context)
            progress = pos / (int(pos[-1]) + 1 if len(pos) else 1)
            for b in range(0, len(targets), cfg.batch_size):
                frac = (epoch + progress[b]) / cfg.epochs
                lr = cfg.alpha - (cfg.alpha - cfg.min_alpha) * frac
                words, y = center[b : b + cfg.batch_size], targets[b : b + cfg.batch_size]
                n = lens[words]
                offsets = torch.cumsum(n, 0) - n
                # position k of the batch's flat list reads flat_rows[starts[word] + k - offset]
                within = torch.arange(int(n.sum())) - offsets.repeat_interleave(n)
                flat = flat_rows[starts[words].repeat_interleave(n) + within]
                _subword_sgd_step(table, u_out, flat, offsets, n, y, cfg.negative, noise, lr, gen)
        self.table = table.numpy()
        self.words_per_second = total_words * cfg.epochs / max(time.perf_counter() - start, 1e-9)
        self.vectors = np.stack([self.table[r].mean(0) for r in rows])
        return self

    def vector(self, word: str) -> np.ndarray:
        """The vector of any word; an out-of-vocabulary word needs at least one n-gram."""
        assert self.table is not None
        rows = self.subword_rows(word)
        if not rows:
            raise KeyError(f"{word!r} is out of vocabulary and has no n-grams")
        return self.table[rows].mean(0)

    def __getitem__(self, word: str) -> np.ndarray:
        return self.vector(word)


__all__ = ["FastText", "FastTextConfig", "char_ngrams", "fasttext_hash", "ngram_buckets"]
