"""Test-set contamination: word n-gram overlap between a training corpus and evaluation sets.

As in GPT-3's and Llama's contamination studies, an evaluation item is contaminated when a large
share of its word n-grams (13-grams by default; shorter for short items) also occur in the training
data. The report lists each contaminated item with its overlap and the training documents it came
from, so the item can be dropped or the training data cleaned.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ch06_data.minhash import words


def ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    """The word ``n``-grams of normalised ``text`` (the whole text if it is shorter)."""
    w = words(text)
    if len(w) < n:
        return {tuple(w)} if w else set()
    return {tuple(w[i : i + n]) for i in range(len(w) - n + 1)}


@dataclass
class ContaminatedItem:
    """One evaluation item found in training data."""

    eval_set: str
    index: int
    overlap: float  # share of the item's n-grams seen in training
    training_docs: list[int]
    text: str


def contamination_report(
    train: Sequence[str],
    eval_sets: Mapping[str, Sequence[str]],
    n: int = 13,
    min_overlap: float = 0.5,
) -> dict:
    """Per eval set: items, contaminated count and rate; plus the list of contaminated items."""
    wanted: dict[tuple[str, ...], list[tuple[str, int]]] = defaultdict(list)
    grams_of: dict[tuple[str, int], set] = {}
    for name, items in eval_sets.items():
        for i, text in enumerate(items):
            g = ngrams(text, n)
            grams_of[(name, i)] = g
            for gram in g:
                wanted[gram].append((name, i))
    hits: dict[tuple[str, int], set] = defaultdict(set)
    sources: dict[tuple[str, int], set[int]] = defaultdict(set)
    for d, doc in enumerate(train):
        for gram in ngrams(doc, n) & wanted.keys():
            for key in wanted[gram]:
                hits[key].add(gram)
                sources[key].add(d)
    items: list[ContaminatedItem] = []
    per_set = {}
    for name, texts in eval_sets.items():
        bad = 0
        for i, text in enumerate(texts):
            g = grams_of[(name, i)]
            overlap = len(hits.get((name, i), ())) / len(g) if g else 0.0
            if g and overlap >= min_overlap:
                bad += 1
                items.append(
                    ContaminatedItem(name, i, round(overlap, 4), sorted(sources[(name, i)]), text)
                )
        per_set[name] = {
            "items": len(texts),
            "contaminated": bad,
            "rate": bad / len(texts) if texts else 0.0,
        }
    return {
        "n": n,
        "min_overlap": min_overlap,
        "sets": per_set,
        "contaminated": [vars(x) for x in items],
    }
