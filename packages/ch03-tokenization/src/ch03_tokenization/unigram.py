"""Unigram language-model tokenization, SentencePiece style (Kudo, 2018).

Each piece has a log-probability; a word's segmentation is the most probable sequence of pieces,
found with Viterbi over the lattice of all pieces that match. Training starts from the most
frequent substrings, runs EM (forward-backward expected counts, a Bayesian M-step with digamma as
in SentencePiece) and prunes the pieces whose removal costs the corpus likelihood least, keeping
every single character, until the vocabulary has the asked size. ``sample`` draws a segmentation
from the lattice (subword regularization, forward-filtering backward-sampling).

Text is seen the SentencePiece way: spaces become ``▁`` and a ``▁`` is prepended; pieces only
start at word boundaries or inside words, never span two words. Given SentencePiece's own pieces
and scores, ``encode`` gives SentencePiece's segmentation (the tests check it).
"""

from __future__ import annotations

import math
import random
import struct
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any, ClassVar

from ch03_tokenization.base import Tokenizer, as_texts, hf_skeleton, special_from_hf
from ch03_tokenization.pretokenizers import SPACE_MARK, metaspace_split
from llmpath_core import UserError

UNK = "<unk>"
UNK_PENALTY = 10.0  # SentencePiece scores an unknown character min_score - 10
BYTE_PIECES = [f"<0x{b:02X}>" for b in range(256)]
_F32 = struct.Struct("f")


def f32(x: float) -> float:
    """Round to float32: SentencePiece sums path scores in float32, and ties depend on it."""
    return _F32.unpack(_F32.pack(x))[0]


def digamma(x: float) -> float:
    """ψ(x) by recurrence and the asymptotic series (enough for EM's M-step)."""
    result = 0.0
    while x < 6.0:
        result -= 1.0 / x
        x += 1.0
    f = 1.0 / (x * x)
    series = f * (1 / 12 - f * (1 / 120 - f * (1 / 252 - f * (1 / 240 - f / 132))))
    return result + math.log(x) - 0.5 / x - series


def _logsumexp(a: float, b: float) -> float:
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    m = max(a, b)
    return m + math.log(math.exp(a - m) + math.exp(b - m))


class UnigramTokenizer(Tokenizer):
    """Pieces with log-probabilities; Viterbi encoding; EM training with pruning."""

    algo: ClassVar[str] = "unigram"

    def __init__(
        self,
        pieces: list[tuple[str, float]] | None = None,
        byte_fallback: bool = True,
        whole_text_viterbi: bool = False,
    ) -> None:
        super().__init__()
        self.byte_fallback = byte_fallback
        # SentencePiece runs one Viterbi over the whole sentence and sums scores in float32, so
        # which of two equal-scoring paths wins depends on the running total; matching it exactly
        # needs the same (slower, uncached) whole-text pass. Off by default: per-word + cache.
        self.whole_text_viterbi = whole_text_viterbi
        self._set_pieces(pieces or [])

    def _set_pieces(self, pieces: list[tuple[str, float]]) -> None:
        """``pieces`` are the normal pieces; ids: 0 = <unk>, [bytes], then the pieces."""
        self.pieces = list(pieces)
        head = [UNK, *(BYTE_PIECES if self.byte_fallback else [])]
        self.vocab = head + [p for p, _ in self.pieces]
        self.scores = [0.0] * len(head) + [f32(s) for _, s in self.pieces]
        self.piece_to_id = {p: i + len(head) for i, (p, _) in enumerate(self.pieces)}
        self.max_len = max((len(p) for p, _ in self.pieces), default=1)
        self.min_score = min((s for _, s in self.pieces), default=0.0)
        self.special_tokens = {UNK: 0} if not self.special_tokens else self.special_tokens
        self._cache: dict[str, list[int]] = {}

    def base_vocab_size(self) -> int:
        return len(self.vocab)

    # -- encoding ------------------------------------------------------------------------------
    def viterbi(self, word: str) -> list[tuple[int, int]]:
        """Best segmentation of ``word`` as ``(start, end)`` spans; -1 id spans are unknown."""
        n = len(word)
        best = [-math.inf] * (n + 1)
        back: list[tuple[int, int]] = [(0, 0)] * (n + 1)  # (start, piece id or -1 for unk)
        best[0] = 0.0
        unk_score = f32(self.min_score - UNK_PENALTY)
        lookup, scores = self.piece_to_id.get, self.scores
        for end in range(1, n + 1):
            for start in range(max(0, end - self.max_len), end):
                pid = lookup(word[start:end])
                if pid is not None:
                    score = f32(best[start] + scores[pid])
                    if score > best[end]:
                        best[end], back[end] = score, (start, pid)
            if best[end] == -math.inf:  # no piece ends here: one unknown character
                best[end], back[end] = f32(best[end - 1] + unk_score), (end - 1, -1)
        spans, end = [], n
        while end > 0:
            start, pid = back[end]
            spans.append((start, end, pid))
            end = start
        return [(s, pid) for s, _, pid in reversed(spans)]

    def _encode_word(self, word: str) -> list[int]:
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        ids: list[int] = []
        spans = self.viterbi(word)
        for k, (start, pid) in enumerate(spans):
            if pid >= 0:
                ids.append(pid)
                continue
            ch = word[start]
            if self.byte_fallback:
                ids.extend(1 + b for b in ch.encode("utf-8"))
            elif not (ids and ids[-1] == 0 and k > 0 and spans[k - 1][1] == -1):
                ids.append(0)  # a run of unknown characters is one <unk>, as in SentencePiece
        if len(self._cache) < 200_000:
            self._cache[word] = ids
        return ids

    @classmethod
    def from_sentencepiece(cls, processor: Any) -> UnigramTokenizer:
        """Our tokenizer with a ``sentencepiece.SentencePieceProcessor``'s normal pieces and
        scores, set to segment exactly as SentencePiece does."""
        sp = processor
        pieces = [
            (sp.id_to_piece(i), sp.get_score(i))
            for i in range(sp.get_piece_size())
            if not (sp.is_control(i) or sp.is_unknown(i) or sp.is_unused(i) or sp.is_byte(i))
        ]
        has_bytes = any(sp.is_byte(i) for i in range(sp.get_piece_size()))
        return cls(pieces, byte_fallback=has_bytes, whole_text_viterbi=True)

    def encode_ordinary(self, text: str) -> list[int]:
        out: list[int] = []
        if self.whole_text_viterbi:
            marked = "".join(metaspace_split(text))
            if marked:
                self._cache.pop(marked, None)
                out = self._encode_word(marked)
                self._cache.pop(marked, None)
            return out
        for word in metaspace_split(text):
            out.extend(self._encode_word(word))
        return out

    def sample(self, text: str, alpha: float = 0.1, rng: random.Random | None = None) -> list[int]:
        """Subword regularization: sample a segmentation with probability ∝ P(seg)^alpha."""
        rng = rng or random.Random(0)
        out: list[int] = []
        for word in metaspace_split(text):
            lattice = self._lattice(word)
            n = len(word)
            fwd = [-math.inf] * (n + 1)
            fwd[0] = 0.0
            for end in range(1, n + 1):
                for start, pid in lattice[end]:
                    fwd[end] = _logsumexp(fwd[end], fwd[start] + alpha * self._score(pid))
            end, pieces = n, []
            while end > 0:
                options = [
                    (start, pid, fwd[start] + alpha * self._score(pid))
                    for start, pid in lattice[end]
                ]
                top = max(w for _, _, w in options)
                weights = [math.exp(w - top) for _, _, w in options]
                start, pid, _ = rng.choices(options, weights=weights)[0]
                pieces.append((start, pid))
                end = start
            for start, pid in reversed(pieces):
                if pid >= 0:
                    out.append(pid)
                elif self.byte_fallback:
                    out.extend(1 + b for b in word[start].encode("utf-8"))
                else:
                    out.append(0)
        return out

    def _score(self, pid: int) -> float:
        return self.scores[pid] if pid >= 0 else self.min_score - UNK_PENALTY

    def _lattice(self, word: str) -> list[list[tuple[int, int]]]:
        """``lattice[end]`` = ``(start, id)`` of every piece ending at ``end`` (-1: unknown)."""
        n = len(word)
        lattice: list[list[tuple[int, int]]] = [[] for _ in range(n + 1)]
        for end in range(1, n + 1):
            for start in range(max(0, end - self.max_len), end):
                pid = self.piece_to_id.get(word[start:end])
                if pid is not None:
                    lattice[end].append((start, pid))
            if not any(s == end - 1 for s, _ in lattice[end]):
                lattice[end].append((end - 1, -1))
        return lattice

    def decode(self, ids: Iterable[int]) -> str:
        data = bytearray()
        inverse = {i: t for t, i in self.special_tokens.items() if i != 0}
        for i in ids:
            if i in inverse:
                data += inverse[i].encode("utf-8")
            elif self.byte_fallback and 1 <= i <= 256:
                data.append(i - 1)
            elif i == 0:
                data += " \u2047 ".encode()  # SentencePiece shows <unk> as ⁇
            elif 0 <= i < len(self.vocab):
                data += self.vocab[i].encode("utf-8")
            else:
                raise UserError(f"token id {i} is outside the vocabulary (size {self.vocab_size})")
        text = data.decode("utf-8", errors="replace").replace(SPACE_MARK, " ")
        return text[1:] if text.startswith(" ") else text

    def id_to_token(self, token_id: int) -> str:
        return self.vocab[token_id]

    # -- training ------------------------------------------------------------------------------
    def train(
        self,
        texts: str | Iterable[str],
        vocab_size: int,
        special_tokens: Iterable[str] = (),
        max_piece_length: int = 16,
        seed_factor: int = 8,
        shrinking_factor: float = 0.75,
        em_iterations: int = 2,
        progress: Any = None,
    ) -> UnigramTokenizer:
        """EM with pruning until ``vocab_size`` (counting <unk> and byte pieces) is reached."""
        docs = as_texts(texts)
        words: Counter[str] = Counter()
        for doc in docs:
            words.update(metaspace_split(doc))
        chars = Counter()
        for w, c in words.items():
            for ch in w:
                chars[ch] += c
        head = 1 + (256 if self.byte_fallback else 0)
        target = vocab_size - head
        if target < len(chars):
            raise UserError(
                f"vocab size {vocab_size} is smaller than the base alphabet "
                f"({head} <unk>/byte pieces + {len(chars)} characters)"
            )
        # seeds: frequent substrings, scored by frequency x length (SentencePiece's heuristic)
        subs: Counter[str] = Counter()
        for w, c in words.items():
            for i in range(len(w)):
                for j in range(i + 2, min(len(w), i + max_piece_length) + 1):
                    piece = w[i:j]
                    if SPACE_MARK not in piece[1:]:
                        subs[piece] += c
        seeds = sorted(subs, key=lambda p: (-subs[p] * len(p), p))[: target * seed_factor]
        freq = {**{ch: float(c) for ch, c in chars.items()}, **{p: float(subs[p]) for p in seeds}}
        total = sum(freq.values())
        pieces = {p: math.log(f / total) for p, f in freq.items()}
        word_list = list(words.items())
        rounds = 0
        while True:
            for _ in range(em_iterations):
                pieces = self._em_step(pieces, word_list, chars)
            rounds += 1
            if progress is not None:
                progress(len(pieces))
            if len(pieces) <= target:
                break
            pieces = self._prune(pieces, word_list, chars, target, shrinking_factor)
            if len(pieces) <= target:
                pieces = self._em_step(pieces, word_list, chars)
                break
        ordered = sorted(pieces.items(), key=lambda kv: (-kv[1], kv[0]))
        self.special_tokens = {}
        self._set_pieces(ordered)
        self.add_special_tokens(special_tokens)
        return self

    def _with(self, pieces: dict[str, float]) -> UnigramTokenizer:
        model = UnigramTokenizer(byte_fallback=False)
        model._set_pieces(list(pieces.items()))
        return model

    def _em_step(
        self, pieces: dict[str, float], words: list[tuple[str, int]], chars: Counter[str]
    ) -> dict[str, float]:
        model = self._with(pieces)
        expected: defaultdict[int, float] = defaultdict(float)
        for word, count in words:
            lattice = model._lattice(word)
            n = len(word)
            fwd = [-math.inf] * (n + 1)
            fwd[0] = 0.0
            for end in range(1, n + 1):
                acc = -math.inf
                for start, pid in lattice[end]:
                    acc = _logsumexp(acc, fwd[start] + model._score(pid))
                fwd[end] = acc
            bwd = [-math.inf] * (n + 1)
            bwd[n] = 0.0
            for end in range(n, 0, -1):
                for start, pid in lattice[end]:
                    bwd[start] = _logsumexp(bwd[start], bwd[end] + model._score(pid))
            z = fwd[n]
            for end in range(1, n + 1):
                for start, pid in lattice[end]:
                    if pid >= 0:
                        expected[pid] += count * math.exp(
                            fwd[start] + model._score(pid) + bwd[end] - z
                        )
        kept = {}
        for p in pieces:
            f = expected.get(model.piece_to_id[p], 0.0)
            if f >= 0.5 or p in chars:  # drop rare pieces, never a character
                kept[p] = max(f, 1e-3)
        log_total = digamma(sum(kept.values()))
        return {p: digamma(f) - log_total for p, f in kept.items()}

    def _prune(
        self,
        pieces: dict[str, float],
        words: list[tuple[str, int]],
        chars: Counter[str],
        target: int,
        shrinking_factor: float,
    ) -> dict[str, float]:
        """Drop the pieces whose loss (likelihood drop when replaced by their best
        re-segmentation) is smallest, down to ``max(target, shrinking_factor * size)``."""
        model = self._with(pieces)
        freq: defaultdict[str, float] = defaultdict(float)
        for word, count in words:
            for _start, pid in model.viterbi(word):
                if pid >= 0:
                    freq[model.vocab[pid]] += count
        total = sum(freq.values())
        losses: dict[str, float] = {}
        for p in pieces:
            if p in chars:
                continue
            f = freq.get(p, 0.0)
            if f == 0:
                losses[p] = 0.0
                continue
            pid = model.piece_to_id.pop(p)
            alts = [model.vocab[a] for _, a in model.viterbi(p) if a >= 0]
            model.piece_to_id[p] = pid
            log_alt_total = math.log(total + f * (len(alts) - 1))
            logprob_piece = math.log(f) - math.log(total)
            logprob_alt = sum(math.log(freq.get(a, 0.0) + f) - log_alt_total for a in alts)
            losses[p] = f / total * (logprob_piece - logprob_alt)
        keep_size = max(target, int(len(pieces) * shrinking_factor))
        removable = sorted(losses, key=lambda p: (losses[p], p))
        n_remove = max(0, len(pieces) - keep_size)
        dropped = set(removable[:n_remove])
        return {p: s for p, s in pieces.items() if p not in dropped}

    # -- Hugging Face tokenizer.json ---------------------------------------------------------
    def to_hf_dict(self) -> dict[str, Any]:
        vocab = [[UNK, 0.0]]
        vocab += [[b, 0.0] for b in (BYTE_PIECES if self.byte_fallback else [])]
        vocab += [[p, s] for p, s in self.pieces]
        model = {
            "type": "Unigram",
            "unk_id": 0,
            "vocab": vocab,
            "byte_fallback": self.byte_fallback,
        }
        meta = {
            "type": "Metaspace",
            "replacement": SPACE_MARK,
            "prepend_scheme": "always",
            "split": True,
        }
        decoders = [{"type": "ByteFallback"}, {"type": "Fuse"}] if self.byte_fallback else []
        decoder = {"type": "Sequence", "decoders": [*decoders, meta]}
        return hf_skeleton(
            model, added_tokens=self._added_tokens_json(), pre_tokenizer=meta, decoder=decoder
        )

    @classmethod
    def from_hf_dict(cls, obj: dict[str, Any]) -> UnigramTokenizer:
        model = obj["model"]
        byte_fallback = bool(model.get("byte_fallback", False))
        head = 1 + (256 if byte_fallback else 0)
        entries = [(p, float(s)) for p, s in model["vocab"]]
        if int(model.get("unk_id", 0) or 0) != 0 or entries[0][0] != UNK:
            raise UserError("tokenizer.json: expected <unk> at id 0 in the Unigram vocabulary")
        tok = cls(entries[head:], byte_fallback=byte_fallback)
        tok.special_tokens = {UNK: 0, **special_from_hf(obj)}
        return tok


__all__ = ["BYTE_PIECES", "UNK", "UnigramTokenizer", "digamma"]
