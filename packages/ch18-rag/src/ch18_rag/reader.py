"""The extractive reader: an answer with citations and no language model at all.

1. Split the retrieved chunks into sentences.
2. Score each sentence by the IDF-weighted overlap of its words with the question's content words
   (IDF over the retrieved sentences), plus a small bonus for the chunk's retrieval rank.
3. From the best sentence take the span after the last question word it contains ("The capital of
   Veltrania is *Morrowick*", "Assert statements are *a convenient way ...*"), leading function
   words stripped; if that is empty, the longest run of words that are not in the question.

The answer cites the chunk id the sentence came from; ``confidence`` is the best sentence's share of
the question's IDF mass, which the agentic loop uses to decide whether the evidence suffices.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from ch18_rag.bm25 import tokenize

_WORD = re.compile(r"[\w’'-]+|[^\w\s]")
_FUNCTION = {
    "is",
    "are",
    "was",
    "were",
    "a",
    "an",
    "the",
    "in",
    "by",
    "of",
    "to",
    "on",
    "at",
    "for",
    "as",
    "be",
    "it",
    "its",
    "and",
    "that",
    "which",
    "called",
    "known",
}
_QWORDS = {
    "what",
    "who",
    "when",
    "where",
    "which",
    "why",
    "how",
    "whom",
    "whose",
    "does",
    "did",
    "do",
}


@dataclass
class Answer:
    answer: str
    sentence: str
    citations: list[str] = field(default_factory=list)
    confidence: float = 0.0
    contexts: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "answer": self.answer,
            "citations": self.citations,
            "sentence": self.sentence,
            "confidence": round(self.confidence, 4),
        }


def split_sentences(text: str) -> list[str]:
    text = re.sub(r"^.*\n[*=~^-]{3,}$", "", text, flags=re.M)  # underlined headings
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text)]
    return [
        s.strip()
        for p in paragraphs
        for s in re.split(r"(?<=[.!?:;])\s+", p)
        if len(s.split()) >= 3 and not s.lstrip().startswith("#")
    ]


def _norm(word: str) -> str:
    return word.lower().strip("\"'“”‘’*")


def extract_span(question: str, sentence: str) -> str:
    """The part of ``sentence`` that answers ``question`` (see the module docstring)."""
    qwords = {_norm(w) for w in _WORD.findall(question)} - _QWORDS
    tokens = list(_WORD.finditer(sentence))  # spans into the sentence, so the answer is verbatim
    words = [m.group(0) for m in tokens]
    hits = [i for i, w in enumerate(words) if _norm(w) in qwords and _norm(w) not in _FUNCTION]
    span: list[int] = []
    if hits:
        span = list(range(hits[-1] + 1, len(words)))
        while span and (_norm(words[span[0]]) in _FUNCTION or not re.match(r"\w", words[span[0]])):
            span = span[1:]
        while span and not re.match(r"[\w)”\"*]", words[span[-1]]):
            span = span[:-1]
        commas = [i for i in span if words[i] == ","]
        if commas and len(span) > 2:  # "X was founded by A B, a weaver" -> "A B"
            head = [i for i in span if i < commas[0]]
            if head and all(words[i][:1].isupper() for i in head):
                span = head
    if not span:
        runs: list[list[int]] = []
        run: list[int] = []
        for i, w in enumerate(words):
            if _norm(w) in qwords or not re.match(r"\w", w):
                if run:
                    runs.append(run)
                run = []
            else:
                run.append(i)
        runs.append(run)
        span = max(runs, key=len)
        while span and _norm(words[span[0]]) in _FUNCTION:
            span = span[1:]
    if not span:
        return sentence
    return sentence[tokens[span[0]].start() : tokens[span[-1]].end()]


class ExtractiveReader:
    """Pick the best sentence among the hits and cut the answer span out of it."""

    def __init__(self, rank_bonus: float = 0.05) -> None:
        self.rank_bonus = rank_bonus

    def answer(self, question: str, hits) -> Answer:
        candidates = []
        for rank, hit in enumerate(hits):
            for sentence in split_sentences(hit.text):
                candidates.append((rank, hit.chunk_id, sentence, set(tokenize(sentence))))
        qterms = set(tokenize(question))
        if not candidates or not qterms:
            return Answer("", "", [], 0.0, [h.text for h in hits])
        n = len(candidates)
        idf = {t: math.log(1 + n / (1 + sum(t in c[3] for c in candidates))) for t in qterms}
        total = sum(idf.values())
        best = max(
            candidates,
            key=lambda c: (
                sum(idf[t] for t in qterms & c[3]) / total - self.rank_bonus * c[0],
                -c[0],
            ),
        )
        rank, chunk_id, sentence, terms = best
        confidence = sum(idf[t] for t in qterms & terms) / total
        return Answer(
            extract_span(question, sentence),
            sentence,
            [chunk_id],
            confidence,
            [h.text for h in hits],
        )

    def stream(self, question: str, hits) -> Iterator[str]:
        """The answer word by word, then the citations (same text as :meth:`answer`)."""
        result = self.answer(question, hits)
        for word in result.answer.split(" "):
            yield word + " "
        yield " ".join(f"[{c}]" for c in result.citations)


__all__ = ["Answer", "ExtractiveReader", "extract_span", "split_sentences"]
