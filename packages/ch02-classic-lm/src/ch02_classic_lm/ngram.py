"""N-gram language models: counting, seven smoothings, perplexity, sampling.

A sentence ``w1 .. wm`` is scored as ``<s> w1 .. wm </s>``: one ``<s>`` on the left (contexts never
reach across it, as in SRILM and KenLM) and ``</s>`` predicted at the end. Words never seen in
training map to ``<unk>``, which every smoothing except stupid backoff gives a little mass through
the uniform distribution at the bottom of the chain.

Every model here is one of two shapes over the orders ``1..n`` (Chen & Goodman 1998):

* **interpolated**: ``P_k(w|c) = alpha_k(w|c) + gamma_k(c) * P_{k-1}(w|c')`` where ``c'`` drops the
  oldest word; Laplace/Lidstone (only the top order, over the uniform), Witten-Bell, interpolated
  Kneser-Ney and modified Kneser-Ney (three discounts per order);
* **backoff**: ``P_k(w|c) = alpha_k(w|c)`` if ``c w`` was seen, else ``gamma_k(c) * P_{k-1}(w|c')``;
  Katz backoff over Good-Turing discounted counts, and stupid backoff (Brants et al. 2007, a
  score, not a probability: ``gamma = 0.4`` and nothing sums to one until we normalise).

``P_0`` is the uniform distribution over the vocabulary that can be predicted (everything but
``<s>``). A context never seen at order ``k`` passes ``P_{k-1}`` through unchanged. Kneser-Ney
replaces the counts of the lower orders by continuation counts ``N1+(. g)`` (how many distinct words
precede ``g``), except for n-grams that start with ``<s>``, which nothing can precede (KenLM's
rule); discounts come from counts of counts (``D = n1 / (n1 + 2 n2)``, and Chen & Goodman's
``D1, D2, D3+`` for the modified version) unless given.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from llmpath_core import UserError

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
SMOOTHINGS = (
    "laplace",
    "lidstone",
    "good-turing",
    "witten-bell",
    "kneser-ney",
    "modified-kneser-ney",
    "stupid-backoff",
)
LEVELS = ("char", "word")
_WORD = re.compile(r"\w+|[^\w\s]")
STUPID_BACKOFF = 0.4


def tokenize(text: str, level: str = "word") -> list[list[str]]:
    """Sentences (non-empty lines) as token lists: characters, or words and punctuation marks."""
    if level not in LEVELS:
        raise UserError(f"unknown --level {level!r}: use char or word")
    lines = [line.strip() for line in text.splitlines()]
    if level == "char":
        return [list(line) for line in lines if line]
    return [toks for line in lines if (toks := _WORD.findall(line))]


@dataclass
class Vocabulary:
    """Token <-> id. Ids 0, 1, 2 are ``<s>``, ``</s>``, ``<unk>``; ``<s>`` is never predicted."""

    tokens: list[str] = field(default_factory=lambda: [BOS, EOS, UNK])

    def __post_init__(self) -> None:
        self.index = {t: i for i, t in enumerate(self.tokens)}

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], min_count: int = 1) -> Vocabulary:
        counts: dict[str, int] = {}
        for sentence in sentences:
            for token in sentence:
                counts[token] = counts.get(token, 0) + 1
        kept = sorted(t for t, c in counts.items() if c >= min_count and t not in (BOS, EOS, UNK))
        return cls([BOS, EOS, UNK, *kept])

    def __len__(self) -> int:
        return len(self.tokens)

    def ids(self, tokens: Sequence[str]) -> list[int]:
        unk = self.index[UNK]
        return [self.index.get(t, unk) for t in tokens]


def encode(
    sentences: Sequence[Sequence[str]], vocab: Vocabulary, bos: bool = True, eos: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """All sentences as one id stream plus the sentence number of every position."""
    ids: list[int] = []
    sent: list[int] = []
    for number, sentence in enumerate(sentences):
        row = ([0] if bos else []) + vocab.ids(sentence) + ([1] if eos else [])
        ids += row
        sent += [number] * len(row)
    return np.asarray(ids, dtype=np.int64), np.asarray(sent, dtype=np.int64)


def count_ngrams(ids: np.ndarray, sent: np.ndarray, k: int, vocab_size: int):
    """Distinct k-grams inside sentences (sorted rows, shape ``[m, k]``) and their counts.

    Rows are packed into one int64 key when ``vocab_size ** k`` fits, so that counting is a
    single ``np.unique`` (tens of millions of tokens a second); otherwise ``np.unique(axis=0)``.
    """
    n = len(ids) - k + 1
    if n <= 0:
        return np.zeros((0, k), dtype=np.int64), np.zeros(0, dtype=np.int64)
    valid = sent[:n] == sent[k - 1 :]
    starts = np.nonzero(valid)[0]
    if vocab_size**k < 2**62:
        key = np.zeros(len(starts), dtype=np.int64)
        for j in range(k):
            key = key * vocab_size + ids[starts + j]
        uniq, counts = np.unique(key, return_counts=True)
        grams = np.empty((len(uniq), k), dtype=np.int64)
        rest = uniq.copy()
        for j in range(k - 1, -1, -1):
            grams[:, j] = rest % vocab_size
            rest //= vocab_size
        return grams, counts
    windows = np.stack([ids[starts + j] for j in range(k)], axis=1)
    grams, counts = np.unique(windows, axis=0, return_counts=True)
    return grams, counts


@dataclass
class ContextStats:
    """One context at one order: the words seen after it, their ``alpha``, and ``gamma``."""

    words: np.ndarray
    alphas: np.ndarray
    gamma: float
    lookup: dict[int, float]


def _runs(grams: np.ndarray) -> np.ndarray:
    """Start index of each run of rows sharing the same context (all columns but the last)."""
    if len(grams) == 0:
        return np.zeros(0, dtype=np.int64)
    if grams.shape[1] == 1:
        return np.zeros(1, dtype=np.int64)
    change = np.any(grams[1:, :-1] != grams[:-1, :-1], axis=1)
    return np.concatenate([[0], np.nonzero(change)[0] + 1])


def _count_of_counts(counts: np.ndarray, r: int) -> int:
    return int(np.sum(counts == r))


def kn_discounts(counts: np.ndarray, modified: bool) -> tuple[float, float, float]:
    """``(D1, D2, D3+)`` from counts of counts (Chen & Goodman 1998); all equal unless modified."""
    n = [_count_of_counts(counts, r) for r in range(5)]
    if n[1] == 0 or n[2] == 0:
        return (0.5, 0.5, 0.5) if not modified else (0.5, 1.0, 1.5)
    y = n[1] / (n[1] + 2 * n[2])
    if not modified:
        return (y, y, y)
    d1 = 1 - 2 * y * n[2] / n[1]
    d2 = 2 - 3 * y * n[3] / n[2] if n[2] else 1.0
    d3 = 3 - 4 * y * n[4] / n[3] if n[3] else 1.5
    return (max(d1, 0.0), max(d2, 0.0), max(d3, 0.0))


def katz_discounts(counts: np.ndarray, k: int = 5) -> dict[int, float]:
    """Good-Turing ratios ``d_r = r*/r`` for ``r <= k`` renormalised as in Katz (1987).

    Where counts of counts are too sparse for a ratio in ``(0, 1)``, the count is discounted by
    half instead (absolute discounting). Counts above ``k`` give up the same absolute amount as a
    count of ``k`` (plain Katz leaves them alone, so a context whose followers were all frequent
    would give unseen words probability 0 and the held-out perplexity would be infinite).
    """
    n = [_count_of_counts(counts, r) for r in range(k + 2)]
    out: dict[int, float] = {}
    common = (k + 1) * n[k + 1] / n[1] if n[1] else 0.0
    for r in range(1, k + 1):
        d = math.nan
        if n[r] and n[r + 1] and common < 1:
            star = (r + 1) * n[r + 1] / n[r]
            d = (star / r - common) / (1 - common)
        out[r] = d if 0 < d < 1 else (r - 0.5) / r
    out[0] = k * (1 - out[k])  # the absolute discount for counts above k
    return out


def _katz_ratio(count: float, d: dict[int, float], k: int = 5) -> float:
    return d[int(count)] if count <= k else (count - d[0]) / count


class NgramLM:
    """An n-gram language model over ids of a :class:`Vocabulary` (see the module docstring)."""

    def __init__(
        self,
        order: int,
        smoothing: str = "modified-kneser-ney",
        *,
        k: float = 1.0,
        discounts: Sequence[float] | None = None,
    ) -> None:
        if order < 1:
            raise UserError(f"--order must be at least 1 (got {order})")
        if smoothing not in SMOOTHINGS:
            raise UserError(
                f"unknown --smoothing {smoothing!r}: use one of {', '.join(SMOOTHINGS)}"
            )
        if smoothing in ("laplace", "lidstone") and k <= 0:
            raise UserError("the additive constant k must be positive")
        self.order = order
        self.smoothing = smoothing
        self.k = 1.0 if smoothing == "laplace" else k
        self.fixed_discounts = tuple(discounts) if discounts is not None else None
        self.backoff = smoothing in ("good-turing", "stupid-backoff")
        self.levels: list[dict[tuple[int, ...], ContextStats]] = []
        self.discounts: list[tuple[float, float, float]] = []
        self._norm: dict[tuple[int, ...], float] = {}

    # ----------------------------------------------------------------- training
    def fit(
        self,
        sentences: Sequence[Sequence[str]],
        vocab: Vocabulary | None = None,
        *,
        bos: bool = True,
        eos: bool = True,
    ) -> NgramLM:
        """Count 1..n-grams of ``sentences`` (token lists) and build every order's statistics."""
        if not any(len(s) for s in sentences):
            raise UserError("the training text is empty: give a file with at least one token")
        self.vocab = vocab or Vocabulary.build(sentences)
        self.bos = bos
        ids, sent = encode(sentences, self.vocab, bos, eos)
        V = len(self.vocab)
        self.raw = [count_ngrams(ids, sent, k, V) for k in range(1, self.order + 1)]
        self.tokens_trained = len(ids)
        self.uniform = np.full(V, 1.0 / (V - 1))
        self.uniform[0] = 0.0
        self.levels = []
        self.discounts = []
        for k in range(1, self.order + 1):
            grams, counts = self._level_counts(k)
            self.levels.append(self._build_level(k, grams, counts.astype(np.float64)))
        return self

    def _level_counts(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        grams, counts = self.raw[k - 1]
        if k == 1:  # <s> is a context, never a prediction
            keep = grams[:, 0] != 0
            grams, counts = grams[keep], counts[keep]
        if self.smoothing not in ("kneser-ney", "modified-kneser-ney") or k == self.order:
            return grams, counts
        # continuation counts N1+(. g): distinct left neighbours of g in the (k+1)-grams
        higher, _ = self.raw[k]
        cont, ccounts = np.unique(higher[:, 1:], axis=0, return_counts=True)
        if self.bos:  # n-grams that start with <s> cannot be extended to the left: raw counts
            start = grams[:, 0] == 0
            cont = np.concatenate([cont, grams[start]])
            ccounts = np.concatenate([ccounts, counts[start]])
        order = np.lexsort(cont.T[::-1])
        return cont[order], ccounts[order]

    def _build_level(self, k: int, grams: np.ndarray, counts: np.ndarray):
        V = len(self.vocab)
        starts = _runs(grams)
        totals = np.add.reduceat(counts, starts) if len(starts) else np.zeros(0)
        sizes = np.diff(np.append(starts, len(grams)))
        run_total = np.repeat(totals, sizes)
        s = self.smoothing
        if s in ("laplace", "lidstone"):
            kv = self.k * (V - 1)
            alphas = counts / (run_total + kv)
            gammas = kv / (totals + kv)
        elif s == "witten-bell":
            types = sizes.astype(np.float64)
            alphas = counts / (run_total + np.repeat(types, sizes))
            gammas = types / (totals + types)
        elif s in ("kneser-ney", "modified-kneser-ney"):
            if self.fixed_discounts is not None:
                d = float(self.fixed_discounts[k - 1])
                ds = (d, d, d)
            else:
                ds = kn_discounts(counts, s == "modified-kneser-ney")
            self.discounts.append(ds)
            disc = np.where(counts >= 3, ds[2], np.where(counts >= 2, ds[1], ds[0]))
            disc = np.minimum(disc, counts)
            alphas = (counts - disc) / run_total
            gammas = np.add.reduceat(disc, starts) / totals if len(starts) else totals
        elif s == "stupid-backoff":
            alphas = counts / run_total
            gammas = np.full(len(starts), STUPID_BACKOFF)
        else:  # good-turing: Katz backoff
            d = katz_discounts(counts)
            ratio = np.array([_katz_ratio(c, d) for c in counts.tolist()])
            alphas = ratio * counts / run_total
            gammas = np.ones(len(starts))  # filled in below from the lower order
        level: dict[tuple[int, ...], ContextStats] = {}
        ends = np.append(starts[1:], len(grams))
        for i, (a, b) in enumerate(zip(starts.tolist(), ends.tolist(), strict=False)):
            ctx = tuple(grams[a, :-1].tolist())
            words = grams[a:b, -1]
            al = alphas[a:b]
            gamma = float(gammas[i])
            if s == "good-turing":
                left = 1.0 - float(al.sum())
                lower = sum(self._prob_upto(int(w), ctx[1:], k - 1) for w in words)
                gamma = left / (1.0 - lower) if 1.0 - lower > 1e-12 else 0.0
                if gamma == 0.0:  # the lower order has no mass left for unseen words
                    al = al / al.sum()
            lookup = dict(zip(words.tolist(), al.tolist(), strict=True))
            level[ctx] = ContextStats(words, al, gamma, lookup)
        return level

    # ----------------------------------------------------------------- scoring
    def _chain(self, length: int) -> range:
        """The orders (0-based level indices) that combine for a context of ``length`` words."""
        if self.smoothing in ("laplace", "lidstone"):
            return range(length, length + 1)
        return range(0, length + 1)

    def _prob_upto(self, word: int, context: tuple[int, ...], top: int) -> float:
        """``P_top(word | context)`` with ``context`` already cut to ``top - 1`` words."""
        p = float(self.uniform[word])
        if top == 0:
            return p
        for j in self._chain(top - 1):
            stats = self.levels[j].get(context[len(context) - j :] if j else ())
            if stats is None:
                continue
            alpha = stats.lookup.get(word)
            if self.backoff:
                p = alpha if alpha is not None else stats.gamma * p
            else:
                p = (alpha or 0.0) + stats.gamma * p
        return p

    def context_of(self, history: Sequence[int]) -> tuple[int, ...]:
        """The last ``n - 1`` ids of ``history`` (never reaching before its last ``<s>``)."""
        ctx = tuple(history[-(self.order - 1) :]) if self.order > 1 else ()
        if 0 in ctx:
            ctx = ctx[len(ctx) - 1 - ctx[::-1].index(0) :]
        return ctx

    def score(self, word: int, context: Sequence[int]) -> float:
        """The model's value for ``word`` after ``context``: a probability, except for stupid
        backoff, where it is the unnormalised score."""
        ctx = self.context_of(context)
        return self._prob_upto(word, ctx, len(ctx) + 1)

    def prob(self, word: int, context: Sequence[int]) -> float:
        """``P(word | context)``; stupid backoff's score is normalised over the vocabulary."""
        p = self.score(word, context)
        if self.smoothing == "stupid-backoff":
            ctx = self.context_of(context)
            if ctx not in self._norm:
                self._norm[ctx] = float(self._scores(ctx).sum())
            p /= self._norm[ctx]
        return p

    def _scores(self, ctx: tuple[int, ...]) -> np.ndarray:
        p = self.uniform.copy()
        for j in self._chain(len(ctx)):
            stats = self.levels[j].get(ctx[len(ctx) - j :] if j else ())
            if stats is None:
                continue
            if self.backoff:
                p = stats.gamma * p
                p[stats.words] = stats.alphas
            else:
                p = stats.gamma * p
                p[stats.words] += stats.alphas
        return p

    def distribution(self, context: Sequence[int]) -> np.ndarray:
        """``P(. | context)`` over the whole vocabulary (entry 0, ``<s>``, is 0)."""
        p = self._scores(self.context_of(context))
        return p / p.sum() if self.smoothing == "stupid-backoff" else p

    def backoff_weight(self, context: tuple[int, ...]) -> float:
        """``gamma(context)`` at order ``len(context) + 1`` (1 where the context was not seen)."""
        stats = self.levels[len(context)].get(context) if len(context) < self.order else None
        return 1.0 if stats is None else stats.gamma

    def evaluate(self, sentences: Sequence[Sequence[str]]) -> dict:
        """Perplexity, cross-entropy (bits per token) and OOV rate on ``sentences``.

        Every word and each sentence's ``</s>`` is predicted; OOV words are scored as ``<unk>``.
        """
        total_bits = 0.0
        predicted = oov = words = 0
        for sentence in sentences:
            ids = self.vocab.ids(sentence)
            oov += sum(1 for t, i in zip(sentence, ids, strict=False) if i == 2 and t != UNK)
            words += len(ids)
            history = [0] if self.bos else []
            for w in [*ids, 1]:
                p = self.prob(w, history)
                total_bits += -math.log2(p) if p > 0 else math.inf
                predicted += 1
                history.append(w)
        if predicted == 0:
            raise UserError("the evaluation text is empty: give a file with at least one token")
        bits = total_bits / predicted
        return {
            "perplexity": 2.0**bits if math.isfinite(bits) else math.inf,
            "cross_entropy_bits": bits,
            "tokens": predicted,
            "oov": oov,
            "oov_rate": oov / words if words else 0.0,
        }

    def sample(self, rng: np.random.Generator, max_tokens: int = 60) -> list[str]:
        """One sentence drawn token by token from :meth:`distribution` until ``</s>``."""
        history = [0]
        out: list[str] = []
        for _ in range(max_tokens):
            w = int(rng.choice(len(self.vocab), p=self.distribution(history)))
            if w == 1:
                break
            out.append(self.vocab.tokens[w])
            history.append(w)
        return out


def train_ngram(text: str, order: int, smoothing: str, level: str = "word", **kwargs) -> NgramLM:
    """Tokenise ``text`` at ``level`` and fit an :class:`NgramLM`."""
    return NgramLM(order, smoothing, **kwargs).fit(tokenize(text, level))
