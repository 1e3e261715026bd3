"""Normalizers: rewrite text before it is split (Unicode forms, case, accents, BERT's cleaning).

Each normalizer is a small callable ``str -> str``; :class:`Sequence` chains them. They match
``unicodedata`` and Hugging Face ``tokenizers.normalizers`` (``NFC``, ``NFD``, ``NFKC``, ``NFKD``,
``Lowercase``, ``StripAccents``, ``BertNormalizer``) character for character; the tests hold them
together. Lowercasing is per character, as in ``tokenizers`` (no final-sigma rule).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

Normalizer = Callable[[str], str]


@dataclass
class Unicode:
    """One of the four Unicode normal forms: NFC, NFD, NFKC or NFKD."""

    form: str = "NFC"

    def __call__(self, text: str) -> str:
        return unicodedata.normalize(self.form, text)


def lowercase(text: str) -> str:
    """Full lowercase mapping, one character at a time."""
    return "".join(ch.lower() for ch in text)


def strip_accents(text: str) -> str:
    """Remove every combining mark (``M*``), as ``tokenizers``' ``StripAccents`` (after NFD)."""
    return "".join(ch for ch in text if not unicodedata.category(ch).startswith("M"))


def strip_nonspacing_marks(text: str) -> str:
    """Remove only non-spacing marks (``Mn``): BERT's accent stripping (keeps e.g. Devanagari
    vowel signs, which are spacing marks)."""
    return "".join(ch for ch in text if unicodedata.category(ch) != "Mn")


def _is_cjk(cp: int) -> bool:
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B920 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


def clean_text(text: str) -> str:
    """BERT's cleaning: drop NUL, U+FFFD and control/format characters; whitespace -> space."""
    out = []
    for ch in text:
        if ch in "\x00\ufffd":
            continue
        if ch in "\t\n\r":
            out.append(" ")
        elif unicodedata.category(ch).startswith("C"):
            continue
        elif ch.isspace():
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def pad_cjk(text: str) -> str:
    """Surround every CJK ideograph with spaces, so each becomes its own word."""
    return "".join(f" {ch} " if _is_cjk(ord(ch)) else ch for ch in text)


@dataclass
class Sequence:
    """Apply normalizers left to right."""

    steps: list[Normalizer] = field(default_factory=list)

    def __call__(self, text: str) -> str:
        for step in self.steps:
            text = step(text)
        return text


def bert_normalizer(lowercase_text: bool = True) -> Sequence:
    """``BertNormalizer(clean_text, handle_chinese_chars, strip_accents=lowercase, lowercase)``."""
    steps: list[Normalizer] = [clean_text, pad_cjk]
    if lowercase_text:
        steps += [Unicode("NFD"), strip_nonspacing_marks, lowercase]
    return Sequence(steps)


__all__ = [
    "Normalizer",
    "Sequence",
    "Unicode",
    "bert_normalizer",
    "clean_text",
    "lowercase",
    "pad_cjk",
    "strip_accents",
    "strip_nonspacing_marks",
]
