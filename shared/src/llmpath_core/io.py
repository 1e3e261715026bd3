"""Atomic output: a failed run leaves no half-written file and never overwrites a good one.

Everything is written to a temporary sibling first and moved into place with :func:`os.replace`
(atomic on POSIX and Windows when source and target share a file system). If the block raises, the
temporary file or folder is removed and the target is untouched.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _chmod_like_new(path: str | Path, directory: bool = False) -> None:
    # mkstemp/mkdtemp create owner-only entries; give the result the mode a plain open() or
    # mkdir() would have under the current umask
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", **open_kwargs) -> Iterator[IO]:
    """Open a temporary file next to ``path``; on success move it onto ``path``.

    >>> with atomic_write("out.txt") as f:
    ...     f.write("hello")  # doctest: +SKIP
    """
    if not any(m in mode for m in "wx"):
        raise ValueError("atomic_write only supports write modes ('w', 'wb', ...)")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if "b" not in mode:
        open_kwargs.setdefault("encoding", "utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        _chmod_like_new(tmp)
        with open(tmp, mode.replace("x", "w"), **open_kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary folder next to ``path``; on success it replaces ``path``.

    Use it for artefacts made of several files (a model folder, an index). An existing ``path`` is
    only removed after the new folder is complete.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        _chmod_like_new(tmp, directory=True)
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if target.exists() and not target.is_dir():
        shutil.rmtree(tmp, ignore_errors=True)
        raise FileExistsError(f"{target} exists and is not a folder")
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically and return the path."""
    with atomic_write(path) as f:
        f.write(text)
    return Path(path)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically and return the path."""
    with atomic_write(path, "wb") as f:
        f.write(data)
    return Path(path)


def write_json(path: str | os.PathLike, obj: Any, *, indent: int = 2) -> Path:
    """Serialise ``obj`` as JSON (see :func:`llmpath_core.report.to_jsonable`) atomically."""
    from llmpath_core.report import to_jsonable

    return write_text(path, json.dumps(to_jsonable(obj), indent=indent) + "\n")


__all__ = ["atomic_dir", "atomic_write", "write_bytes", "write_json", "write_text"]
