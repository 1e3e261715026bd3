"""Comparing tokenizers: fertility (tokens per word) and compression (chars and bytes per token).

The domain-adaptation lab lives here: a tokenizer trained on the general stories and one trained
on the technical pydoc prose, at the same vocabulary size, measured on held-out text of both. The
multilingual sample (a few sentences per script, written for this package) shows what byte
fallback buys: nothing is ever unknown, but scripts absent from training cost many tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ch03_tokenization.base import Tokenizer

MULTILINGUAL: dict[str, str] = {
    "English (Latin)": "The little dog found a red ball in the garden and was very happy.",
    "German (Latin)": "Der kleine Hund fand einen roten Ball im Garten und war sehr glücklich.",
    "French (Latin)": (
        "Le petit chien a trouvé une balle rouge dans le jardin et était très content."
    ),
    "Russian (Cyrillic)": "Маленькая собака нашла красный мяч в саду и была очень рада.",
    "Greek": "Ο μικρός σκύλος βρήκε μια κόκκινη μπάλα στον κήπο και χάρηκε πολύ.",
    "Chinese (Han)": "小狗在花园里找到了一个红色的球，它非常高兴。",
    "Japanese (Kana+Han)": "小さな犬は庭で赤いボールを見つけて、とても喜びました。",
    "Arabic": "وجد الكلب الصغير كرة حمراء في الحديقة وكان سعيدا جدا.",
    "Hindi (Devanagari)": "छोटे कुत्ते ने बगीचे में एक लाल गेंद पाई और बहुत खुश हुआ।",
    "Emoji": "🐶⚽🌳😀👍🏽🇫🇷",
    "Python code": "def area(r: float) -> float:\n    return 3.14159 * r ** 2  # circle\n",
}


def fertility(tokenizer: Tokenizer, text: str) -> dict[str, Any]:
    """Token count, tokens per whitespace word, characters and UTF-8 bytes per token."""
    ids = tokenizer.encode(text)
    words = max(1, len(text.split()))
    n = max(1, len(ids))
    return {
        "tokens": len(ids),
        "tokens_per_word": len(ids) / words,
        "chars_per_token": len(text) / n,
        "bytes_per_token": len(text.encode("utf-8")) / n,
    }


def compare_tokenizers(
    tokenizers: Mapping[str, Tokenizer], corpora: Mapping[str, str]
) -> list[dict[str, Any]]:
    """One row per tokenizer: chars/token on every corpus and tokens/word on each."""
    rows = []
    for name, tok in tokenizers.items():
        row: dict[str, Any] = {"tokenizer": name, "vocab": tok.vocab_size}
        for corpus, text in corpora.items():
            stats = fertility(tok, text)
            row[f"{corpus} chars/tok"] = round(stats["chars_per_token"], 3)
            row[f"{corpus} tok/word"] = round(stats["tokens_per_word"], 3)
        rows.append(row)
    return rows


def multilingual_table(tokenizers: Mapping[str, Tokenizer]) -> list[dict[str, Any]]:
    """Tokens per character for each script of :data:`MULTILINGUAL`, per tokenizer."""
    rows = []
    for script, text in MULTILINGUAL.items():
        row: dict[str, Any] = {"script": script, "chars": len(text)}
        for name, tok in tokenizers.items():
            row[name] = round(len(tok.encode(text)) / len(text), 3)
        rows.append(row)
    return rows


__all__ = ["MULTILINGUAL", "compare_tokenizers", "fertility", "multilingual_table"]
