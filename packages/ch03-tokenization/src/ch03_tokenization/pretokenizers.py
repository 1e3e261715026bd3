"""Pre-tokenizers: cut text into the pieces that merges may never cross.

Small composable callables ``str -> list[str]``. The GPT split patterns are the ones GPT-2 and
GPT-4 (cl100k) use, with the ``regex`` module (Unicode classes, possessive quantifiers), exactly as
tiktoken and Hugging Face ``tokenizers`` (``Split`` + ``ByteLevel``) apply them.
``BertPreTokenizer`` follows ``tokenizers``' ``BertPreTokenizer``: split on whitespace, isolate
every punctuation mark.
``Metaspace`` is SentencePiece's view of text: spaces become ``▁`` and a ``▁`` is prepended.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import regex

GPT2_SPLIT_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
GPT4_SPLIT_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*"""
    r"""|\s*[\r\n]|\s+(?!\S)|\s+"""
)
SPLIT_PATTERNS = {"gpt2": GPT2_SPLIT_PATTERN, "gpt4": GPT4_SPLIT_PATTERN}
SPACE_MARK = "\u2581"  # ▁, SentencePiece's visible space


@dataclass
class RegexSplit:
    """Every match of ``pattern`` is one piece (``Split(..., behavior="isolated")`` in HF)."""

    pattern: str = GPT4_SPLIT_PATTERN

    def __post_init__(self) -> None:
        self._compiled = regex.compile(self.pattern)

    def __call__(self, text: str) -> list[str]:
        return self._compiled.findall(text)


def whitespace_split(text: str) -> list[str]:
    """Split on runs of whitespace (``str.split()``), dropping the whitespace."""
    return text.split()


def is_bert_punctuation(ch: str) -> bool:
    """ASCII punctuation (including symbols such as ``$+<=>^`|~``) or a Unicode ``P*`` character."""
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def bert_pre_tokenize(text: str) -> list[str]:
    """Whitespace split, then every punctuation character becomes its own piece."""
    pieces: list[str] = []
    for word in text.split():
        current = []
        for ch in word:
            if is_bert_punctuation(ch):
                if current:
                    pieces.append("".join(current))
                    current = []
                pieces.append(ch)
            else:
                current.append(ch)
        if current:
            pieces.append("".join(current))
    return pieces


def metaspace(text: str, prepend: bool = True) -> str:
    """SentencePiece's whitespace handling: ``" "`` -> ``"▁"``, with a leading ``"▁"``."""
    text = text.replace(" ", SPACE_MARK)
    if prepend and text and not text.startswith(SPACE_MARK):
        text = SPACE_MARK + text
    return text


def metaspace_split(text: str) -> list[str]:
    """Metaspace text cut before every ``▁`` (the words SentencePiece trains on)."""
    marked = metaspace(text)
    return [piece for piece in regex.split(f"(?={SPACE_MARK})", marked) if piece]


__all__ = [
    "GPT2_SPLIT_PATTERN",
    "GPT4_SPLIT_PATTERN",
    "SPACE_MARK",
    "SPLIT_PATTERNS",
    "RegexSplit",
    "bert_pre_tokenize",
    "is_bert_punctuation",
    "metaspace",
    "metaspace_split",
    "whitespace_split",
]
