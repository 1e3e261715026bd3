"""Documents with metadata: any folder of text, a JSONL file, or the bundled "papers".

A :class:`Document` is ``(id, text, metadata)``. From a folder, ``id`` is the file's path relative
to the folder; from JSONL, it is the line's ``id`` field (``text`` holds the text, every other field
is metadata). The default corpus is CPython's documentation prose (``pydoc_data.topics``, bundled
by llmpath-core) split into short "papers" with generated metadata (year, category, author), so a
metadata filter has something to filter.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmpath_core import UserError

TEXT_SUFFIXES = {".txt", ".md", ".rst", ".text", ".markdown", ".html", ".htm", ".py", ".json"}
AUTHORS = [
    "Ada Byron",
    "Alan Turing",
    "Grace Hopper",
    "Edsger Dijkstra",
    "Barbara Liskov",
    "Donald Knuth",
    "Frances Allen",
    "John Backus",
]
CATEGORIES = {
    "statements": (
        "statement",
        "assign",
        "assert",
        "import",
        "return",
        "raise",
        "del",
        "pass",
        "break",
        "continue",
        "global",
        "nonlocal",
        "if",
        "while",
        "for",
        "try",
        "with",
    ),
    "expressions": (
        "expression",
        "operator",
        "comparison",
        "lambda",
        "boolean",
        "atom",
        "primar",
        "power",
        "shifting",
        "binary",
        "unary",
        "conditional",
    ),
    "data model": (
        "type",
        "object",
        "class",
        "method",
        "attribute",
        "special",
        "numeric",
        "sequence",
        "mapping",
        "dict",
        "string",
        "bltin",
        "customization",
    ),
    "execution": (
        "execmodel",
        "naming",
        "exception",
        "function",
        "frame",
        "scope",
        "callable",
        "debugger",
        "context",
        "async",
        "coroutine",
    ),
}


@dataclass
class Document:
    """One searchable text with an id and free-form metadata."""

    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


def _category(topic: str) -> str:
    name = topic.lower()
    for category, keys in CATEGORIES.items():
        if any(k in name for k in keys):
            return category
    return "other"


def default_papers(max_words: int = 150, seed: int = 0) -> list[Document]:
    """The pydoc prose cut into "papers" of at most ``max_words`` words (whole paragraphs).

    Each paper gets a category from its topic, a year in 2015-2024 and an author, drawn with a
    fixed seed; short papers fit MiniLM's 256-token window, so each is embedded whole.
    """
    from llmpath_core.data import pydoc_topics

    rng = random.Random(seed)
    docs: list[Document] = []
    for topic, text in sorted(pydoc_topics().items()):
        paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip()]
        paragraphs = [p for p in paragraphs if len(p.split()) >= 8 and not set(p) <= set("*=-")]
        part: list[str] = []
        n = 0
        for para in [*paragraphs, None]:
            words = len(para.split()) if para else 0
            if part and (para is None or n + words > max_words):
                year, author = rng.randint(2015, 2024), rng.choice(AUTHORS)
                docs.append(
                    Document(
                        f"{topic}/{len([d for d in docs if d.metadata['topic'] == topic])}",
                        " ".join(part),
                        {
                            "topic": topic,
                            "category": _category(topic),
                            "year": year,
                            "author": author,
                        },
                    )
                )
                part, n = [], 0
            if para:
                part.append(" ".join(para.split()[:max_words]))
                n += min(words, max_words)
    return docs


def load_jsonl(path: Path) -> list[Document]:
    """One document per line: ``{"id": ..., "text": ..., any metadata...}``."""
    docs = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UserError(f"{path}:{number}: not JSON ({exc.msg})") from None
            if not isinstance(row, dict) or not isinstance(row.get("text"), str):
                raise UserError(f'{path}:{number}: each line needs a "text" string')
            doc_id = str(row.get("id", number))
            meta = {k: v for k, v in row.items() if k not in ("id", "text")}
            docs.append(Document(doc_id, row["text"], meta))
    return docs


def load_folder(root: Path) -> list[Document]:
    """Every text file under ``root`` (by suffix), id = path relative to ``root``."""
    docs = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or path.suffix.lower() not in (
            TEXT_SUFFIXES | {""}
        ):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        docs.append(Document(rel.as_posix(), text, {"path": rel.as_posix()}))
    return docs


def load_corpus(path: str | Path | None = None) -> list[Document]:
    """Documents from a folder, a JSONL file, one text file, or (``None``) the bundled papers."""
    if path is None:
        return default_papers()
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(2, "no such file or folder", str(path))
    if path.is_dir():
        docs = load_folder(path)
    elif path.suffix == ".jsonl":
        docs = load_jsonl(path)
    else:
        docs = [Document(path.name, path.read_text(encoding="utf-8"), {"path": path.name})]
    docs = [d for d in docs if d.text.strip()]
    if not docs:
        raise UserError(f"{path}: the corpus is empty (no non-empty text files or JSONL lines)")
    ids = [d.id for d in docs]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise UserError(f"{path}: duplicate document id {dup!r}")
    return docs


def matches(metadata: dict[str, Any], filters: dict[str, Any] | None) -> bool:
    """Metadata filter: ``{"category": "statements", "year": [2018, 2020]}``.

    A list of two numbers is an inclusive range, any other list a set of allowed values, a scalar
    an exact match (compared as strings, so ``year=2019`` from a command line matches 2019).
    """
    for key, want in (filters or {}).items():
        have = metadata.get(key)
        if have is None:
            return False
        if isinstance(want, (list, tuple)):
            if len(want) == 2 and all(isinstance(w, (int, float)) for w in want):
                if not isinstance(have, (int, float)) or not want[0] <= have <= want[1]:
                    return False
            elif str(have) not in {str(w) for w in want}:
                return False
        elif str(have) != str(want):
            return False
    return True


__all__ = ["Document", "default_papers", "load_corpus", "load_folder", "load_jsonl", "matches"]
