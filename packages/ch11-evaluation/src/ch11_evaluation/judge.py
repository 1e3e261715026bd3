"""LLM-as-judge: pairwise and single-answer grading, and the checks that keep a judge honest.

Zheng et al. 2023 ("Judging LLM-as-a-Judge with MT-Bench and Chatbot Arena") found judges prefer
the answer shown first (position bias) and the longer answer (verbosity bias). So a judge is
only trusted after:

- :func:`position_consistency` — judge every pair twice, (A, B) and (B, A); a consistent judge
  picks the same *answer* both times; the first-position win rate shows which way it leans;
- :func:`verbosity_probe` — pad the worse answer with words that add nothing and measure how
  often the judge's verdict moves to it;
- :func:`judge_agreement` — Cohen's kappa between the judge's verdicts and gold labels.

Judges: :class:`LMJudge` asks any :class:`~ch11_evaluation.harness.LanguageModel` (a model
folder or an endpoint) by comparing the log-likelihoods of the verdict tokens, which is
deterministic and needs no parsing; :class:`OverlapJudge` is a transparent reference-based
baseline (token F1 with the reference answer).
"""

from __future__ import annotations

import random
import re
from dataclasses import asdict, dataclass
from typing import Protocol

import numpy as np

from ch11_evaluation.agreement import cohen_kappa

PAIRWISE_TEMPLATE = (
    "Question: {question}\nAnswer A: {a}\nAnswer B: {b}\n"
    "Which answer is correct and helpful, A or B?\nVerdict:"
)
SINGLE_TEMPLATE = (
    "Question: {question}\nAnswer: {answer}\n"
    "Rubric: 5 = correct and complete, 3 = partly correct, 1 = wrong.\nScore (1-5):"
)
FILLER = (
    " To be thorough, it is worth saying that this answer was considered carefully, step by "
    "step, with attention to every detail of the question, and it is given in full."
)


@dataclass(frozen=True)
class Pair:
    """A question with two answers; ``gold`` is 0 if ``a`` is better, 1 if ``b`` is."""

    question: str
    a: str
    b: str
    gold: int
    reference: str = ""


class Judge(Protocol):
    name: str

    def prefer(self, pairs: list[Pair]) -> list[int]:
        """For each pair, 0 if the judge prefers ``a``, 1 if ``b``."""
        ...


class LMJudge:
    """A language model as judge: the verdict with the higher log-likelihood wins."""

    def __init__(self, lm, name: str | None = None):
        self.lm = lm
        self.name = name or f"lm:{getattr(lm, 'name', 'model')}"

    def prefer(self, pairs: list[Pair]) -> list[int]:
        reqs = []
        for p in pairs:
            prompt = PAIRWISE_TEMPLATE.format(question=p.question, a=p.a, b=p.b)
            reqs += [(prompt, " A"), (prompt, " B")]
        lls = [ll for ll, _ in self.lm.loglikelihood(reqs)]
        return [int(lls[2 * i + 1] > lls[2 * i]) for i in range(len(pairs))]

    def grade(self, question: str, answers: list[str]) -> list[float]:
        """Single-answer grading: the expected 1–5 score under the model's verdict distribution."""
        scores = []
        for answer in answers:
            prompt = SINGLE_TEMPLATE.format(question=question, answer=answer)
            lls = np.array(
                [ll for ll, _ in self.lm.loglikelihood([(prompt, f" {s}") for s in range(1, 6)])]
            )
            p = np.exp(lls - lls.max())
            scores.append(float((p / p.sum()) @ np.arange(1, 6)))
        return scores


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def token_f1(answer: str, reference: str) -> float:
    """SQuAD-style token F1 between an answer and a reference."""
    a, r = _tokens(answer), _tokens(reference)
    common = sum(min(a.count(t), r.count(t)) for t in set(a))
    if not a or not r or common == 0:
        return 0.0
    precision, recall = common / len(a), common / len(r)
    return 2 * precision * recall / (precision + recall)


class OverlapJudge:
    """Prefers the answer with the higher token F1 against the reference (ties: ``a``)."""

    name = "overlap-f1"

    def prefer(self, pairs: list[Pair]) -> list[int]:
        return [int(token_f1(p.b, p.reference) > token_f1(p.a, p.reference)) for p in pairs]


def swap(pair: Pair) -> Pair:
    return Pair(pair.question, pair.b, pair.a, 1 - pair.gold, pair.reference)


@dataclass
class PositionReport:
    consistency: float  # same answer preferred in both orders
    first_position_rate: float  # share of all verdicts that chose the answer shown first
    accuracy_original: float
    accuracy_swapped: float
    n: int

    def to_dict(self) -> dict:
        return asdict(self)


def position_consistency(judge: Judge, pairs: list[Pair]) -> PositionReport:
    """Judge each pair in both orders; a consistent judge prefers the same answer both times."""
    first = judge.prefer(pairs)
    second = judge.prefer([swap(p) for p in pairs])
    same_answer = [f == 1 - s for f, s in zip(first, second, strict=True)]
    chose_first = [v == 0 for v in first + second]
    return PositionReport(
        consistency=float(np.mean(same_answer)),
        first_position_rate=float(np.mean(chose_first)),
        accuracy_original=float(np.mean([v == p.gold for v, p in zip(first, pairs, strict=True)])),
        accuracy_swapped=float(
            np.mean([v == 1 - p.gold for v, p in zip(second, pairs, strict=True)])
        ),
        n=len(pairs),
    )


@dataclass
class VerbosityReport:
    prefers_worse_plain: float
    prefers_worse_padded: float
    verbosity_bias: float  # padded - plain: how much padding alone moves the verdict
    n: int

    def to_dict(self) -> dict:
        return asdict(self)


def pad_worse(pair: Pair, filler: str = FILLER) -> Pair:
    """The same pair with the worse answer made longer by words that add no content."""
    if pair.gold == 0:
        return Pair(pair.question, pair.a, pair.b + filler, 0, pair.reference)
    return Pair(pair.question, pair.a + filler, pair.b, 1, pair.reference)


def verbosity_probe(judge: Judge, pairs: list[Pair]) -> VerbosityReport:
    """How often the judge prefers the worse answer, before and after padding it."""
    plain = judge.prefer(pairs)
    padded = judge.prefer([pad_worse(p) for p in pairs])
    worse_plain = np.mean([v != p.gold for v, p in zip(plain, pairs, strict=True)])
    worse_padded = np.mean([v != p.gold for v, p in zip(padded, pairs, strict=True)])
    return VerbosityReport(
        float(worse_plain), float(worse_padded), float(worse_padded - worse_plain), len(pairs)
    )


def judge_agreement(judge: Judge, pairs: list[Pair]) -> dict:
    """Accuracy and Cohen's kappa of the judge's verdicts against the gold labels."""
    verdicts = judge.prefer(pairs)
    gold = [p.gold for p in pairs]
    return {
        "accuracy": float(np.mean([v == g for v, g in zip(verdicts, gold, strict=True)])),
        "kappa": cohen_kappa(verdicts, gold),
        "n": len(pairs),
    }


def pairs_from_mc(items, n: int = 24, seed: int = 0) -> list[Pair]:
    """Judge pairs from multiple-choice items: a right and a wrong answer, the gold side random.

    The question text holds the fact, so a judge that reads can tell which answer is right.
    """
    rng = random.Random(seed)
    pairs = []
    for item in items[:n]:
        question = item.context.removeprefix("Question: ").split("\nAnswer:")[0]
        right = item.choices[item.answer]
        wrong = rng.choice([c for i, c in enumerate(item.choices) if i != item.answer])
        good, bad = f"The answer is {right}.", f"The answer is {wrong}."
        gold = rng.randint(0, 1)
        a, b = (good, bad) if gold == 0 else (bad, good)
        pairs.append(Pair(question, a, b, gold, reference=f"{question} {right}"))
    return pairs
