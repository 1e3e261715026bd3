"""Held-out encyclopedia questions that the article templates did not write.

The template set of :func:`ch18_rag.evalsets.fictional_encyclopedia` asks "What is the capital of
X?" about an article that says "The capital of X is Y.": the question's words sit right before
the answer, which is exactly where the extractive reader looks (the span after the last question
word) and exactly what the graph's regular expressions match. A score on that set measures the
templates, not the reader.

This module writes two harder sets from the same facts, deterministically, with its own phrase
lists (written separately from the article templates and never used to tune the reader or the
graph extractor):

* :func:`paraphrased_questions` -- four wordings per fact kind, with synonyms ("seat of
  government", "established", "creature", "money") and reordered clauses ("{X} was founded in
  which year?"), asked about the *template* articles. This isolates question wording.
* :func:`rewritten_articles` -- the same facts written in three sentence forms per kind, most of
  which put the answer before the question's words or in the middle of a clause ("Mungar, a
  walled port, is where the government of Aegarwick sits.", "It was the weaver Quilny Anpen who
  established Mungar."). Asked with the paraphrased questions, this is the set where the answer is
  not in the template slot.

Form ``j`` of a kind is used for country ``i`` when ``(i + offset) % len(forms) == j``, so every
form appears equally often and the sets are identical on every run.
"""

from __future__ import annotations

from ch18_rag.documents import Document
from ch18_rag.evalsets import Encyclopedia, QAItem

KINDS = ("capital", "year", "animal", "currency", "founder", "birthplace")

# question wordings: {X} country, {C} capital, {F} founder (never the template's wording)
QUESTION_FORMS: dict[str, tuple[str, ...]] = {
    "capital": (
        "Which city is the seat of government of {X}?",
        "Name the capital city of {X}.",
        "From which city is {X} run?",
        "In which city are the government offices of {X}?",
    ),
    "year": (
        "In what year was {X} established?",
        "When did {X} come into existence?",
        "{X} was founded in which year?",
        "What is the founding year of {X}?",
    ),
    "animal": (
        "Which animal is the national symbol of {X}?",
        "What creature represents {X}?",
        "Name the national animal of {X}.",
        "The emblem animal of {X} is what?",
    ),
    "currency": (
        "What money is used in {X}?",
        "Which currency do people in {X} pay with?",
        "Name the currency of {X}.",
        "What is the coin of {X} called?",
    ),
    "founder": (
        "Who established the city of {C}?",
        "By whom was {C} founded?",
        "Which person founded {C}?",
        "{C} was set up by whom?",
    ),
    "birthplace": (
        "What is the birthplace of {F}?",
        "In which town was {F} born?",
        "{F} was born where?",
        "Where does {F} come from?",
    ),
}
TWO_HOP_FORMS = (
    "Who established the seat of government of {X}?",
    "Which person founded the capital city of {X}?",
    "By whom was the capital of {X} founded?",
)

# article sentences: {X} country, {C} capital, {Y} year, {A} animal, {M} currency, {F} founder,
# {J} founder's trade, {T} birthplace
ARTICLE_FORMS: dict[str, tuple[str, ...]] = {
    "capital": (
        "{C}, a walled port, is where the government of {X} sits.",
        "Most ministries of {X} are housed in {C}, the seat of its parliament.",
        "{X} is governed from {C}, its chief city.",
    ),
    "year": (
        "In {Y} the first assembly of {X} met, and that year is counted as its beginning.",
        "{X} dates its independence to {Y}, when the old charter was signed.",
        "The year {Y} marks the establishment of {X}.",
    ),
    "animal": (
        "The {A} appears on the flag of {X} and is protected by law.",
        "{X} chose the {A} as its national creature long ago.",
        "On the coat of arms of {X} stands the {A}, the animal its people honour most.",
    ),
    "currency": (
        "Traders in {X} pay in the {M}, a coin of bronze.",
        "The {M} has been the money of {X} for as long as records go back.",
        "Prices in {X} are quoted in the {M}, a silver coin.",
    ),
    "founder": (
        "{F}, a {J}, laid the first stones of {C}.",
        "It was the {J} {F} who established {C}.",
        "{C} owes its origin to {F}, a {J} who settled there.",
    ),
    "birthplace": (
        "{T} is the birthplace of {F}.",
        "{F} came into the world in the town of {T}, far from the coast.",
        "Born in {T}, {F} later drew the first map of the {X} coast.",
    ),
}


def _fields(record: dict[str, str]) -> dict[str, str]:
    return {
        "X": record["country"],
        "C": record["capital"],
        "Y": record["year"],
        "A": record["animal"],
        "M": record["currency"],
        "F": record["founder"],
        "J": record["job"],
        "T": record["birthplace"],
    }


def _pick(forms: tuple[str, ...], i: int, offset: int) -> str:
    return forms[(i + offset) % len(forms)]


def rewritten_articles(enc: Encyclopedia) -> tuple[list[Document], dict[tuple[str, str], str]]:
    """The encyclopedia's facts as new articles, and ``{(source, kind): sentence}`` for each fact.

    Sources stay ``encyclopedia:<country>``, so relevance is judged the same way as on the
    template articles.
    """
    docs, sentences = [], {}
    for i, record in enumerate(enc.records):
        f = _fields(record)
        said = {kind: _pick(ARTICLE_FORMS[kind], i, k).format(**f) for k, kind in enumerate(KINDS)}
        for kind, sentence in said.items():
            sentences[(record["source"], kind)] = sentence
        text = (
            f"# {f['X']}\n\n"
            f"{f['X']} lies on the Ostral Sea. {said['capital']} {said['year']} "
            f"{said['currency']} {said['animal']}\n\n"
            f"{said['founder']} {said['birthplace']}"
        )
        docs.append(
            Document(
                record["source"],
                text,
                f["X"],
                {"type": "encyclopedia", "country": f["X"], "style": "rewritten"},
            )
        )
    return docs, sentences


def paraphrased_questions(
    enc: Encyclopedia, gold: dict[tuple[str, str], str] | None = None, offset: int = 1
) -> list[QAItem]:
    """One paraphrased question per fact (72 for 12 countries), in country then kind order.

    ``gold`` gives each fact's sentence (default: the template article's sentence, taken from the
    template question of the same kind); answers are the same strings as the template set's.
    """
    template = {(q.source, q.kind): q for q in enc.questions}
    items = []
    for i, record in enumerate(enc.records):
        f = _fields(record)
        for k, kind in enumerate(KINDS):
            question = _pick(QUESTION_FORMS[kind], i, offset + k).format(**f)
            base = template[(record["source"], kind)]
            sentence = gold[(record["source"], kind)] if gold else base.gold
            items.append(QAItem(question, base.answer, record["source"], sentence, kind))
    return items


def paraphrased_two_hop(
    enc: Encyclopedia, gold: dict[tuple[str, str], str] | None = None
) -> list[QAItem]:
    """ "Who founded the capital of X?" in other words, one per country."""
    template = {(q.source, q.kind): q for q in enc.questions}
    items = []
    for i, record in enumerate(enc.records):
        base = template[(record["source"], "two-hop")]
        sentence = gold[(record["source"], "founder")] if gold else base.gold
        question = _pick(TWO_HOP_FORMS, i, 0).format(**_fields(record))
        items.append(QAItem(question, base.answer, record["source"], sentence, "two-hop"))
    return items


__all__ = [
    "ARTICLE_FORMS",
    "KINDS",
    "QUESTION_FORMS",
    "TWO_HOP_FORMS",
    "paraphrased_questions",
    "paraphrased_two_hop",
    "rewritten_articles",
]
