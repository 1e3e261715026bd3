"""Real English technical prose: CPython's documentation, frozen so it never changes.

Two parts, both from CPython 3.11.7 and under the PSF license like the rest of Python's docs:

* ``pydoc`` — the topic help pages of ``pydoc_data.topics`` (what ``help("topics")`` shows, about
  460 kB in 79 topics; :mod:`llmpath_core.data.pydoc`);
* ``docstrings`` — the docstrings of the standard library, one document per public module (the
  module's docstring, then each public class, function and method docstring under its signature;
  about 1.3 MB in 259 modules), frozen by ``shared/scripts/freeze_docstrings.py``.

``prose`` is both. Each document belongs to ``train``, ``validation`` or ``test`` by a hash of its
name (:func:`prose_split`), so the splits are fixed and never overlap; the old two-way ``pydoc``
split keeps its validation topics (the test topics come out of the old training topics).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from functools import lru_cache
from importlib import resources

from llmpath_core.data.pydoc import SPLITS, pydoc_prose
from llmpath_core.data.pydoc import topic_split as prose_split
from llmpath_core.errors import UserError

DOCSTRINGS_FROZEN_FROM = "CPython 3.11.7"
DOCSTRINGS_SHA256 = "406367d5b53b3d5214466c9a9593a418404e446999602542e4ad0ad4e267ade0"
"""SHA-256 of the decompressed JSON of the frozen docstrings."""


@lru_cache(maxsize=1)
def stdlib_docstrings() -> dict[str, str]:
    """``{module: text}`` of the frozen standard-library docstrings, sorted by module."""
    raw = gzip.decompress(
        resources.files(__package__).joinpath("stdlib_docstrings.json.gz").read_bytes()
    )
    digest = hashlib.sha256(raw).hexdigest()
    if digest != DOCSTRINGS_SHA256:
        raise UserError(
            f"bundled stdlib docstrings are corrupt (sha256 {digest}): reinstall llmpath-core"
        )
    return json.loads(raw)


def _check(split: str | None) -> None:
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: use one of {', '.join(SPLITS)}")


def docstring_prose(split: str | None = "train") -> list[str]:
    """The docstring documents of ``split`` (``None`` for all), in module order."""
    _check(split)
    return [
        text.strip()
        for name, text in stdlib_docstrings().items()
        if split is None or prose_split(name) == split
    ]


def all_prose(split: str | None = "train") -> list[str]:
    """Topic pages then docstring documents of ``split``."""
    return pydoc_prose(split) + docstring_prose(split)


__all__ = [
    "DOCSTRINGS_SHA256",
    "SPLITS",
    "all_prose",
    "docstring_prose",
    "prose_split",
    "stdlib_docstrings",
]
