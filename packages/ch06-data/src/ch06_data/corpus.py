"""Generated corpora with planted near-duplicates at known Jaccard similarities.

Base documents are random word sequences over a large vocabulary, so two independent documents
share almost no 5-shingles. A planted copy keeps a contiguous run of the original's words and
replaces the rest with fresh ones; with ``n`` words and ``k``-shingles, keeping ``m`` words shares
``m-k+1`` of ``n-k+1`` shingles, which sets the Jaccard similarity. The true similarity of every
planted pair is measured on the actual shingle sets, never assumed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ch06_data.minhash import jaccard, shingles

#: planted similarity levels: below the usual 0.8 threshold, and above it
DEFAULT_LEVELS = (0.3, 0.5, 0.7, 0.9, 0.95, 1.0)


def vocabulary(size: int = 5000, seed: int = 0) -> list[str]:
    """``size`` distinct pronounceable pseudo-words (consonant-vowel syllables)."""
    rng = np.random.default_rng(seed)
    syllables = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"]
    out: set[str] = set()
    while len(out) < size:
        n = rng.integers(2, 5, size).tolist()
        picks = rng.integers(0, len(syllables), (size, 4)).tolist()
        out.update("".join(syllables[i] for i in row[:k]) for row, k in zip(picks, n, strict=True))
    return sorted(out)[:size]


def _keep_for(target: float, n: int, k: int) -> int:
    # J = s / (2t - s) with t = n-k+1 shingles per document and s shared  =>  s = 2tJ / (1+J)
    t = n - k + 1
    s = round(2 * t * target / (1 + target))
    return min(n, max(0, s + k - 1))


@dataclass
class PlantedCorpus:
    """Records (``{"id", "url", "text"}``) and the planted pairs ``(i, j, true_jaccard)``."""

    records: list[dict]
    pairs: list[tuple[int, int, float]]


def planted_corpus(
    n_base: int = 1000,
    levels: tuple[float, ...] = DEFAULT_LEVELS,
    copies_per_level: int = 50,
    words_per_doc: int = 80,
    k: int = 5,
    seed: int = 0,
) -> PlantedCorpus:
    """``n_base`` random documents plus ``copies_per_level`` planted copies per similarity level."""
    rng = np.random.default_rng(seed)
    vocab = np.array(vocabulary(seed=seed))
    docs = [list(rng.choice(vocab, words_per_doc)) for _ in range(n_base)]
    texts = [" ".join(d) for d in docs]
    pairs: list[tuple[int, int, float]] = []
    for level in levels:
        for _ in range(copies_per_level):
            src = int(rng.integers(n_base))
            keep = _keep_for(level, words_per_doc, k)
            start = int(rng.integers(0, words_per_doc - keep + 1))
            fresh = list(rng.choice(vocab, words_per_doc - keep))
            copy = fresh[:start] + docs[src][start : start + keep] + fresh[start:]
            texts.append(" ".join(copy))
            j = len(texts) - 1
            pairs.append(
                (src, j, jaccard(set(shingles(texts[src], k)), set(shingles(texts[j], k))))
            )
    order = rng.permutation(len(texts))
    where = np.empty_like(order)
    where[order] = np.arange(len(order))
    records = [
        {"id": f"doc-{i:06d}", "url": f"https://example.test/{i}", "text": texts[o]}
        for i, o in enumerate(order)
    ]
    pairs = [(int(min(where[a], where[b])), int(max(where[a], where[b])), s) for a, b, s in pairs]
    return PlantedCorpus(records, pairs)


def pair_metrics(
    found: set[tuple[int, int]],
    corpus: PlantedCorpus,
    threshold: float,
    k: int = 5,
) -> dict[str, float]:
    """Recall over planted pairs with Jaccard >= ``threshold``; precision of the ``found`` pairs.

    A found pair is correct when its true Jaccard, measured on the two documents' shingle sets,
    reaches the threshold (two copies of one source can be near-duplicates of each other too).
    """
    positives = {(a, b) for a, b, s in corpus.pairs if s >= threshold}
    sets: dict[int, set[str]] = {}

    def shingle_set(i: int) -> set[str]:
        if i not in sets:
            sets[i] = set(shingles(corpus.records[i]["text"], k))
        return sets[i]

    correct = sum(jaccard(shingle_set(a), shingle_set(b)) >= threshold for a, b in found)
    recall = len(found & positives) / len(positives) if positives else 1.0
    precision = correct / len(found) if found else 1.0
    return {
        "recall": recall,
        "precision": precision,
        "found": len(found),
        "positives": len(positives),
    }
