"""Two deterministic evaluation sets.

``pydoc_eval_set`` mines definitional sentences from the bundled CPython topic help ("Assert
statements are a convenient way to insert debugging assertions into a program") and turns each
into a question ("What are assert statements?"), a gold passage (the
sentence, located in its topic) and an answer (the predicate). A chunk is relevant when it holds
the answer text.

``fictional_encyclopedia`` generates countries, cities and people from a seeded syllable generator
with facts no model has seen (capital, founding year, founder, birthplace, national animal,
currency), written as short articles. Single-hop questions test the reader; two-hop questions
("Who founded the capital of Veltrania?") test graph RAG and iterative retrieval.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from ch18_rag.documents import Document


@dataclass
class QAItem:
    question: str
    answer: str
    source: str
    gold: str  # the gold passage (a sentence of the source)
    kind: str = "single"
    hops: list[str] = field(default_factory=list)


_DEFINITION = re.compile(
    r"^((?:The |An |A )?[A-Z][\w\"-]*(?: [a-z\"_][\w\"-]*){0,4}) (is|are) "
    r"((?:a|an|the|one|used|called) .{12,140}?)[.:;]$"
)
_VAGUE = {
    "following",
    "result",
    "value",
    "arguments",
    "argument",
    "same",
    "former",
    "latter",
    "first",
    "second",
    "other",
    "rest",
    "default",
    "object",
    "name",
    "effect",
    "only",
}
_SKIP_SUBJECTS = {
    "This",
    "It",
    "That",
    "There",
    "What",
    "These",
    "Which",
    "If",
    "When",
    "For",
    "Since",
    "Although",
    "Such",
    "Each",
    "Here",
    "Its",
    "Both",
    "Note",
    "Return",
    "Returns",
    "Otherwise",
    "Then",
    "Thus",
}


def pydoc_eval_set(
    documents: list[Document] | None = None, limit: int | None = None
) -> list[QAItem]:
    """Definitional questions over the bundled pydoc topics (deterministic, in topic order)."""
    from ch18_rag.documents import pydoc_documents

    docs = documents if documents is not None else pydoc_documents()
    items, seen = [], set()
    for doc in docs:
        paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", doc.text)]
        sentences = [s for p in paragraphs for s in re.split(r"(?<=[.!?:;])\s+", p)]
        for sentence in sentences:
            m = _DEFINITION.match(sentence)
            if not m or m.group(1).split()[0] in _SKIP_SUBJECTS or m.group(1).split()[-1] in _VAGUE:
                continue
            subject = m.group(1)
            lowered = subject[0].lower() + subject[1:] if not subject[1:2].isupper() else subject
            question = f"What {m.group(2)} {lowered}?"
            if question in seen:
                continue
            seen.add(question)
            items.append(QAItem(question, m.group(3), doc.source, sentence))
            if limit is not None and len(items) >= limit:
                return items
    return items


_SYLLABLES = (
    "ka",
    "vel",
    "tra",
    "mor",
    "ro",
    "wick",
    "quil",
    "lon",
    "dra",
    "ves",
    "ith",
    "an",
    "sor",
    "bel",
    "mir",
    "tho",
    "zan",
    "ul",
    "pen",
    "dor",
    "ras",
    "tel",
    "o",
    "ny",
    "ae",
    "gar",
    "lis",
    "mun",
    "fen",
    "hal",
)
_ANIMALS = (
    "silver heron",
    "red lynx",
    "striped otter",
    "golden ibex",
    "blue marten",
    "grey crane",
    "spotted hare",
    "black swift",
    "green viper",
    "white bison",
)
_JOBS = ("cartographer", "glassblower", "astronomer", "shipwright", "weaver", "physician")


def _name(rng: random.Random, used: set[str], parts: int) -> str:
    while True:
        name = "".join(rng.choice(_SYLLABLES) for _ in range(parts)).capitalize()
        if name not in used and len(name) > 3:
            used.add(name)
            return name


@dataclass
class Encyclopedia:
    documents: list[Document]
    questions: list[QAItem]
    facts: list[tuple[str, str, str]]  # (subject, relation, object)
    candidates: dict[str, list[str]]  # answer kind -> every possible answer
    records: list[dict[str, str]] = field(default_factory=list)  # one per country, every fact


def fictional_encyclopedia(n_countries: int = 12, seed: int = 18) -> Encyclopedia:
    """Articles about invented countries, cities and people, with questions and answers."""
    rng = random.Random(seed)
    used: set[str] = set()
    docs: list[Document] = []
    questions: list[QAItem] = []
    facts: list[tuple[str, str, str]] = []
    records: list[dict[str, str]] = []
    kinds: dict[str, list[str]] = {
        "capital": [],
        "year": [],
        "animal": [],
        "currency": [],
        "founder": [],
        "birthplace": [],
    }
    towns = [_name(rng, used, 2) for _ in range(n_countries)]
    for i in range(n_countries):
        country = _name(rng, used, 3)
        capital = _name(rng, used, 2)
        year = str(rng.randint(1100, 1899))
        animal = _ANIMALS[i % len(_ANIMALS)]
        currency = _name(rng, used, 2).lower()
        founder = f"{_name(rng, used, 2)} {_name(rng, used, 2)}"
        birthplace = towns[(i * 7 + 3) % n_countries]
        job = rng.choice(_JOBS)
        text = (
            f"# {country}\n\n"
            f"{country} is a small country on the Ostral Sea. The capital of {country} is "
            f"{capital}. {country} was founded in {year}. The national animal of {country} is "
            f"the {animal}. The currency of {country} is the {currency}.\n\n"
            f"## {capital}\n\n{capital} is the largest city of {country}. {capital} was founded "
            f"by {founder}, a {job}.\n\n"
            f"## {founder}\n\n{founder} was born in {birthplace}. {founder} drew the first map "
            f"of the {country} coast."
        )
        source = f"encyclopedia:{country}"
        records.append(
            {
                "country": country,
                "capital": capital,
                "year": year,
                "animal": animal,
                "currency": currency,
                "founder": founder,
                "birthplace": birthplace,
                "job": job,
                "source": source,
            }
        )
        docs.append(Document(source, text, country, {"type": "encyclopedia", "country": country}))
        facts += [
            (country, "capital", capital),
            (country, "founded in", year),
            (country, "national animal", animal),
            (country, "currency", currency),
            (capital, "founded by", founder),
            (founder, "born in", birthplace),
        ]
        for kind, value in [
            ("capital", capital),
            ("year", year),
            ("animal", animal),
            ("currency", currency),
            ("founder", founder),
            ("birthplace", birthplace),
        ]:
            kinds[kind].append(value)
        questions += [
            QAItem(
                f"What is the capital of {country}?",
                capital,
                source,
                f"The capital of {country} is {capital}.",
                "capital",
            ),
            QAItem(
                f"When was {country} founded?",
                year,
                source,
                f"{country} was founded in {year}.",
                "year",
            ),
            QAItem(
                f"What is the national animal of {country}?",
                animal,
                source,
                f"The national animal of {country} is the {animal}.",
                "animal",
            ),
            QAItem(
                f"What is the currency of {country}?",
                currency,
                source,
                f"The currency of {country} is the {currency}.",
                "currency",
            ),
            QAItem(
                f"Who founded {capital}?",
                founder,
                source,
                f"{capital} was founded by {founder}, a {job}.",
                "founder",
            ),
            QAItem(
                f"Where was {founder} born?",
                birthplace,
                source,
                f"{founder} was born in {birthplace}.",
                "birthplace",
            ),
            QAItem(
                f"Who founded the capital of {country}?",
                founder,
                source,
                f"{capital} was founded by {founder}, a {job}.",
                "two-hop",
                [f"What is the capital of {country}?", "Who founded {answer}?"],
            ),
        ]
    return Encyclopedia(docs, questions, facts, kinds, records)


def write_documents(docs: list[Document], folder: str | Path) -> list[Path]:
    """Write documents as Markdown files (one per document) so they can be ingested as files."""
    from llmpath_core import write_text

    folder = Path(folder)
    paths = []
    for doc in docs:
        name = re.sub(r"[^\w.-]+", "_", doc.source.split(":", 1)[-1]) + ".md"
        paths.append(write_text(folder / name, doc.text))
    return paths


__all__ = [
    "Encyclopedia",
    "QAItem",
    "fictional_encyclopedia",
    "pydoc_eval_set",
    "write_documents",
]
