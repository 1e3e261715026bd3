"""Quality filters for instruction data: format, length, refusals, language, dedup, seed overlap.

Each filter looks only at a record's ``instruction`` and ``response`` and either passes it or
names the reason it fails. :func:`apply_filters` runs them in order and keeps the funnel: how many
records each stage removed. The order is cheap checks first, then deduplication, then the
self-instruct novelty check (Wang et al., 2023): a new instruction whose ROUGE-L F-measure
against any seed instruction is 0.7 or more is too close to the seeds to add anything.

:func:`rouge_l` is ours; the tests hold it to Google's ``rouge-score`` (``RougeScorer(["rougeL"])``,
its default tokenizer: lower case, runs of ``[a-z0-9]``).
"""

from __future__ import annotations

import itertools
import re
import string
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

CONTROL_TOKENS = re.compile(
    r"<\|(?:im_start|im_end|endoftext|begin_of_text|start_header_id|end_header_id|eot_id|"
    r"system|user|character|narrator|end)\|>|\[/?INST\]|<</?SYS>>|</?s>"
)
REFUSAL = re.compile(
    r"\b(?:as an ai(?: language model)?|i(?:'m| am) sorry|i cannot|i can't|i can not|"
    r"i'm not able to|i am unable|i won't be able)\b",
    re.IGNORECASE,
)
# the most common English function words, and the most common ones of three other languages
_ENGLISH = set(
    [
        "the",
        "a",
        "an",
        "of",
        "to",
        "in",
        "and",
        "is",
        "are",
        "was",
        "were",
        "be",
        "it",
        "that",
        "this",
        "for",
        "on",
        "with",
        "as",
        "by",
        "at",
        "from",
        "or",
        "not",
        "what",
        "how",
        "many",
        "much",
        "does",
        "do",
        "did",
        "has",
        "have",
        "had",
        "write",
        "put",
        "give",
        "tell",
        "into",
        "now",
        "more",
        "word",
        "words",
        "letters",
        "number",
        "numbers",
        "from",
        "these",
        "those",
        "then",
        "plus",
        "minus",
        "add",
        "sum",
        "order",
        "smallest",
        "largest",
        "letter",
        "capital",
        "upper",
        "case",
        "count",
        "sort",
        "reverse",
    ]
)
_OTHER = set(
    [
        "el",
        "la",
        "los",
        "las",
        "de",
        "que",
        "y",
        "en",
        "un",
        "una",
        "es",
        "por",
        "con",
        "para",
        "del",
        "se",
        "cuántas",
        "cuántos",
        "tiene",
        "palabra",
        "der",
        "die",
        "das",
        "und",
        "ist",
        "nicht",
        "ein",
        "eine",
        "wie",
        "viele",
        "hat",
        "wort",
        "zu",
        "den",
        "mit",
        "le",
        "les",
        "des",
        "et",
        "est",
        "une",
        "combien",
        "font",
        "pas",
        "dans",
        "pour",
        "qui",
        "c'est",
        "sept",
        "douze",
    ]
)


def words(text: str) -> list[str]:
    """Lower-case word tokens (letters, digits and apostrophes)."""
    return re.findall(r"[^\W_]+(?:'[^\W_]+)?", text.lower())


def rouge_tokens(text: str) -> list[str]:
    """rouge-score's default tokenization: lower case, non-alphanumerics to spaces."""
    return [t for t in re.sub(r"[^a-z0-9]+", " ", text.lower()).split() if t]


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if x == y else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def rouge_l(reference: str, candidate: str) -> float:
    """ROUGE-L F-measure (LCS-based) of ``candidate`` against ``reference``."""
    ref, cand = rouge_tokens(reference), rouge_tokens(candidate)
    if not ref or not cand:
        return 0.0
    lcs = _lcs(ref, cand)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(cand), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)


def normalize(text: str) -> str:
    """Lower case, punctuation removed, whitespace collapsed: the key for near duplicates."""
    table = str.maketrans("", "", string.punctuation + "¿¡")
    return " ".join(text.lower().translate(table).split())


def english_share(text: str) -> float:
    """Of the function words found in ``text``, the share that are English (1.0 if none)."""
    tokens = words(text)
    english = sum(t in _ENGLISH for t in tokens)
    other = sum(t in _OTHER and t not in _ENGLISH for t in tokens)
    return 1.0 if english + other == 0 else english / (english + other)


@dataclass
class FilterConfig:
    """Thresholds of the filters (the defaults suit the bundled tasks and Alpaca-style data)."""

    min_instruction_words: int = 3
    max_instruction_words: int = 200
    min_response_chars: int = 1
    max_response_words: int = 120
    min_english_share: float = 0.6
    near_dup_jaccard: float = 0.9
    seed_rouge_l: float = 0.7


def check_format(record: dict[str, Any], config: FilterConfig) -> str | None:
    instruction, response = record.get("instruction"), record.get("response")
    if not isinstance(instruction, str) or not isinstance(response, str):
        return "format: instruction and response must be strings"
    if not instruction.strip() or not response.strip():
        return "format: empty instruction or response"
    if CONTROL_TOKENS.search(instruction) or CONTROL_TOKENS.search(response):
        return "format: chat-template control tokens in the text"
    if normalize(instruction) == normalize(response):
        return "format: the response repeats the instruction"
    return None


def check_length(record: dict[str, Any], config: FilterConfig) -> str | None:
    n_instruction = len(words(record["instruction"]))
    n_response = len(words(record["response"]))
    if not config.min_instruction_words <= n_instruction <= config.max_instruction_words:
        return f"length: instruction has {n_instruction} words"
    if len(record["response"].strip()) < config.min_response_chars:
        return "length: response too short"
    if n_response > config.max_response_words:
        return f"length: response has {n_response} words"
    return None


def check_refusal(record: dict[str, Any], config: FilterConfig) -> str | None:
    return "refusal" if REFUSAL.search(record["response"]) else None


def check_language(record: dict[str, Any], config: FilterConfig) -> str | None:
    share = english_share(record["instruction"] + " " + record["response"])
    return None if share >= config.min_english_share else f"language: English share {share:.2f}"


def _shingles(text: str) -> set[tuple[str, ...]]:
    tokens = normalize(text).split()
    return set(itertools.pairwise(tokens)) | {(t,) for t in tokens}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


class Deduplicator:
    """Exact duplicates (same instruction and response), then near duplicates: the same text
    after :func:`normalize`, or a Jaccard similarity of word 1-2-gram sets at or above the
    threshold with a record kept before (candidates found through an inverted index)."""

    def __init__(self, near_jaccard: float = 0.9):
        self.near_jaccard = near_jaccard
        self.exact: set[tuple[str, str]] = set()
        self.normalized: set[str] = set()
        self.kept: list[set[tuple[str, ...]]] = []
        self.index: dict[tuple[str, ...], list[int]] = {}

    def check(self, record: dict[str, Any]) -> str | None:
        key = (record["instruction"], record["response"])
        if key in self.exact:
            return "duplicate: exact"
        text = record["instruction"] + " || " + record["response"]
        norm = normalize(text)
        if norm in self.normalized:
            return "duplicate: near (same normalized text)"
        shingles = _shingles(text)
        counts: dict[int, int] = {}
        for shingle in shingles:
            for other in self.index.get(shingle, ()):
                counts[other] = counts.get(other, 0) + 1
        for other, shared in counts.items():
            union = len(shingles) + len(self.kept[other]) - shared
            if union and shared / union >= self.near_jaccard:
                return f"duplicate: near (Jaccard {shared / union:.2f})"
        self.exact.add(key)
        self.normalized.add(norm)
        for shingle in shingles:
            self.index.setdefault(shingle, []).append(len(self.kept))
        self.kept.append(shingles)
        return None


def max_rouge_l(instruction: str, references: Iterable[str]) -> float:
    """The highest ROUGE-L F-measure of ``instruction`` against any reference."""
    return max((rouge_l(ref, instruction) for ref in references), default=0.0)


@dataclass
class FilterResult:
    """Kept records, removed records with their reason, and the funnel by stage."""

    kept: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    funnel: dict[str, int] = field(default_factory=dict)


STAGES: tuple[tuple[str, Callable[[dict[str, Any], FilterConfig], str | None]], ...] = (
    ("format", check_format),
    ("length", check_length),
    ("refusal", check_refusal),
    ("language", check_language),
)


def apply_filters(
    records: Sequence[dict[str, Any]],
    seeds: Sequence[str] = (),
    config: FilterConfig | None = None,
) -> FilterResult:
    """Run every filter in order; a removed record gets ``filter_reason``."""
    config = config or FilterConfig()
    result = FilterResult()
    counts = {name: 0 for name, _ in STAGES} | {"dedup": 0, "seed_similarity": 0}
    dedup = Deduplicator(config.near_dup_jaccard)
    for record in records:
        reason, stage = None, None
        for name, check in STAGES:
            reason = check(record, config)
            if reason:
                stage = name
                break
        if reason is None:
            overlap = max_rouge_l(record["instruction"], seeds)
            if overlap >= config.seed_rouge_l:
                reason, stage = f"seed similarity: ROUGE-L {overlap:.2f}", "seed_similarity"
        if reason is None:
            reason = dedup.check(record)
            stage = "dedup" if reason else None
        if reason is None:
            result.kept.append(record)
        else:
            counts[stage] += 1
            result.removed.append({**record, "filter_reason": reason})
    result.funnel = {
        "records_in": len(records),
        **{f"removed_{k}": v for k, v in counts.items()},
        "records_out": len(result.kept),
    }
    return result


__all__ = [
    "Deduplicator",
    "FilterConfig",
    "FilterResult",
    "apply_filters",
    "english_share",
    "jaccard",
    "max_rouge_l",
    "normalize",
    "rouge_l",
    "rouge_tokens",
    "words",
]
