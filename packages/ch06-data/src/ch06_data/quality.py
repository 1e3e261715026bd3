"""Document quality filters: Gopher- and C4-style heuristics, language ID, and perplexity.

Heuristics follow Rae et al. 2021 (Gopher, appendix A: word count, mean word length, symbol ratio,
bullet and ellipsis lines, alphabetic words, stop words, duplicate lines and n-grams) and Raffel et
al. 2020 (C4: lines ending in terminal punctuation, no "lorem ipsum", no code braces, enough
sentences). Language ID uses py3langid's bundled model. The perplexity filter scores each document
with llmpath's default model (as CCNet does with a KenLM model) and keeps those below a threshold.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

STOP_WORDS = {"the", "be", "to", "of", "and", "that", "have", "with"}
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)


@dataclass
class QualityConfig:
    """Thresholds; the defaults are Gopher's and C4's, scaled down for short documents."""

    min_words: int = 20
    max_words: int = 100_000
    min_mean_word_len: float = 3.0
    max_mean_word_len: float = 10.0
    max_symbol_ratio: float = 0.1
    max_bullet_lines: float = 0.9
    max_ellipsis_lines: float = 0.3
    min_alpha_words: float = 0.8
    min_stop_words: int = 2
    max_dup_line_frac: float = 0.3
    max_top_bigram_frac: float = 0.2
    min_terminal_punct_lines: float = 0.5
    min_sentences: int = 2


def gopher_c4_reasons(text: str, cfg: QualityConfig | None = None) -> list[str]:
    """The rules ``text`` breaks (empty list: it passes)."""
    cfg = cfg or QualityConfig()
    words = _WORD.findall(text)
    tokens = text.split()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    reasons = []
    n = len(words)
    if not cfg.min_words <= n <= cfg.max_words:
        reasons.append("word_count")
    if n:
        mean_len = sum(map(len, words)) / n
        if not cfg.min_mean_word_len <= mean_len <= cfg.max_mean_word_len:
            reasons.append("mean_word_length")
    if tokens:
        symbols = sum(t.count("#") + t.count("...") + t.count("…") for t in tokens)
        if symbols / len(tokens) > cfg.max_symbol_ratio:
            reasons.append("symbol_ratio")
        alpha = sum(any(c.isalpha() for c in t) for t in tokens) / len(tokens)
        if alpha < cfg.min_alpha_words:
            reasons.append("alphabetic_words")
    if lines:
        if (
            sum(ln.startswith(("•", "-", "*", "·")) for ln in lines) / len(lines)
            > cfg.max_bullet_lines
        ):
            reasons.append("bullet_lines")
        if sum(ln.endswith(("...", "…")) for ln in lines) / len(lines) > cfg.max_ellipsis_lines:
            reasons.append("ellipsis_lines")
        if len(lines) > 1 and 1 - len(set(lines)) / len(lines) > cfg.max_dup_line_frac:
            reasons.append("duplicate_lines")
        if (
            sum(ln.endswith((".", "!", "?", '"', "'")) for ln in lines) / len(lines)
            < cfg.min_terminal_punct_lines
        ):
            reasons.append("terminal_punctuation")
    if len({w.lower() for w in words} & STOP_WORDS) < cfg.min_stop_words:
        reasons.append("stop_words")
    lower = [w.lower() for w in words]
    if len(lower) > 10:
        bigrams = Counter(itertools.pairwise(lower))
        top, count = bigrams.most_common(1)[0]
        if (
            count * (len(top[0]) + len(top[1])) / max(1, sum(map(len, lower)))
            > cfg.max_top_bigram_frac
        ):
            reasons.append("repeated_ngrams")
    low = text.lower()
    if "lorem ipsum" in low:
        reasons.append("lorem_ipsum")
    if "{" in text and "}" in text:
        reasons.append("code_braces")
    if len(re.findall(r"[.!?](?:\s|$)", text)) < cfg.min_sentences:
        reasons.append("too_few_sentences")
    return reasons


def language(text: str) -> tuple[str, float]:
    """``(ISO 639-1 code, probability)`` from py3langid's bundled model."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    global _IDENTIFIER
    if _IDENTIFIER is None:
        _IDENTIFIER = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    lang, prob = _IDENTIFIER.classify(text)
    return lang, float(prob)


_IDENTIFIER = None


def perplexities(
    texts: Sequence[str], model=None, tokenizer=None, max_tokens: int = 256
) -> list[float]:
    """Per-document perplexity under a causal LM (default: llmpath's bundled model)."""
    import torch

    if model is None:
        from llmpath_core.models import load_default_model

        model, tokenizer = load_default_model()
    model.eval()
    out = []
    with torch.no_grad():
        for text in texts:
            ids = tokenizer(text, return_tensors="pt", truncation=True, max_length=max_tokens)[
                "input_ids"
            ]
            if ids.shape[1] < 2:
                out.append(float("inf"))
                continue
            loss = model(input_ids=ids, labels=ids).loss
            out.append(math.exp(float(loss)))
    return out
