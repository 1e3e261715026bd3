"""The tokenizer interface every algorithm here implements, in the spirit of minbpe.

``train(texts, vocab_size)``, ``encode(text)``, ``decode(ids)``, ``save(dir)`` and ``load(path)``.
Special tokens (``<|endoftext|>``, ``[CLS]`` ...) get their own ids. The safe default is
``allowed_special="none"``: special-token text inside user input is encoded as ordinary text, so
pasted text can never inject a control token. ``"all"`` turns every special token on, a set turns
on some, and ``"none_raise"`` refuses text that contains one (tiktoken's default).

``save`` writes ``tokenizer.json`` in Hugging Face ``tokenizers`` format, so
``tokenizers.Tokenizer.from_file`` loads what we train and encodes exactly like we do.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

import regex

from llmpath_core import UserError, atomic_dir

TOKENIZER_FILE = "tokenizer.json"


def as_texts(texts: str | Iterable[str]) -> list[str]:
    """A training corpus as a list of documents; an empty corpus is a :class:`UserError`."""
    docs = [texts] if isinstance(texts, str) else list(texts)
    if not any(doc.strip() for doc in docs):
        raise UserError("the training corpus is empty: give it some text (--input FILE)")
    return docs


class Tokenizer:
    """Base class: special-token handling, save/load; subclasses do the algorithm."""

    algo: ClassVar[str] = "base"

    def __init__(self) -> None:
        self.special_tokens: dict[str, int] = {}

    # -- what a subclass provides -------------------------------------------------------------
    def train(self, texts: str | Iterable[str], vocab_size: int, **kwargs: Any) -> Tokenizer:
        raise NotImplementedError

    def encode_ordinary(self, text: str) -> list[int]:
        """Encode ``text`` ignoring special tokens."""
        raise NotImplementedError

    def decode(self, ids: Iterable[int]) -> str:
        raise NotImplementedError

    def id_to_token(self, token_id: int) -> str:
        """The vocabulary entry of ``token_id`` as a display string."""
        raise NotImplementedError

    def base_vocab_size(self) -> int:
        """Size of the vocabulary without special tokens."""
        raise NotImplementedError

    def to_hf_dict(self) -> dict[str, Any]:
        """This tokenizer as a Hugging Face ``tokenizer.json`` object."""
        raise NotImplementedError

    @classmethod
    def from_hf_dict(cls, obj: dict[str, Any]) -> Tokenizer:
        raise NotImplementedError

    # -- shared ----------------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return self.base_vocab_size() + sum(
            1 for i in self.special_tokens.values() if i >= self.base_vocab_size()
        )

    def add_special_tokens(self, tokens: Iterable[str]) -> None:
        """Give each new special token the next free id."""
        for token in tokens:
            if token not in self.special_tokens:
                self.special_tokens[token] = self.vocab_size

    def tokens(self, ids: Iterable[int]) -> list[str]:
        inverse = {i: t for t, i in self.special_tokens.items()}
        return [inverse[i] if i in inverse else self.id_to_token(i) for i in ids]

    def encode(self, text: str, allowed_special: str | set[str] = "none") -> list[int]:
        """Encode ``text``; ``allowed_special`` says which special tokens are recognised."""
        if allowed_special == "none":
            return self.encode_ordinary(text)
        if allowed_special == "none_raise":
            found = [t for t in self.special_tokens if t in text]
            if found:
                raise UserError(f"text contains special token {found[0]!r}; pass allowed_special")
            return self.encode_ordinary(text)
        if allowed_special == "all":
            allowed = dict(self.special_tokens)
        elif isinstance(allowed_special, (set, frozenset, list, tuple)):
            allowed = {t: self.special_tokens[t] for t in allowed_special}
        else:
            raise ValueError(f"allowed_special={allowed_special!r} not understood")
        if not allowed:
            return self.encode_ordinary(text)
        # longest first, so "<|a|>b" never shadows a longer token sharing its prefix
        alternatives = sorted(allowed, key=len, reverse=True)
        pattern = "(" + "|".join(regex.escape(t) for t in alternatives) + ")"
        ids: list[int] = []
        for i, chunk in enumerate(regex.split(pattern, text)):
            if i % 2:
                ids.append(allowed[chunk])
            elif chunk:
                ids.extend(self.encode_ordinary(chunk))
        return ids

    def save(self, directory: str | os.PathLike) -> Path:
        """Write ``directory/tokenizer.json`` (and extras) atomically; return the folder."""
        with atomic_dir(directory) as tmp:
            (tmp / TOKENIZER_FILE).write_text(
                json.dumps(self.to_hf_dict(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
            )
            self.save_extras(tmp)
        return Path(directory)

    def save_extras(self, directory: Path) -> None:
        """Extra files next to ``tokenizer.json`` (byte-level BPE writes tiktoken ranks)."""

    def _added_tokens_json(self) -> list[dict[str, Any]]:
        return [
            {
                "id": i,
                "content": t,
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "special": True,
            }
            for t, i in sorted(self.special_tokens.items(), key=lambda kv: kv[1])
        ]


def hf_skeleton(model: dict[str, Any], **parts: Any) -> dict[str, Any]:
    """A ``tokenizer.json`` object with the given model and pipeline parts."""
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": parts.get("added_tokens", []),
        "normalizer": parts.get("normalizer"),
        "pre_tokenizer": parts.get("pre_tokenizer"),
        "post_processor": parts.get("post_processor"),
        "decoder": parts.get("decoder"),
        "model": model,
    }


def special_from_hf(obj: dict[str, Any]) -> dict[str, int]:
    return {t["content"]: int(t["id"]) for t in obj.get("added_tokens", []) if t.get("special")}


__all__ = ["TOKENIZER_FILE", "Tokenizer", "as_texts", "hf_skeleton", "special_from_hf"]
