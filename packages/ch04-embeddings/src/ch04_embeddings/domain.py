"""A generated financial-news retrieval set: plain-language questions vs filing-style sentences.

Each fictional company has one "filing" sentence per event (``Norvex Holdings reported a net
loss for the quarter``) and one plain question per event (``Did Norvex lose money?``). The words
barely overlap, company names repeat across events, and events repeat across companies, so a
general encoder confuses them; a model fine-tuned on other companies learns the jargon.
Companies are split between training and evaluation: evaluation companies are never trained on.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# event: (sentiment, plain-language questions, filing phrasings); {c} company, {o} other company
EVENTS: dict[str, tuple[str, list[str], list[str]]] = {
    "beat": (
        "positive",
        ["did {c} make more money than people expected", "{c} earned more than forecast"],
        [
            "{c} posted quarterly earnings above consensus estimates",
            "{c} delivered an earnings beat for the period",
        ],
    ),
    "loss": (
        "negative",
        ["did {c} lose money", "{c} was not profitable this quarter"],
        [
            "{c} reported a net loss for the quarter",
            "{c} swung to a loss attributable to shareholders",
        ],
    ),
    "acquire": (
        "positive",
        ["is {c} buying {o}", "{c} wants to take over {o}"],
        [
            "{c} agreed to acquire {o} in an all-cash transaction",
            "{c} announced a definitive merger agreement with {o}",
        ],
    ),
    "layoffs": (
        "negative",
        ["is {c} firing staff", "{c} is letting workers go"],
        [
            "{c} announced a workforce reduction as part of restructuring",
            "{c} disclosed headcount cuts across divisions",
        ],
    ),
    "dividend": (
        "positive",
        ["will {c} pay shareholders more", "{c} gives investors more cash"],
        ["{c} raised its quarterly dividend", "{c} declared an increased cash distribution"],
    ),
    "bankrupt": (
        "negative",
        ["has {c} gone broke", "{c} cannot pay its debts"],
        [
            "{c} filed a voluntary petition under Chapter 11",
            "{c} entered court-supervised insolvency proceedings",
        ],
    ),
    "split": (
        "neutral",
        ["is {c} cutting its share price into smaller pieces", "{c} will give two shares for one"],
        [
            "{c} executed a two-for-one stock split",
            "{c} effected a forward split of its common stock",
        ],
    ),
    "ceo": (
        "neutral",
        ["does {c} have a new boss", "{c} changed who runs the company"],
        [
            "{c} appointed a new chief executive officer",
            "{c} named a successor to its CEO effective immediately",
        ],
    ),
    "bonds": (
        "neutral",
        ["is {c} borrowing money", "{c} took on new loans"],
        [
            "{c} issued senior unsecured notes due 2031",
            "{c} priced a debt offering of fixed-rate bonds",
        ],
    ),
    "buyback": (
        "positive",
        ["is {c} buying back its own stock", "{c} purchases its own shares"],
        [
            "{c} authorized a share repurchase program",
            "{c} expanded its stock buyback authorization",
        ],
    ),
    "revenue_down": (
        "negative",
        ["are {c} sales falling", "{c} sold less than last year"],
        ["{c} revenue declined year over year", "{c} reported a contraction in net sales"],
    ),
    "fine": (
        "negative",
        ["was {c} punished by regulators", "did {c} get fined"],
        [
            "{c} settled with the SEC and paid a civil penalty",
            "{c} agreed to a consent order with the regulator",
        ],
    ),
}
_A = [
    "Nor",
    "Quin",
    "Vel",
    "Astr",
    "Bram",
    "Cor",
    "Dex",
    "El",
    "Fen",
    "Gal",
    "Hal",
    "Iv",
    "Jor",
    "Kel",
    "Lum",
    "Mar",
    "Ost",
    "Pel",
    "Rov",
    "Sol",
    "Tal",
    "Ul",
    "Var",
    "Wex",
]
_B = ["vex", "dle", "ora", "ium", "tek", "nova", "ris", "mont", "gate", "line", "corp", "wave"]
_C = ["Holdings", "Group", "Industries", "Systems", "Partners", "Capital"]


@dataclass
class DomainSet:
    """Training pairs ``(question, filing)`` and an evaluation corpus with its questions."""

    train_pairs: list[tuple[str, str]]
    eval_docs: list[str]
    eval_queries: list[str]
    eval_answers: list[int]  # index into eval_docs of each query's filing
    sentiments: list[str]  # per eval doc


def company_names(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    names: list[str] = []
    while len(names) < n:
        name = f"{rng.choice(_A)}{rng.choice(_B)} {rng.choice(_C)}"
        if name.split()[0] not in {x.split()[0] for x in names}:
            names.append(name)
    return names


def domain_set(n_train: int = 24, n_eval: int = 8, seed: int = 0) -> DomainSet:
    """Pairs for ``n_train`` companies; documents and questions for ``n_eval`` other ones."""
    rng = random.Random(seed)
    names = company_names(n_train + n_eval + 1, seed)
    train, held, other = names[:n_train], names[n_train:-1], names[-1]
    pairs = []
    for c in train:
        for _, questions, filings in EVENTS.values():
            o = rng.choice([x for x in train if x != c])
            pairs.append(
                (
                    rng.choice(questions).format(c=c.split()[0], o=o.split()[0]),
                    rng.choice(filings).format(c=c, o=o),
                )
            )
    rng.shuffle(pairs)
    docs, queries, answers, sentiments = [], [], [], []
    for c in held:
        for sentiment, questions, filings in EVENTS.values():
            o = rng.choice([x for x in held if x != c] or [other])
            answers.append(len(docs))
            docs.append(rng.choice(filings).format(c=c, o=o))
            queries.append(rng.choice(questions).format(c=c.split()[0], o=o.split()[0]))
            sentiments.append(sentiment)
    return DomainSet(pairs, docs, queries, answers, sentiments)


__all__ = ["EVENTS", "DomainSet", "company_names", "domain_set"]
