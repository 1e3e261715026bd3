"""Conversational and agentic RAG on top of retrieval + the extractive reader.

* ``rewrite_followup`` -- "When was it founded?" after "What is the capital of Veltrania?" becomes
  "When was Veltrania founded?": pronouns are replaced by the last entity named in the history
  (or a generator rewrites the question when one is given);
* ``decompose`` -- "Who founded the capital of Veltrania?" -> "What is the capital of
  Veltrania?" then "Who founded {answer}?"; "A and B?" -> two questions;
* ``iterative_answer`` -- answer the sub-questions in order, feeding each answer into the next;
  when the reader's confidence is below a threshold, retrieve again with more chunks and the
  question's entities (until the evidence suffices or the step budget is spent);
* ``groundedness`` -- the share of the answer's content words found in the cited chunks; an
  answer below the threshold is flagged as not grounded.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ch18_rag.bm25 import tokenize
from ch18_rag.reader import Answer, ExtractiveReader

_PRONOUNS = (
    r"\b(it|its|they|their|them|there|he|she|his|her|"
    r"this country|that country|this city|that city)\b"
)
_ENTITY = re.compile(r"\b([A-Z][\w'-]+(?: [A-Z][\w'-]+)*)")
_QSTART = {"What", "Who", "When", "Where", "Which", "How", "Why", "The", "And", "In", "A", "An"}


def last_entity(history: list[str]) -> str | None:
    for text in reversed(history):
        names = [n for n in _ENTITY.findall(text) if n.split()[0] not in _QSTART]
        if names:
            return names[-1]
    return None


def rewrite_followup(
    question: str, history: list[str], generate: Callable[[str], str] | None = None
) -> str:
    """A self-contained version of ``question`` given the earlier turns."""
    if not re.search(_PRONOUNS, question, flags=re.I) or not history:
        return question
    if generate is not None:
        prompt = (
            "Rewrite the last question so it stands alone.\n"
            + "\n".join(history)
            + f"\nQuestion: {question}\nRewritten:"
        )
        rewritten = generate(prompt).strip().splitlines()
        if rewritten and rewritten[0].strip():
            return rewritten[0].strip()
    entity = last_entity(history)
    if entity is None:
        return question

    def swap(m: re.Match) -> str:
        word = m.group(0).lower()
        return f"{entity}'s" if word in ("its", "their", "his", "her") else entity

    return re.sub(_PRONOUNS, swap, question, flags=re.I)


_COPULAS = {"is", "are", "was", "were"}
_CHAIN = re.compile(
    r"^(What|Who|Which|Where) (is|are|was|were) the ([a-z][a-z ]*?) of the "
    r"([a-z][a-z ]*?) of ([A-Z].*?)\?$"
)
_NESTED = re.compile(r"^(Who|What|Where|When|Which)\s+(.*?)\s*the ([a-z][a-z ]*?) of ([A-Z].*?)\?$")


def decompose(question: str) -> list[str]:
    """Sub-questions; ``{answer}`` in one is filled with the previous sub-question's answer."""
    parts = re.split(
        r"\s+and\s+(?=(?:who|what|where|when|which|how)\b)", question.rstrip("?"), flags=re.I
    )
    if len(parts) > 1:
        return [p.strip()[0].upper() + p.strip()[1:] + "?" for p in parts]
    m = _CHAIN.match(question.strip())
    if m:  # "What is the A of the B of C?"
        wh, copula, outer, inner, entity = m.groups()
        return [f"What is the {inner} of {entity}?", f"{wh} {copula} the {outer} of {{answer}}?"]
    m = _NESTED.match(question.strip())
    if m and m.group(2).strip() and m.group(2).strip() not in _COPULAS:
        wh, verb, relation, entity = m.groups()
        return [f"What is the {relation} of {entity}?", f"{wh} {verb.strip()} {{answer}}?"]
    return [question]


@dataclass
class Step:
    question: str
    answer: str
    confidence: float
    citations: list[str]
    retrievals: int


@dataclass
class AgentAnswer:
    question: str
    answer: str
    citations: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    grounded: bool = False
    groundedness: float = 0.0
    rewritten: str = ""

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "rewritten": self.rewritten,
            "answer": self.answer,
            "citations": self.citations,
            "grounded": self.grounded,
            "groundedness": round(self.groundedness, 4),
            "steps": [s.__dict__ for s in self.steps],
        }


def groundedness(answer: str, contexts: list[str]) -> float:
    """Share of the answer's content words (BM25 tokens) that occur in the contexts."""
    words = tokenize(answer)
    if not words:
        return 0.0
    support = set(tokenize(" ".join(contexts)))
    return sum(w in support for w in words) / len(words)


def iterative_answer(
    retriever,
    question: str,
    *,
    k: int = 5,
    mode: str = "hybrid",
    threshold: float = 0.6,
    max_retrievals: int = 3,
    ground_threshold: float = 0.8,
) -> AgentAnswer:
    reader = ExtractiveReader()
    steps: list[Step] = []
    previous = ""
    contexts: list[str] = []
    result: Answer | None = None
    for sub in decompose(question):
        sub = sub.replace("{answer}", previous)
        query, depth, tries = sub, k, 0
        while True:
            tries += 1
            hits = retriever.search(query, k=depth, mode=mode)
            result = reader.answer(sub, hits)
            if result.confidence >= threshold or tries >= max_retrievals:
                break
            depth *= 2  # not enough evidence: look further and lean on the named entities
            query = sub + " " + " ".join(_ENTITY.findall(sub))
        contexts += [h.text for h in hits if h.chunk_id in result.citations]
        steps.append(Step(sub, result.answer, result.confidence, result.citations, tries))
        previous = result.answer
    citations = list(dict.fromkeys(c for s in steps for c in s.citations))
    score = groundedness(previous, contexts)
    return AgentAnswer(question, previous, citations, steps, score >= ground_threshold, score)


class ChatSession:
    """Multi-turn RAG: each question is rewritten with the history, then answered agentically."""

    def __init__(self, retriever, generate: Callable[[str], str] | None = None, **options) -> None:
        self.retriever = retriever
        self.generate = generate
        self.options = options
        self.history: list[str] = []

    def ask(self, question: str) -> AgentAnswer:
        standalone = rewrite_followup(question, self.history, self.generate)
        result = iterative_answer(self.retriever, standalone, **self.options)
        result.question, result.rewritten = question, standalone
        self.history += [standalone, result.answer]
        return result


__all__ = [
    "AgentAnswer",
    "ChatSession",
    "decompose",
    "groundedness",
    "iterative_answer",
    "last_entity",
    "rewrite_followup",
]
