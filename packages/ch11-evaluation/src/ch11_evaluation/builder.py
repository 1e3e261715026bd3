"""Custom benchmark builder: validate a new multiple-choice task, then register it.

Checks, each a list of findings with the line numbers involved:

- **schema** — every line parses as the ``mc`` format (see :mod:`ch11_evaluation.tasks`);
- **duplicates** — questions equal after normalising case, punctuation and spaces;
- **answer leak** — the gold choice appears in the question while no distractor does
  (the item tests reading, not knowledge), or the gold answer is always at one position;
- **contamination** — a question shares a long word n-gram (13 words, as GPT-3's and
  lm-eval's decontamination use; settable) with a training corpus, so a model may have seen it;
- **difficulty spread** — with a model given, per-item correctness; a task every model gets right
  or wrong measures nothing.

:func:`register_task` copies a task that passed into a registry folder with a manifest
(``registry.json``: name, path, sha256, n, checks), after which ``ch11-evaluation run --task
mc:<registered path>`` scores it like any bundled task.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ch11_evaluation.tasks import MCItem, parse_mc, read_jsonl
from llmpath_core import UserError, atomic_write


def normalise_question(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def ngrams(words: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


@dataclass
class Validation:
    n: int
    duplicates: list[list[int]] = field(default_factory=list)
    answer_leaks: list[int] = field(default_factory=list)
    gold_position_counts: dict[int, int] = field(default_factory=dict)
    contaminated: list[int] = field(default_factory=list)
    difficulty: dict | None = None

    @property
    def passed(self) -> bool:
        return not self.duplicates and not self.contaminated

    def to_dict(self) -> dict:
        return {**asdict(self), "passed": self.passed}


def find_duplicates(questions: list[tuple[int, str]]) -> list[list[int]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for line, q in questions:
        groups[normalise_question(q)].append(line)
    return [lines for lines in groups.values() if len(lines) > 1]


def find_answer_leaks(items: list[MCItem], questions: list[str]) -> list[int]:
    leaks = []
    for item, q in zip(items, questions, strict=True):
        words = set(normalise_question(q).split())
        gold = set(normalise_question(item.choices[item.answer]).split())
        others = [
            set(normalise_question(c).split())
            for i, c in enumerate(item.choices)
            if i != item.answer
        ]
        if gold and gold <= words and not any(o and o <= words for o in others):
            leaks.append(item.meta["line"])
    return leaks


def find_contamination(questions: list[tuple[int, str]], corpus: str, n: int = 13) -> list[int]:
    corpus_grams = ngrams(normalise_question(corpus).split(), n)
    return [
        line for line, q in questions if ngrams(normalise_question(q).split(), n) & corpus_grams
    ]


def validate_task(
    path: str | Path, *, corpus: str | None = None, ngram: int = 13, lm=None
) -> Validation:
    """Run every check on an ``mc`` JSONL file (schema errors raise a UserError naming the line)."""
    rows = read_jsonl(path)
    items = parse_mc(rows, Path(path))
    questions = [(n, obj["question"]) for n, obj in rows]
    result = Validation(n=len(items))
    result.duplicates = find_duplicates(questions)
    result.answer_leaks = find_answer_leaks(items, [q for _, q in questions])
    result.gold_position_counts = dict(sorted(Counter(it.answer for it in items).items()))
    if corpus:
        result.contaminated = find_contamination(questions, corpus, ngram)
    if lm is not None:
        from ch11_evaluation.harness import score_multiple_choice

        scored = score_multiple_choice(lm, items)
        correct = [r["acc"] for r in scored.per_item]
        result.difficulty = {
            "acc": scored.acc,
            "always_right": scored.acc == 1.0,
            "always_wrong": scored.acc == 0.0,
            "wrong_lines": [r["line"] for r in scored.per_item if not r["acc"]],
            "n_correct": int(sum(correct)),
        }
    return result


def register_task(path: str | Path, registry: str | Path, name: str, validation: Validation):
    """Copy a validated task into ``registry/`` and record it in ``registry.json``."""
    if not validation.passed:
        raise UserError(
            f"task {name!r} did not pass validation (duplicates: {validation.duplicates}, "
            f"contaminated lines: {validation.contaminated}): fix it before registering"
        )
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise UserError(f"bad task name {name!r}: use letters, digits, '_', '-' and '.'")
    registry = Path(registry)
    registry.mkdir(parents=True, exist_ok=True)
    target = registry / f"{name}.jsonl"
    data = Path(path).read_bytes()
    with atomic_write(target, "wb") as f:
        f.write(data)
    manifest_path = registry / "registry.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest[name] = {
        "path": str(target),
        "kind": "mc",
        "n": validation.n,
        "sha256": hashlib.sha256(data).hexdigest(),
        "checks": validation.to_dict(),
    }
    with atomic_write(manifest_path, "w") as f:
        json.dump(manifest, f, indent=2)
    return target


__all__ = ["Validation", "register_task", "validate_task"]
