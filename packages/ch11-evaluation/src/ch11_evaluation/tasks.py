"""Task files in the formats the real benchmarks ship, read and validated line by line.

Four formats, each the shape of the public dataset's rows (Hugging Face ``datasets`` exports them
as JSONL with exactly these fields):

- ``mc`` (the contract's format, also MMLU's: ``cais/mmlu`` rows add a ``subject``):
  ``{"question", "choices": [...], "answer": index}``;
- ``hellaswag``: ``{"ctx", "endings": [...], "label": index or "index"}`` (``activity_label``
  optional), scored as a continuation of the context;
- ``gsm8k``: ``{"question", "answer": "...reasoning... #### 42"}``, scored by generation and
  answer extraction;
- ``humaneval``: ``{"task_id", "prompt", "test", "entry_point"}`` plus, for a samples file,
  ``"completion"`` (the model's code), run in the sandbox.

A task spec is ``KIND:PATH`` (``mc:questions.jsonl``) or a bundled sample's name
(``mmlu``, ``hellaswag``, ``gsm8k``, ``humaneval``). Every problem in a file is reported as one
:class:`~llmpath_core.UserError` naming the line, so a bad file never gets half-scored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmpath_core import UserError

DATA_DIR = Path(__file__).resolve().parent / "data"
KINDS = ("mc", "mmlu", "hellaswag", "gsm8k", "humaneval")
BUNDLED = {
    "mmlu": ("mc", "mmlu_sample.jsonl"),
    "hellaswag": ("hellaswag", "hellaswag_sample.jsonl"),
    "gsm8k": ("gsm8k", "gsm8k_sample.jsonl"),
    "humaneval": ("humaneval", "humaneval_samples.jsonl"),
}


@dataclass(frozen=True)
class MCItem:
    """A multiple-choice item: the prompt, the continuations scored, the gold index."""

    context: str
    choices: list[str]
    answer: int
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GenItem:
    """A generative item: the prompt and the gold final answer (GSM8K's text after ``####``)."""

    context: str
    target: str
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CodeSample:
    """A HumanEval problem with one completion to run against its tests."""

    task_id: str
    prompt: str
    completion: str
    test: str
    entry_point: str


@dataclass
class Task:
    """A loaded task: its kind, where it came from and its items."""

    name: str
    kind: str
    path: Path
    items: list[Any]


def read_jsonl(path: str | Path) -> list[tuple[int, dict[str, Any]]]:
    """``(line_number, object)`` for each non-blank line; a bad line is a UserError naming it."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"task file not found: {path}")
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UserError(f"{path}:{n}: not valid JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise UserError(f"{path}:{n}: each line must be a JSON object")
            rows.append((n, obj))
    if not rows:
        raise UserError(f"{path}: no items (an empty task file)")
    return rows


def _need(obj: dict, key: str, kind: type | tuple, where: str) -> Any:
    if key not in obj:
        raise UserError(f"{where}: missing field {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        name = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise UserError(f"{where}: field {key!r} must be {name}, got {type(value).__name__}")
    return value


def _choices(obj: dict, key: str, where: str) -> list[str]:
    choices = _need(obj, key, list, where)
    if len(choices) < 2 or not all(isinstance(c, str) and c for c in choices):
        raise UserError(f"{where}: {key!r} must list at least two non-empty strings")
    return choices


def _index(value: Any, n: int, key: str, where: str) -> int:
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise UserError(f"{where}: {key!r} must be an integer index")
    if not 0 <= value < n:
        raise UserError(f"{where}: {key!r} index {value} is out of range for {n} choices")
    return value


def mc_prompt(question: str) -> str:
    """The zero-shot prompt of the contract (and of lm-eval's MMLU-style tasks)."""
    return f"Question: {question}\nAnswer:"


def gsm8k_prompt(question: str) -> str:
    """GSM8K's zero-shot prompt in lm-eval (``Question: ...\\nAnswer:``)."""
    return f"Question: {question}\nAnswer:"


def gsm8k_target(answer: str) -> str:
    """The gold final answer: the text after ``####``, commas removed."""
    return answer.split("####")[-1].strip().replace(",", "")


def parse_mc(rows: list[tuple[int, dict]], path: Path) -> list[MCItem]:
    items = []
    for n, obj in rows:
        where = f"{path}:{n}"
        question = _need(obj, "question", str, where)
        choices = _choices(obj, "choices", where)
        answer = _index(_need(obj, "answer", (int, str), where), len(choices), "answer", where)
        meta = {"line": n, **({"subject": obj["subject"]} if "subject" in obj else {})}
        items.append(MCItem(mc_prompt(question), list(choices), answer, meta))
    return items


def parse_hellaswag(rows: list[tuple[int, dict]], path: Path) -> list[MCItem]:
    items = []
    for n, obj in rows:
        where = f"{path}:{n}"
        ctx = _need(obj, "ctx", str, where)
        endings = _choices(obj, "endings", where)
        label = _index(_need(obj, "label", (int, str), where), len(endings), "label", where)
        activity = obj.get("activity_label", "")
        context = f"{activity}: {ctx}" if activity else ctx
        items.append(MCItem(context, list(endings), label, {"line": n}))
    return items


def parse_gsm8k(rows: list[tuple[int, dict]], path: Path) -> list[GenItem]:
    items = []
    for n, obj in rows:
        where = f"{path}:{n}"
        question = _need(obj, "question", str, where)
        answer = _need(obj, "answer", str, where)
        if "####" not in answer:
            raise UserError(f"{where}: 'answer' must end with '#### <final answer>'")
        items.append(GenItem(gsm8k_prompt(question), gsm8k_target(answer), {"line": n}))
    return items


def parse_code(rows: list[tuple[int, dict]], path: Path) -> list[CodeSample]:
    items = []
    for n, obj in rows:
        where = f"{path}:{n}"
        fields = {
            k: _need(obj, k, str, where) for k in ("task_id", "prompt", "test", "entry_point")
        }
        completion = obj.get("completion", obj.get("canonical_solution"))
        if not isinstance(completion, str):
            raise UserError(f"{where}: missing field 'completion' (the code to run)")
        items.append(CodeSample(completion=completion, **fields))
    return items


PARSERS = {
    "mc": parse_mc,
    "mmlu": parse_mc,
    "hellaswag": parse_hellaswag,
    "gsm8k": parse_gsm8k,
    "humaneval": parse_code,
}


def load_task(spec: str) -> Task:
    """Load ``KIND:PATH`` or a bundled sample's name (``mmlu``, ``hellaswag``, ``gsm8k``...)."""
    if spec in BUNDLED:
        kind, filename = BUNDLED[spec]
        path = DATA_DIR / filename
        name = spec
    elif ":" in spec:
        kind, _, raw = spec.partition(":")
        if kind not in KINDS:
            raise UserError(
                f"unknown task kind {kind!r} in {spec!r}: use one of {', '.join(KINDS)}"
            )
        path = Path(raw)
        name = path.stem
    else:
        raise UserError(
            f"bad task {spec!r}: use KIND:FILE.jsonl (kinds: {', '.join(KINDS)}) "
            f"or a bundled sample ({', '.join(BUNDLED)})"
        )
    items = PARSERS[kind](read_jsonl(path), path)
    return Task(name=name, kind="mc" if kind == "mmlu" else kind, path=path, items=items)


def load_code_samples(path: str | Path | None = None) -> list[CodeSample]:
    """HumanEval-style samples (``task_id, prompt, completion, test, entry_point`` per line)."""
    path = Path(path) if path is not None else DATA_DIR / BUNDLED["humaneval"][1]
    return parse_code(read_jsonl(path), path)
