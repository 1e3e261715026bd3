"""One loader for text: ``load_text(source)``.

``source`` may be

* a bundled corpus, optionally with a split suffix (``train``, ``validation``, ``test``) such as
  ``"mix:validation"``:

  - ``"stories"``: the synthetic stories (:mod:`llmpath_core.data.stories`);
  - ``"pydoc"``: CPython's topic help pages; ``"docstrings"``: the standard library's docstrings;
    ``"prose"``: both (:mod:`llmpath_core.data.prose`, frozen from CPython 3.11.7);
  - ``"mix"``: llmpath's training corpus, stories and prose interleaved so that prose is a third of
    the characters until the split's prose runs out (:func:`mix_documents`); the default model
    was trained on ``mix``;
* a local file: ``.txt``/``.md`` (the whole file is one document), ``.jsonl`` (one JSON object per
  line, text in ``text_field``) or ``.parquet`` (column ``text_field``); a file is one split, so
  ``split`` does not apply to it;
* a local dataset folder or a Hugging Face hub dataset id (``"roneneldan/TinyStories"``), loaded
  through :func:`datasets.load_dataset` with ``split``. Offline, a hub id fails with a clear
  :class:`~llmpath_core.errors.UserError`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from llmpath_core.data.prose import SPLITS, all_prose, docstring_prose
from llmpath_core.data.pydoc import pydoc_prose
from llmpath_core.data.stories import iter_stories, tiny_stories
from llmpath_core.errors import UserError

BUNDLED = ("stories", "pydoc", "docstrings", "prose", "mix")
MIX_PROSE_SHARE = 1 / 3
TEXT_SUFFIXES = (".txt", ".md", ".text")
_FILE_SUFFIXES = (*TEXT_SUFFIXES, ".jsonl", ".ndjson", ".json", ".parquet", ".csv")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def _truncate(docs: list[str], max_chars: int | None) -> list[str]:
    if max_chars is None:
        return docs
    kept, total = [], 0
    for doc in docs:
        if total >= max_chars:
            break
        kept.append(doc[: max_chars - total])
        total += len(kept[-1])
    return kept


def mix_documents(split: str = "train", max_chars: int | None = None) -> list[str]:
    """Stories and prose of ``split`` interleaved, prose about a third of the characters.

    A prose document comes next whenever prose is below its share of the characters so far, a
    story otherwise; once the split's prose is used up only stories follow. Without ``max_chars``
    the mix holds all the split's prose and twice as many characters of stories. A smaller
    request is a prefix of a larger one.
    """
    prose = all_prose(split)
    if max_chars is None:
        max_chars = int(sum(len(d) for d in prose) / MIX_PROSE_SHARE)
    stories = iter_stories(split=split)
    docs: list[str] = []
    total = prose_chars = 0
    next_prose = 0
    while total < max_chars:
        if next_prose < len(prose) and prose_chars < MIX_PROSE_SHARE * max(total, 1):
            doc = prose[next_prose]
            next_prose += 1
            prose_chars += len(doc)
        else:
            doc = next(stories)
        docs.append(doc)
        total += len(doc) + 1
    return docs


def _bundled(name: str, split: str, max_chars: int | None) -> list[str]:
    if split not in SPLITS:
        raise UserError(f"unknown split {split!r} for {name!r}: use {', '.join(SPLITS)}")
    if name == "stories":
        return tiny_stories(split, max_chars)
    if name == "mix":
        return mix_documents(split, max_chars)
    return {"pydoc": pydoc_prose, "docstrings": docstring_prose, "prose": all_prose}[name](split)


def _read_jsonl(path: Path, text_field: str) -> list[str]:
    docs = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UserError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
            if not isinstance(record, dict) or not isinstance(record.get(text_field), str):
                raise UserError(
                    f"{path}:{number}: expected an object with a string field {text_field!r} "
                    "(choose the field with text_field / --text-field)"
                )
            docs.append(record[text_field])
    return docs


def _read_parquet(path: Path, text_field: str) -> list[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except pa.ArrowException as exc:
        raise UserError(f"{path}: not a readable parquet file ({exc})") from None
    if text_field not in schema.names:
        raise UserError(
            f"{path}: no column {text_field!r} (columns: {', '.join(schema.names)}); "
            "choose one with text_field / --text-field"
        )
    column = pq.read_table(path, columns=[text_field]).column(text_field)
    if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
        raise UserError(f"{path}: column {text_field!r} holds {column.type}, not text")
    return [value for value in column.to_pylist() if value is not None]


def _read_file(path: Path, text_field: str) -> list[str]:
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES:
        try:
            return [path.read_text(encoding="utf-8")]
        except UnicodeDecodeError:
            raise UserError(f"{path}: not UTF-8 text") from None
    if suffix in (".jsonl", ".ndjson"):
        return _read_jsonl(path, text_field)
    if suffix == ".parquet":
        return _read_parquet(path, text_field)
    raise UserError(
        f"{path}: unsupported file type {suffix or '(none)'!r}; "
        f"use {', '.join(TEXT_SUFFIXES)}, .jsonl or .parquet"
    )


def _read_dataset(name: str, split: str, text_field: str) -> list[str]:
    import datasets

    try:
        dataset = datasets.load_dataset(name, split=split)
    except (FileNotFoundError, ConnectionError, OSError, ValueError) as exc:
        offline = os.environ.get("HF_DATASETS_OFFLINE") == "1" or os.environ.get("HF_HUB_OFFLINE")
        hint = " (offline: the hub cannot be reached; use a local file)" if offline else ""
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"could not load dataset {name!r} split {split!r}{hint}: {first}") from None
    if text_field not in dataset.column_names:
        raise UserError(
            f"dataset {name!r} has no column {text_field!r} "
            f"(columns: {', '.join(dataset.column_names)})"
        )
    return [text for text in dataset[text_field] if isinstance(text, str)]


def load_documents(
    source: str | os.PathLike,
    *,
    split: str = "train",
    text_field: str = "text",
    max_chars: int | None = None,
) -> list[str]:
    """Load ``source`` as a list of documents (see the module docstring for what it accepts).

    ``max_chars`` caps the total size (for the bundled stories it is also how much is generated,
    so it can ask for several MB).
    """
    if max_chars is not None and max_chars <= 0:
        raise UserError("max_chars must be positive")
    text = os.fspath(source)
    name, _, suffix_split = text.partition(":")
    if name in BUNDLED:
        return _truncate(_bundled(name, suffix_split or split, max_chars), max_chars)
    path = Path(text).expanduser()
    if path.is_file():
        docs = _read_file(path, text_field)
    elif path.is_dir() or (_HUB_ID.match(text) and path.suffix.lower() not in _FILE_SUFFIXES):
        docs = _read_dataset(str(path) if path.is_dir() else text, split, text_field)
    else:
        raise UserError(
            f"no such file, folder or dataset: {text!r} (bundled corpora: {', '.join(BUNDLED)})"
        )
    if not docs or not any(doc.strip() for doc in docs):
        raise UserError(f"{text}: no text found")
    return _truncate(docs, max_chars)


def load_text(
    source: str | os.PathLike,
    *,
    split: str = "train",
    text_field: str = "text",
    max_chars: int | None = None,
    separator: str = "\n\n",
) -> str:
    """Load ``source`` as one string: its documents joined with ``separator``."""
    docs = load_documents(source, split=split, text_field=text_field, max_chars=max_chars)
    return separator.join(docs)


__all__ = ["BUNDLED", "load_documents", "load_text", "mix_documents"]
