"""Constitutional AI for a small base model: written principles, critique, revision, pairs.

Each principle is a sentence *and* a programmatic check of it (so a critique is verifiable) *and*
a decoding constraint that the same model samples its revision under. The default model is a
small story model that cannot follow an instruction such as "rewrite this without sad words",
so the critique is the principle's check (a written line naming the principle and the evidence)
and the revision is the model's own resample from the prompt under the violated principles'
constraints (banned words masked, n-gram repeats blocked, warm words up-weighted, a cooler
temperature for fluency), up to ``rounds`` times, until the principles hold. A revision that
violates fewer principles than the original (and scores higher under ``MultiJudge``) becomes a
preference pair: (prompt, chosen = revision, rejected = original), ready for DPO.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ch10_alignment.data import Pair
from ch10_alignment.judge import BANNED, POSITIVE, MultiJudge

_WORDS = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class Principle:
    """A written principle, its check (``None`` = holds, else the evidence) and its constraint.

    ``constraint`` names the decoding change the revision uses: ``ban`` (mask the banned
    words), ``no_repeat`` (no repeated 3-gram), ``warm`` (a logit bonus on warm words) or
    ``cool`` (temperature 0.7).
    """

    name: str
    text: str
    check: Callable[[str, MultiJudge], str | None] = field(compare=False)
    constraint: str


def _harmless(text: str, judge: MultiJudge) -> str | None:
    bad = [w for w in _WORDS.findall(text.lower()) if w in judge.banned]
    return f"uses {', '.join(dict.fromkeys(bad))}" if bad else None


def _no_repeat(text: str, judge: MultiJudge) -> str | None:
    words = _WORDS.findall(text.lower())
    grams = [tuple(words[i : i + 3]) for i in range(len(words) - 2)]
    rep = len(grams) - len(set(grams))
    return f"repeats {rep} word 3-gram(s)" if rep else None


def _warm(text: str, judge: MultiJudge) -> str | None:
    words = set(_WORDS.findall(text.lower()))
    return None if words & set(judge.targets) else "has no warm word"


def _fluent(text: str, judge: MultiJudge) -> str | None:
    nll = judge.dimensions(text)["nll"]
    return (
        f"reads poorly (NLL {nll:.2f} > {judge.nll_threshold})"
        if nll > judge.nll_threshold
        else None
    )


CONSTITUTION: tuple[Principle, ...] = (
    Principle("harmless", "Do not use sad, angry or frightening words.", _harmless, "ban"),
    Principle("no-repetition", "Do not repeat yourself.", _no_repeat, "no_repeat"),
    Principle("warm", "Tell of kindness and happiness: use at least one warm word.", _warm, "warm"),
    Principle("fluent", "Write fluent, natural sentences.", _fluent, "cool"),
)


def critique(
    text: str, judge: MultiJudge, constitution: tuple[Principle, ...] = CONSTITUTION
) -> list[tuple[Principle, str]]:
    """The violated principles of ``text``, each with its evidence."""
    out = []
    for p in constitution:
        why = p.check(text, judge)
        if why is not None:
            out.append((p, why))
    return out


def critique_text(violations: list[tuple[Principle, str]]) -> str:
    """A written critique: one line per violated principle."""
    if not violations:
        return "The response follows every principle."
    return "\n".join(f'It breaks "{p.text}": it {why}.' for p, why in violations)


def _word_ids(tokenizer, words: tuple[str, ...]) -> list[list[int]]:
    ids = []
    for w in words:
        for form in (" " + w, " " + w.capitalize()):
            t = tokenizer(form, add_special_tokens=False)["input_ids"]
            if t:
                ids.append(t)
    return ids


def revise(
    model,
    tokenizer,
    prompts: list[str],
    constraints: list[frozenset[str]],
    judge: MultiJudge,
    *,
    max_new_tokens: int = 24,
    seed: int = 0,
    warm_bias: float = 4.0,
) -> list[str]:
    """Resample each prompt's continuation with ``model`` under its set of constraints."""
    import torch

    out: list[str | None] = [None] * len(prompts)
    groups: dict[frozenset[str], list[int]] = {}
    for i, c in enumerate(constraints):
        groups.setdefault(c, []).append(i)
    tokenizer.padding_side = "left"
    model.eval()
    for k, (cons, idx) in enumerate(sorted(groups.items(), key=lambda kv: sorted(kv[0]))):
        torch.manual_seed(seed * 1000 + k)
        kw: dict = {"do_sample": True, "top_k": 0, "temperature": 0.7 if "cool" in cons else 1.0}
        if "ban" in cons:
            kw["bad_words_ids"] = _word_ids(tokenizer, judge.banned)
        if "no_repeat" in cons:
            kw["no_repeat_ngram_size"] = 3
        if "warm" in cons:
            kw["sequence_bias"] = {
                tuple(t): warm_bias for t in _word_ids(tokenizer, judge.targets) if len(t) == 1
            }
        for start in range(0, len(idx), 32):
            chunk = idx[start : start + 32]
            enc = tokenizer([prompts[i] for i in chunk], return_tensors="pt", padding=True).to(
                model.device
            )
            with torch.no_grad():
                gen = model.generate(
                    **enc, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.eos_token_id, **kw
                )
            texts = tokenizer.batch_decode(
                gen[:, enc["input_ids"].shape[1] :], skip_special_tokens=True
            )
            for i, t in zip(chunk, texts, strict=True):
                out[i] = t
    return [t or "" for t in out]


@dataclass
class CAIResult:
    """Revised preference pairs and what the loop did."""

    pairs: list[Pair]
    originals: list[str]
    revisions: list[str | None]
    critiques: list[str]
    rounds_used: list[int]


def constitutional_pairs(
    model,
    tokenizer,
    prompts: list[str],
    judge: MultiJudge,
    *,
    constitution: tuple[Principle, ...] = CONSTITUTION,
    rounds: int = 2,
    max_new_tokens: int = 24,
    seed: int = 0,
) -> CAIResult:
    """Sample, critique against ``constitution``, revise up to ``rounds`` times; keep improvements.

    A prompt yields a pair when its final revision violates fewer principles than the original
    and scores higher under ``judge``. Originals that break no principle yield no pair.
    """
    from ch10_alignment.data import sample_continuations

    originals = [
        o[0]
        for o in sample_continuations(
            model, tokenizer, prompts, n=1, max_new_tokens=max_new_tokens, seed=seed
        )
    ]
    judge.dimensions_many(originals)  # one batched fluency pass
    crit = [critique(t, judge, constitution) for t in originals]
    current: list[str | None] = [None] * len(prompts)
    current_v = [len(v) for v in crit]
    cons = [frozenset(p.constraint for p, _ in v) for v in crit]
    used = [0] * len(prompts)
    for r in range(rounds):
        todo = [i for i, v in enumerate(current_v) if v > 0]
        if not todo:
            break
        revised = revise(
            model,
            tokenizer,
            [prompts[i] for i in todo],
            [cons[i] for i in todo],
            judge,
            max_new_tokens=max_new_tokens,
            seed=seed + 1 + r,
        )
        judge.dimensions_many(revised)
        for i, t in zip(todo, revised, strict=True):
            v = critique(t, judge, constitution)
            used[i] = r + 1
            if len(v) < current_v[i]:
                current[i], current_v[i] = t, len(v)
            # the next round also keeps the constraints that this revision still breaks
            cons[i] = cons[i] | frozenset(p.constraint for p, _ in v)
    pairs = [
        Pair(p, rev, orig)
        for p, orig, rev in zip(prompts, originals, current, strict=True)
        if rev is not None and rev != orig and judge.score(rev) > judge.score(orig)
    ]
    return CAIResult(pairs, originals, current, [critique_text(v) for v in crit], used)


def adherence(
    texts: list[str], judge: MultiJudge, constitution: tuple[Principle, ...] = CONSTITUTION
) -> dict[str, float]:
    """The fraction of ``texts`` that keep each principle, and that keep them all (``all``)."""
    judge.dimensions_many(texts)
    viol = [{p.name for p, _ in critique(t, judge, constitution)} for t in texts]
    out = {p.name: sum(p.name not in v for v in viol) / len(texts) for p in constitution}
    out["all"] = sum(not v for v in viol) / len(texts)
    return out


__all__ = [
    "BANNED",
    "CONSTITUTION",
    "POSITIVE",
    "CAIResult",
    "Principle",
    "adherence",
    "constitutional_pairs",
    "critique",
    "critique_text",
    "revise",
]
