"""JSONL(.gz) shards in C4's record format: one JSON object per line, the text in ``"text"``.

Reading streams record by record (memory bounded by one line); a malformed line is a
:class:`~llmpath_core.UserError` that names the file and the line number. Writing goes through
``llmpath_core.io.atomic_write`` so an interrupted run never leaves a half-written shard.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from llmpath_core import UserError
from llmpath_core.io import atomic_write


def _open(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def shard_paths(inputs: str | Path | Iterable[str | Path]) -> list[Path]:
    """Expand files and folders (``*.jsonl`` and ``*.jsonl.gz`` inside, sorted) into shard paths."""
    items = [inputs] if isinstance(inputs, (str, Path)) else list(inputs)
    paths: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = sorted([*p.glob("*.jsonl"), *p.glob("*.jsonl.gz")])
            if not found:
                raise UserError(f"{p}: no *.jsonl or *.jsonl.gz shards in this folder")
            paths += found
        elif p.is_file():
            paths.append(p)
        else:
            raise UserError(f"{p}: no such file or folder")
    return paths


def iter_records(
    inputs: str | Path | Iterable[str | Path], text_key: str = "text"
) -> Iterator[dict]:
    """Yield every record of every shard in order; bad lines raise ``UserError`` (file:line)."""
    for path in shard_paths(inputs):
        try:
            with _open(path) as fh:
                for lineno, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise UserError(
                            f"{path}:{lineno}: malformed JSON line ({exc.msg}); "
                            "each line must be one JSON object"
                        ) from None
                    if not isinstance(record, dict):
                        raise UserError(
                            f"{path}:{lineno}: expected a JSON object, got {type(record).__name__}"
                        )
                    if not isinstance(record.get(text_key), str):
                        raise UserError(
                            f"{path}:{lineno}: the record has no string {text_key!r} field"
                        )
                    yield record
        except (OSError, EOFError, UnicodeDecodeError) as exc:
            if isinstance(exc, FileNotFoundError):
                raise
            raise UserError(f"{path}: cannot read it as UTF-8 JSONL(.gz): {exc}") from None


def write_records(path: str | Path, records: Iterable[dict[str, Any]]) -> int:
    """Write ``records`` as JSONL (gzip if the name ends in ``.gz``) atomically; return count."""
    path = Path(path)
    n = 0
    if path.suffix == ".gz":
        with atomic_write(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
            for record in records:
                gz.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
                n += 1
        return n
    with atomic_write(path, "w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            n += 1
    return n
