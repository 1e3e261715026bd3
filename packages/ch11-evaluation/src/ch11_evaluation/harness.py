"""The evaluation harness: log-likelihood multiple choice and generation with answer extraction.

Multiple choice (MMLU, HellaSwag, ARC...): every choice is scored as the continuation
``" " + choice`` of the prompt, and the prediction is the choice with the highest summed
log-probability (``acc``) or the highest log-probability per character of the choice
(``acc_norm``: long choices are not penalised for their length). These are lm-eval's definitions;
the tests hold every per-choice log-likelihood to lm-eval's within 1e-5.

Generation (GSM8K): greedy decoding until a stop string, then a regex pulls the final number out
of the text (lm-eval's ``flexible-extract``: the last number), and exact match compares it with the
gold answer after the same normalisation (commas, ``$``, a trailing period, case).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from ch11_evaluation.stats import bootstrap_ci, mean_stderr
from ch11_evaluation.tasks import GenItem, MCItem

TARGET_DELIMITER = " "
#: lm-eval's gsm8k "flexible-extract" filter: the last number-like span of the generation
NUMBER_REGEX = r"(-?[$0-9.,]{2,})|(-?[0-9]+)"
GSM8K_IGNORE = [",", r"\$", "(?s).*#### ", r"\.$"]
GSM8K_UNTIL = ["Question:", "</s>", "<|im_end|>", "\n\n"]


class LanguageModel(Protocol):
    name: str

    def loglikelihood(self, requests: list[tuple[str, str]]) -> list[tuple[float, bool]]: ...

    def generate_until(
        self, requests: list[tuple[str, list[str]]], max_gen_toks: int = 64
    ) -> list[str]: ...


@dataclass
class MCResult:
    """Scores of a multiple-choice task, and every item's per-choice log-likelihoods."""

    acc: float
    acc_norm: float
    acc_stderr: float
    acc_norm_stderr: float
    n: int
    acc_ci: tuple[float, float]
    per_item: list[dict[str, Any]] = field(repr=False)

    def to_dict(self, items: bool = True) -> dict[str, Any]:
        out = {
            "acc": self.acc,
            "acc_norm": self.acc_norm,
            "acc_stderr": self.acc_stderr,
            "acc_norm_stderr": self.acc_norm_stderr,
            "n": self.n,
            "acc_ci95": list(self.acc_ci),
        }
        if items:
            out["items"] = self.per_item
        return out


def score_multiple_choice(lm: LanguageModel, items: list[MCItem], *, seed: int = 0) -> MCResult:
    """acc and acc_norm (lm-eval's definitions), CLT standard errors, a bootstrap CI."""
    requests = [(it.context, TARGET_DELIMITER + c) for it in items for c in it.choices]
    results = lm.loglikelihood(requests)
    per_item, pos = [], 0
    for it in items:
        lls = np.array([ll for ll, _ in results[pos : pos + len(it.choices)]])
        pos += len(it.choices)
        lengths = np.array([float(len(c)) for c in it.choices])
        pred, pred_norm = int(np.argmax(lls)), int(np.argmax(lls / lengths))
        per_item.append(
            {
                **it.meta,
                "loglikelihoods": lls.tolist(),
                "pred": pred,
                "pred_norm": pred_norm,
                "gold": it.answer,
                "acc": float(pred == it.answer),
                "acc_norm": float(pred_norm == it.answer),
            }
        )
    acc = [r["acc"] for r in per_item]
    acc_norm = [r["acc_norm"] for r in per_item]
    ci = bootstrap_ci(acc, seed=seed)
    return MCResult(
        acc=float(np.mean(acc)),
        acc_norm=float(np.mean(acc_norm)),
        acc_stderr=mean_stderr(acc),
        acc_norm_stderr=mean_stderr(acc_norm),
        n=len(items),
        acc_ci=(ci.low, ci.high),
        per_item=per_item,
    )


def extract_answer(text: str, regex: str = NUMBER_REGEX, group_select: int = -1) -> str:
    """The ``group_select``-th match of ``regex`` (first non-empty group), or ``[invalid]``."""
    matches = re.findall(regex, text)
    if not matches:
        return "[invalid]"
    match = matches[group_select]
    if isinstance(match, tuple):
        match = next((m for m in match if m), "[invalid]")
    return match.strip()


def normalise(text: str, ignore: list[str] = GSM8K_IGNORE, ignore_case: bool = True) -> str:
    for pattern in ignore:
        text = re.sub(pattern, "", text)
    return text.lower() if ignore_case else text


@dataclass
class GenResult:
    exact_match: float
    exact_match_stderr: float
    n: int
    per_item: list[dict[str, Any]] = field(repr=False)

    def to_dict(self, items: bool = True) -> dict[str, Any]:
        out = {
            "exact_match": self.exact_match,
            "exact_match_stderr": self.exact_match_stderr,
            "n": self.n,
        }
        if items:
            out["items"] = self.per_item
        return out


def score_generative(
    lm: LanguageModel,
    items: list[GenItem],
    *,
    until: list[str] = GSM8K_UNTIL,
    max_gen_toks: int = 32,
    regex: str = NUMBER_REGEX,
) -> GenResult:
    """Greedy generation, answer extraction, exact match (GSM8K's recipe in lm-eval)."""
    generations = lm.generate_until([(it.context, list(until)) for it in items], max_gen_toks)
    per_item = []
    for it, text in zip(items, generations, strict=True):
        extracted = extract_answer(text, regex)
        hit = float(normalise(extracted) == normalise(it.target))
        per_item.append(
            {
                **it.meta,
                "generation": text,
                "extracted": extracted,
                "target": it.target,
                "exact_match": hit,
            }
        )
    em = [r["exact_match"] for r in per_item]
    return GenResult(float(np.mean(em)), mean_stderr(em), len(items), per_item)
