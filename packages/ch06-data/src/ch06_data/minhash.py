"""MinHash signatures from scratch, vectorised with NumPy (Broder 1997; datasketch's "affine32").

A document becomes a set of word *k*-shingles; each shingle is hashed to 32 bits; the hash goes
through the MurmurHash3 finaliser (``fmix32``) and then through ``num_perm`` affine permutations
``h -> a*h + b mod 2**32`` (``a`` odd, so each is a bijection). A signature is the column-wise
minimum over the document's shingles, and the fraction of equal signature positions estimates the
Jaccard similarity of two shingle sets.

The permutations are drawn exactly as ``datasketch.MinHash(num_perm, seed)`` draws them (NumPy's
``RandomState(seed)``), so with the same shingle hash our signatures equal datasketch's bit for
bit (tests hold them together). What makes ours fast is doing a whole batch of documents in one
array expression, and hashing each distinct *word* once (a cached SHA-1) and combining the word
hashes of a shingle arithmetically (:func:`combine_hashes`) instead of SHA-1 per shingle.
"""

from __future__ import annotations

import hashlib
import re
import struct
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

MAX_HASH = np.uint32(0xFFFFFFFF)
_WORD = re.compile(r"\w+", re.UNICODE)
_FNV_PRIME = np.uint32(0x01000193)
_SEED = np.uint32(0x811C9DC5)


def normalize(text: str) -> str:
    """NFKC, lower case, words only, single spaces: the form both exact and near dedup compare."""
    return " ".join(_WORD.findall(unicodedata.normalize("NFKC", text).lower()))


def words(text: str) -> list[str]:
    """The normalised words of ``text``."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).lower())


def shingles(text: str, k: int = 5) -> list[str]:
    """Word ``k``-shingles of ``text`` (a text shorter than ``k`` words is one shingle)."""
    w = words(text)
    if not w:
        return []
    if len(w) < k:
        return [" ".join(w)]
    return [" ".join(w[i : i + k]) for i in range(len(w) - k + 1)]


def sha1_hash32(data: bytes) -> int:
    """The first four bytes of SHA-1, little endian (datasketch's default 32-bit hash)."""
    return struct.unpack("<I", hashlib.sha1(data).digest()[:4])[0]


def fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser: an avalanching bijection applied before the permutations."""
    h = h.astype(np.uint32, copy=True)
    h ^= h >> np.uint32(16)
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    return h


def permutations(num_perm: int = 128, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The ``(a, b)`` of ``num_perm`` affine permutations, drawn as datasketch draws them."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def combine_hashes(word_hashes: np.ndarray, k: int) -> np.ndarray:
    """Hash each window of ``k`` consecutive word hashes into one 32-bit shingle hash (FNV-style).

    A text with fewer than ``k`` words gets one hash of all its words, like :func:`shingles`.
    """
    n = len(word_hashes)
    if n == 0:
        return np.empty(0, dtype=np.uint32)
    width = min(k, n)
    m = n - width + 1
    h = np.full(m, _SEED, dtype=np.uint32)
    for j in range(width):
        h = (h ^ word_hashes[j : j + m]) * _FNV_PRIME
    return h


def shingle_hash(shingle: bytes) -> int:
    """The hash :class:`MinHasher` gives one shingle (``b"w1 w2 ..."``), as a Python function.

    Pass it to ``datasketch.MinHash(hashfunc=shingle_hash)`` to get our signatures from datasketch.
    """
    hs = np.array([sha1_hash32(w.encode()) for w in shingle.decode().split(" ")], dtype=np.uint32)
    return int(combine_hashes(hs, len(hs))[0])


@dataclass
class MinHasher:
    """Batch MinHash: ``signatures(texts)`` is a ``(len(texts), num_perm)`` uint32 array.

    ``hashing="words"`` (the default) hashes words once and combines them per shingle;
    ``hashing="sha1"`` runs SHA-1 over every shingle's UTF-8 bytes (datasketch's default).
    """

    num_perm: int = 128
    seed: int = 1
    k: int = 5
    hashing: str = "words"
    batch_rows: int = 1 << 16  # shingles per array step: bounds memory at batch_rows*num_perm*4 B
    _cache: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.hashing not in ("words", "sha1"):
            raise ValueError("hashing must be 'words' or 'sha1'")
        self.a, self.b = permutations(self.num_perm, self.seed)

    def shingle_hashes(self, text: str) -> np.ndarray:
        """The 32-bit hashes of the shingles of ``text`` (before fmix and permutation)."""
        if self.hashing == "sha1":
            return np.array(
                [sha1_hash32(s.encode("utf-8")) for s in shingles(text, self.k)], dtype=np.uint32
            )
        cache = self._cache
        if len(cache) > 2_000_000:  # bound the word cache on huge vocabularies
            cache.clear()
        hs = []
        for w in words(text):
            h = cache.get(w)
            if h is None:
                h = cache[w] = sha1_hash32(w.encode("utf-8"))
            hs.append(h)
        return combine_hashes(np.array(hs, dtype=np.uint32), self.k)

    def signatures(self, texts: Sequence[str]) -> np.ndarray:
        """MinHash signatures of ``texts``; an empty text gets the all-``MAX_HASH`` signature."""
        out = np.full((len(texts), self.num_perm), MAX_HASH, dtype=np.uint32)
        pending: list[tuple[int, np.ndarray]] = []
        rows = 0
        for i, text in enumerate(texts):
            h = self.shingle_hashes(text)
            if len(h):
                pending.append((i, h))
                rows += len(h)
            if rows >= self.batch_rows:
                self._fill(out, pending)
                pending, rows = [], 0
        if pending:
            self._fill(out, pending)
        return out

    def _fill(self, out: np.ndarray, pending: list[tuple[int, np.ndarray]]) -> None:
        idx = np.array([i for i, _ in pending])
        lengths = np.array([len(h) for _, h in pending])
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        hv = fmix32(np.concatenate([h for _, h in pending]))
        phv = hv[:, None] * self.a[None, :] + self.b[None, :]  # wraps mod 2**32, as intended
        out[idx] = np.minimum.reduceat(phv, starts, axis=0)


def jaccard_estimate(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """The fraction of equal positions: the MinHash estimate of Jaccard similarity."""
    return float(np.mean(sig_a == sig_b))


def jaccard(a: set, b: set) -> float:
    """Exact Jaccard similarity of two sets (1.0 for two empty sets)."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)
