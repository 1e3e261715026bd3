"""The BPE merge engine shared by character and byte-level BPE (Sennrich et al., 2016).

Training works on the *unique* pre-tokenized words with their counts. Pair counts are kept
incrementally: merging pair ``(a, b)`` only touches the words that contain it (an index from pair
to words), and a max-heap with lazy deletion picks the next pair, so a merge costs time
proportional to the words it changes rather than to the corpus. Ties between equally frequent
pairs go to the pair whose ids sort first under ``order`` — the rule Hugging Face ``tokenizers``'
``BpeTrainer`` uses (its heap orders equal counts by ascending ``(id_a, id_b)``), so with the same
id order the merge lists come out identical. A merge whose result already exists (``"a"+"bc"`` vs
``"ab"+"c"``) reuses that token's id, again as ``BpeTrainer`` does.

``naive_train`` recounts every pair of every word after each merge: the reference the
benchmark measures the incremental trainer against.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T", str, bytes)


def _pairs(word: Sequence[int]) -> Counter[tuple[int, int]]:
    return Counter(itertools.pairwise(word))


def merge_word(word: list[int], a: int, b: int, new_id: int) -> list[int]:
    """Replace every non-overlapping ``a b`` (left to right) in ``word`` by ``new_id``."""
    out: list[int] = []
    i, n = 0, len(word)
    while i < n:
        if i < n - 1 and word[i] == a and word[i + 1] == b:
            out.append(new_id)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return out


def train_merges(
    words: list[list[int]],
    counts: list[int],
    vocab: list[T],
    target_size: int,
    order: list[int] | None = None,
    min_frequency: int = 1,
    progress: Callable[[int], None] | None = None,
) -> list[tuple[int, int, int]]:
    """Learn merges until ``vocab`` holds ``target_size`` tokens; return ``(a, b, new_id)`` list.

    ``words`` are token-id sequences of the unique words (modified in place), ``counts`` their
    frequencies, ``vocab`` the id -> token list (extended in place). ``order[id]`` is the id's
    position for tie-breaking (default: the id itself); new tokens sort after all old ones.
    """
    order = list(order) if order is not None else list(range(len(vocab)))
    index = {tok: i for i, tok in enumerate(vocab)}
    pair_counts: defaultdict[tuple[int, int], int] = defaultdict(int)
    where: defaultdict[tuple[int, int], set[int]] = defaultdict(set)
    for wi, word in enumerate(words):
        count = counts[wi]
        for pair in itertools.pairwise(word):
            pair_counts[pair] += count
            where[pair].add(wi)
    heap = [(-c, order[a], order[b], a, b) for (a, b), c in pair_counts.items()]
    heapq.heapify(heap)
    merges: list[tuple[int, int, int]] = []
    while len(vocab) < target_size and heap:
        neg, oa, ob, a, b = heapq.heappop(heap)
        current = pair_counts.get((a, b), 0)
        if -neg != current:  # stale entry: the count fell since it was pushed
            if current > 0:
                heapq.heappush(heap, (-current, oa, ob, a, b))
            continue
        if current < min_frequency:
            break
        token = vocab[a] + vocab[b]
        new_id = index.get(token)
        if new_id is None:
            new_id = len(vocab)
            vocab.append(token)
            index[token] = new_id
            order.append(len(order))
        merges.append((a, b, new_id))
        touched: dict[tuple[int, int], int] = {}
        for wi in where.pop((a, b)):
            old = words[wi]
            new = merge_word(old, a, b, new_id)
            if len(new) == len(old):
                continue
            words[wi] = new
            delta = _pairs(new)
            delta.subtract(_pairs(old))
            count = counts[wi]
            for pair, change in delta.items():
                if change:
                    pair_counts[pair] += change * count
                    if change > 0:
                        where[pair].add(wi)
                        touched[pair] = 1
        pair_counts.pop((a, b), None)
        for pair in touched:
            c = pair_counts[pair]
            if c > 0:
                heapq.heappush(heap, (-c, order[pair[0]], order[pair[1]], pair[0], pair[1]))
        if progress is not None:
            progress(len(merges))
    return merges


def naive_train(
    words: list[list[int]],
    counts: list[int],
    vocab: list[T],
    target_size: int,
    order: list[int] | None = None,
) -> list[tuple[int, int, int]]:
    """The textbook loop: recount all pairs, merge the best, repeat. Same result, much slower."""
    order = list(order) if order is not None else list(range(len(vocab)))
    index = {tok: i for i, tok in enumerate(vocab)}
    merges: list[tuple[int, int, int]] = []
    while len(vocab) < target_size:
        stats: Counter[tuple[int, int]] = Counter()
        for word, count in zip(words, counts, strict=True):
            for pair in itertools.pairwise(word):
                stats[pair] += count
        if not stats:
            break
        a, b = min(stats, key=lambda p: (-stats[p], order[p[0]], order[p[1]]))
        token = vocab[a] + vocab[b]
        new_id = index.get(token)
        if new_id is None:
            new_id = len(vocab)
            vocab.append(token)
            index[token] = new_id
            order.append(len(order))
        merges.append((a, b, new_id))
        words[:] = [merge_word(w, a, b, new_id) for w in words]
    return merges


def apply_merges(ids: list[int], ranks: dict[tuple[int, int], tuple[int, int]]) -> list[int]:
    """Encode one word: repeatedly merge the adjacent pair with the lowest merge rank.

    ``ranks[(a, b)] = (rank, new_id)``. This is the Hugging Face ``BPE`` model's rule.
    """
    while len(ids) >= 2:
        best = None
        for pair in itertools.pairwise(ids):
            found = ranks.get(pair)
            if found is not None and (best is None or found[0] < best[0]):
                best = (found[0], found[1], pair)
        if best is None:
            break
        _, new_id, (a, b) = best
        ids = merge_word(ids, a, b, new_id)
    return ids


__all__ = ["apply_merges", "merge_word", "naive_train", "train_merges"]
