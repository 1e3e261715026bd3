"""Byte-level BPE, GPT style: split with a regex, then merge bytes (GPT-2, tiktoken, minbpe).

Text is cut by the GPT-4 (cl100k) split pattern, each piece becomes its UTF-8 bytes, and learned
merges join bytes into tokens. Ids ``0..255`` are the raw bytes, so nothing is ever unknown, and
``decode(encode(x)) == x`` for every string. The merge ranks export both to Hugging Face
``tokenizer.json`` (bytes shown through GPT-2's byte-to-unicode table) and to tiktoken's
``mergeable_ranks``; the tests hold the three encoders to the same ids.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

from ch03_tokenization.base import Tokenizer, as_texts, hf_skeleton, special_from_hf
from ch03_tokenization.bpe import apply_merges, train_merges
from ch03_tokenization.pretokenizers import GPT4_SPLIT_PATTERN, RegexSplit
from llmpath_core import UserError

TIKTOKEN_FILE = "tokenizer.tiktoken"


@lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's table: every byte as a printable character (``tokenizers``' ``ByteLevel``)."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    chars = list(printable)
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(printable, chars, strict=True)}


def hf_byte_order() -> list[int]:
    """Where ``BpeTrainer`` puts each byte: its alphabet is sorted by the mapped character."""
    table = bytes_to_unicode()
    ranked = sorted(range(256), key=lambda b: table[b])
    order = [0] * 256
    for position, b in enumerate(ranked):
        order[b] = position
    return order


class ByteBPETokenizer(Tokenizer):
    """Byte-level BPE with a GPT split pattern (minbpe's ``RegexTokenizer``)."""

    algo: ClassVar[str] = "byte-bpe"

    def __init__(self, pattern: str = GPT4_SPLIT_PATTERN) -> None:
        super().__init__()
        self.pattern = pattern
        self.split = RegexSplit(pattern)
        self.vocab: list[bytes] = [bytes([b]) for b in range(256)]
        self.merges: list[tuple[int, int, int]] = []
        self._ranks: dict[tuple[int, int], tuple[int, int]] = {}
        self._cache: dict[str, list[int]] = {}

    def base_vocab_size(self) -> int:
        return len(self.vocab)

    def _set_merges(self, merges: list[tuple[int, int, int]]) -> None:
        self.merges = merges
        self._ranks = {}
        for rank, (a, b, new) in enumerate(merges):
            self._ranks.setdefault((a, b), (rank, new))
        self._cache = {}

    def train(
        self,
        texts: str | Iterable[str],
        vocab_size: int,
        special_tokens: Iterable[str] = (),
        progress: Any = None,
    ) -> ByteBPETokenizer:
        """Learn merges on ``texts`` until the vocabulary (bytes + merges) has ``vocab_size``."""
        docs = as_texts(texts)
        if vocab_size < 256:
            raise UserError(f"vocab size {vocab_size} is smaller than the 256 byte alphabet")
        words: Counter[str] = Counter()
        for doc in docs:
            words.update(self.split(doc))
        unique = list(words)
        seqs = [list(w.encode("utf-8")) for w in unique]
        vocab: list[bytes] = [bytes([b]) for b in range(256)]
        merges = train_merges(
            seqs,
            [words[w] for w in unique],
            vocab,
            vocab_size,
            order=hf_byte_order(),
            progress=progress,
        )
        self.vocab = vocab
        self._set_merges(merges)
        self.special_tokens = {}
        self.add_special_tokens(special_tokens)
        return self

    def _encode_piece(self, piece: str) -> list[int]:
        ids = self._cache.get(piece)
        if ids is None:
            ids = apply_merges(list(piece.encode("utf-8")), self._ranks)
            if len(self._cache) < 200_000:
                self._cache[piece] = ids
        return ids

    def encode_ordinary(self, text: str) -> list[int]:
        out: list[int] = []
        for piece in self.split(text):
            out.extend(self._encode_piece(piece))
        return out

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        inverse = {i: t.encode("utf-8") for t, i in self.special_tokens.items()}
        parts = []
        for i in ids:
            if i in inverse:
                parts.append(inverse[i])
            elif 0 <= i < len(self.vocab):
                parts.append(self.vocab[i])
            else:
                raise UserError(f"token id {i} is outside the vocabulary (size {self.vocab_size})")
        return b"".join(parts)

    def decode(self, ids: Iterable[int]) -> str:
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def id_to_token(self, token_id: int) -> str:
        return self.vocab[token_id].decode("utf-8", errors="replace")

    # -- tiktoken ------------------------------------------------------------------------------
    def mergeable_ranks(self) -> dict[bytes, int]:
        """tiktoken's view: token bytes -> id (the first id a byte string got)."""
        ranks: dict[bytes, int] = {}
        for i, token in enumerate(self.vocab):
            ranks.setdefault(token, i)
        return ranks

    def to_tiktoken(self, name: str = "llmpath-byte-bpe"):
        """A ``tiktoken.Encoding`` with our pattern, ranks and special tokens."""
        import tiktoken

        return tiktoken.Encoding(
            name=name,
            pat_str=self.pattern,
            mergeable_ranks=self.mergeable_ranks(),
            special_tokens=dict(self.special_tokens),
        )

    def save_extras(self, directory: Path) -> None:
        lines = [f"{base64.b64encode(t).decode()} {r}" for t, r in self.mergeable_ranks().items()]
        (directory / TIKTOKEN_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")

    # -- Hugging Face tokenizer.json ---------------------------------------------------------
    def to_hf_dict(self) -> dict[str, Any]:
        table = bytes_to_unicode()

        def show(token: bytes) -> str:
            return "".join(table[b] for b in token)

        vocab: dict[str, int] = {}
        for i, token in enumerate(self.vocab):
            vocab.setdefault(show(token), i)
        model = {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": [[show(self.vocab[a]), show(self.vocab[b])] for a, b, _ in self.merges],
        }
        pre = {
            "type": "Sequence",
            "pretokenizers": [
                {
                    "type": "Split",
                    "pattern": {"Regex": self.pattern},
                    "behavior": "Isolated",
                    "invert": False,
                },
                {
                    "type": "ByteLevel",
                    "add_prefix_space": False,
                    "trim_offsets": True,
                    "use_regex": False,
                },
            ],
        }
        decoder = {
            "type": "ByteLevel",
            "add_prefix_space": False,
            "trim_offsets": True,
            "use_regex": False,
        }
        return hf_skeleton(
            model, added_tokens=self._added_tokens_json(), pre_tokenizer=pre, decoder=decoder
        )

    @classmethod
    def from_hf_dict(cls, obj: dict[str, Any]) -> ByteBPETokenizer:
        pre = obj.get("pre_tokenizer") or {}
        pattern = GPT4_SPLIT_PATTERN
        for step in pre.get("pretokenizers", []):
            if step.get("type") == "Split":
                pattern = step["pattern"]["Regex"]
        tok = cls(pattern)
        decode = {c: b for b, c in bytes_to_unicode().items()}
        model = obj["model"]
        vocab_items = sorted(model["vocab"].items(), key=lambda kv: kv[1])
        tok.vocab = [bytes(decode[c] for c in s) for s, _ in vocab_items]
        if [i for _, i in vocab_items] != list(range(len(vocab_items))):
            raise UserError("tokenizer.json: BPE vocabulary ids are not 0..n-1")
        index = {s: i for s, i in model["vocab"].items()}
        merges = []
        for entry in model["merges"]:
            left, right = entry.split(" ") if isinstance(entry, str) else entry
            merges.append((index[left], index[right], index[left + right]))
        # a merge result that other merges also produce keeps the first id (as the trainer does)
        tok.vocab = [bytes(decode[c] for c in s) for s, _ in vocab_items]
        tok._set_merges(merges)
        tok.special_tokens = special_from_hf(obj)
        return tok


__all__ = ["TIKTOKEN_FILE", "ByteBPETokenizer", "bytes_to_unicode", "hf_byte_order"]
