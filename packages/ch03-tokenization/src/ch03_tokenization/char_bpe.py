"""Character-level BPE with byte fallback (the SentencePiece / Llama-2 flavour of BPE).

The base alphabet is the Unicode characters seen in training (sorted by code point, as
``BpeTrainer`` sorts its alphabet); merges join characters into longer strings. A character never
seen in training falls back to its UTF-8 bytes, held as 256 tokens ``<0x00>``..``<0xFF>`` (ids
0..255), so nothing is ever unknown and ``decode(encode(x)) == x``. Exported as a ``BPE`` model with
``byte_fallback: true`` that Hugging Face ``tokenizers`` loads and runs identically.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any, ClassVar

from ch03_tokenization.base import Tokenizer, as_texts, hf_skeleton, special_from_hf
from ch03_tokenization.bpe import apply_merges, train_merges
from ch03_tokenization.pretokenizers import GPT4_SPLIT_PATTERN, RegexSplit
from llmpath_core import UserError

BYTE_TOKENS = [f"<0x{b:02X}>" for b in range(256)]


class CharBPETokenizer(Tokenizer):
    """BPE over characters, split by a GPT pattern, with byte fallback for unseen characters."""

    algo: ClassVar[str] = "char-bpe"

    def __init__(self, pattern: str = GPT4_SPLIT_PATTERN) -> None:
        super().__init__()
        self.pattern = pattern
        self.split = RegexSplit(pattern)
        self.vocab: list[str] = list(BYTE_TOKENS)
        self.merges: list[tuple[int, int, int]] = []
        self._set_vocab(self.vocab, [])

    def base_vocab_size(self) -> int:
        return len(self.vocab)

    def _set_vocab(self, vocab: list[str], merges: list[tuple[int, int, int]]) -> None:
        self.vocab = vocab
        self.merges = merges
        self._char_id = {t: i for i, t in enumerate(vocab) if i >= 256 and len(t) == 1}
        self._ranks: dict[tuple[int, int], tuple[int, int]] = {}
        for rank, (a, b, new) in enumerate(merges):
            self._ranks.setdefault((a, b), (rank, new))
        self._cache: dict[str, list[int]] = {}

    def train(
        self,
        texts: str | Iterable[str],
        vocab_size: int,
        special_tokens: Iterable[str] = (),
        progress: Any = None,
    ) -> CharBPETokenizer:
        docs = as_texts(texts)
        words: Counter[str] = Counter()
        for doc in docs:
            words.update(self.split(doc))
        alphabet = sorted({ch for w in words for ch in w})
        if vocab_size < 256 + len(alphabet):
            raise UserError(
                f"vocab size {vocab_size} is smaller than the base alphabet "
                f"(256 byte-fallback tokens + {len(alphabet)} characters)"
            )
        char_index = {ch: i for i, ch in enumerate(alphabet)}
        unique = list(words)
        seqs = [[char_index[ch] for ch in w] for w in unique]
        trained: list[str] = list(alphabet)
        merges = train_merges(
            seqs, [words[w] for w in unique], trained, vocab_size - 256, progress=progress
        )
        shifted = [(a + 256, b + 256, n + 256) for a, b, n in merges]
        self._set_vocab(BYTE_TOKENS + trained, shifted)
        self.special_tokens = {}
        self.add_special_tokens(special_tokens)
        return self

    def _encode_piece(self, piece: str) -> list[int]:
        ids = self._cache.get(piece)
        if ids is None:
            ids = []
            for ch in piece:
                known = self._char_id.get(ch)
                if known is None:
                    ids.extend(ch.encode("utf-8"))
                else:
                    ids.append(known)
            ids = apply_merges(ids, self._ranks)
            if len(self._cache) < 200_000:
                self._cache[piece] = ids
        return ids

    def encode_ordinary(self, text: str) -> list[int]:
        out: list[int] = []
        for piece in self.split(text):
            out.extend(self._encode_piece(piece))
        return out

    def decode(self, ids: Iterable[int]) -> str:
        inverse = {i: t for t, i in self.special_tokens.items()}
        data = bytearray()
        for i in ids:
            if i in inverse:
                data += inverse[i].encode("utf-8")
            elif 0 <= i < 256:
                data.append(i)
            elif i < len(self.vocab):
                data += self.vocab[i].encode("utf-8")
            else:
                raise UserError(f"token id {i} is outside the vocabulary (size {self.vocab_size})")
        return data.decode("utf-8", errors="replace")

    def id_to_token(self, token_id: int) -> str:
        return self.vocab[token_id]

    def to_hf_dict(self) -> dict[str, Any]:
        vocab: dict[str, int] = {}
        for i, token in enumerate(self.vocab):
            vocab.setdefault(token, i)
        model = {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": True,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": [[self.vocab[a], self.vocab[b]] for a, b, _ in self.merges],
        }
        pre = {
            "type": "Split",
            "pattern": {"Regex": self.pattern},
            "behavior": "Isolated",
            "invert": False,
        }
        decoder = {"type": "Sequence", "decoders": [{"type": "ByteFallback"}, {"type": "Fuse"}]}
        return hf_skeleton(
            model, added_tokens=self._added_tokens_json(), pre_tokenizer=pre, decoder=decoder
        )

    @classmethod
    def from_hf_dict(cls, obj: dict[str, Any]) -> CharBPETokenizer:
        pre = obj.get("pre_tokenizer") or {}
        tok = cls(pre.get("pattern", {}).get("Regex", GPT4_SPLIT_PATTERN))
        model = obj["model"]
        items = sorted(model["vocab"].items(), key=lambda kv: kv[1])
        if [i for _, i in items] != list(range(len(items))) or [s for s, _ in items[:256]] != (
            BYTE_TOKENS
        ):
            raise UserError("tokenizer.json: not a char-bpe vocabulary (ids 0..255 = <0xNN>)")
        index = model["vocab"]
        merges = []
        for entry in model["merges"]:
            left, right = entry.split(" ") if isinstance(entry, str) else entry
            merges.append((index[left], index[right], index[left + right]))
        tok._set_vocab([s for s, _ in items], merges)
        tok.special_tokens = special_from_hf(obj)
        return tok


__all__ = ["BYTE_TOKENS", "CharBPETokenizer"]
