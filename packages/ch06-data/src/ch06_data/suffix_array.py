"""Exact-substring dedup with a suffix array (Lee et al. 2022, "Deduplicating Training Data Makes
Language Models Better").

All documents are concatenated into one integer sequence (UTF-8 bytes, each document followed by
its own unique separator, so no match crosses a document boundary). The suffix array is built by
prefix doubling (Manber & Myers) with NumPy sorts, the LCP array by Kasai's algorithm. Adjacent
suffixes sharing at least ``min_len`` bytes mark a repeated substring; every occurrence after the
first (by position) is cut out. This catches long repeated spans (boilerplate, licences, copied
paragraphs) inside documents that are otherwise different, which document-level MinHash misses.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def suffix_array(seq: np.ndarray) -> np.ndarray:
    """Start positions of the suffixes of ``seq`` (non-negative ints) in lexicographic order."""
    n = len(seq)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    rank = np.unique(seq, return_inverse=True)[1].astype(np.int64).ravel()
    k = 1
    while True:
        second = np.full(n, -1, dtype=np.int64)
        second[: n - k] = rank[k:] if k < n else second[:0]
        order = np.lexsort((second, rank))
        keys_r, keys_s = rank[order], second[order]
        change = np.empty(n, dtype=bool)
        change[0] = False
        change[1:] = (keys_r[1:] != keys_r[:-1]) | (keys_s[1:] != keys_s[:-1])
        new_rank = np.empty(n, dtype=np.int64)
        new_rank[order] = np.cumsum(change)
        rank = new_rank
        if rank.max() == n - 1:
            return order
        k *= 2
        if k >= n:
            return order


def lcp_array(seq: np.ndarray, sa: np.ndarray) -> np.ndarray:
    """``lcp[i]``: common prefix length of suffixes ``sa[i-1]`` and ``sa[i]`` (Kasai et al.)."""
    n = len(seq)
    rank = np.empty(n, dtype=np.int64)
    rank[sa] = np.arange(n)
    s = seq.tolist()
    sa_l = sa.tolist()
    lcp = [0] * n
    h = 0
    for i in range(n):
        r = int(rank[i])
        if r > 0:
            j = sa_l[r - 1]
            while i + h < n and j + h < n and s[i + h] == s[j + h]:
                h += 1
            lcp[r] = h
            if h:
                h -= 1
        else:
            h = 0
    return np.array(lcp, dtype=np.int64)


def remove_repeated_substrings(docs: Sequence[str], min_len: int = 50) -> tuple[list[str], int]:
    """Cut every repeat (after its first occurrence) of any substring of >= ``min_len`` bytes.

    Returns the cleaned documents and the number of bytes removed.
    """
    parts, starts = [], []
    pos = 0
    for d, doc in enumerate(docs):
        b = np.frombuffer(doc.encode("utf-8"), dtype=np.uint8).astype(np.int64)
        starts.append(pos)
        parts += [b, np.array([256 + d], dtype=np.int64)]
        pos += len(b) + 1
    if not parts:
        return [], 0
    seq = np.concatenate(parts)
    sa = suffix_array(seq)
    lcp = lcp_array(seq, sa)
    remove = np.zeros(len(seq), dtype=np.int64)  # difference array of cut intervals
    for i in np.flatnonzero(lcp >= min_len):
        later = max(int(sa[i - 1]), int(sa[i]))
        remove[later] += 1
        if later + int(lcp[i]) < len(remove):
            remove[later + int(lcp[i])] -= 1
    cut = np.cumsum(remove) > 0
    out, removed = [], 0
    for d, doc in enumerate(docs):
        raw = doc.encode("utf-8")
        mask = cut[starts[d] : starts[d] + len(raw)]
        removed += int(mask.sum())
        kept = bytes(np.frombuffer(raw, dtype=np.uint8)[~mask])
        out.append(kept.decode("utf-8", "ignore"))
    return out, removed
