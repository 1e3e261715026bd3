"""Real English technical prose: the topic help pages that ship with CPython.

``pydoc_data.topics`` holds the text that ``help("topics")`` shows: about 460 kB of documentation
prose in 79 topics. A frozen copy taken from CPython 3.11.7 ships in this package
(``pydoc_topics.json.gz``, under the PSF license like the rest of Python's documentation), so the
corpus is identical on every Python version; its checksum is verified on load. ``live=True``
reads the running interpreter's copy instead (same format, differs between Python releases).

Topics are split into train, validation and test by a hash of the topic name, so the split is
fixed (:func:`topic_split`, shared with the docstrings of :mod:`llmpath_core.data.prose`).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from functools import lru_cache
from importlib import resources

from llmpath_core.errors import UserError

FROZEN_FROM = "CPython 3.11.7"
FROZEN_SHA256 = "4717ccc51e2e7bd1eed2feddb0bcb5a7da19a1a923fd2f258cf81e4285e31683"
"""SHA-256 of the canonical JSON (sorted keys, ``indent=0``) of the frozen topics."""
VALIDATION_PERCENT = 15
TEST_PERCENT = 10
SPLITS = ("train", "validation", "test")


def _canonical(topics: dict[str, str]) -> bytes:
    return json.dumps(topics, sort_keys=True, ensure_ascii=False, indent=0).encode("utf-8")


@lru_cache(maxsize=2)
def pydoc_topics(live: bool = False) -> dict[str, str]:
    """``{topic: text}``, sorted by topic; the frozen copy unless ``live``."""
    if live:
        from pydoc_data import topics

        return dict(sorted(topics.topics.items()))
    raw = gzip.decompress(
        resources.files(__package__).joinpath("pydoc_topics.json.gz").read_bytes()
    )
    digest = hashlib.sha256(raw).hexdigest()
    if digest != FROZEN_SHA256:
        raise UserError(
            f"bundled pydoc topics are corrupt (sha256 {digest}): reinstall llmpath-core"
        )
    return json.loads(raw)


def checksum(live: bool = False) -> str:
    """SHA-256 of the canonical JSON of the topics (equals ``FROZEN_SHA256`` when not live)."""
    return hashlib.sha256(_canonical(pydoc_topics(live))).hexdigest()


def topic_split(name: str) -> str:
    """``"train"``, ``"validation"`` or ``"test"`` for a document (topic or module) name.

    The validation bucket is the one the two-way split of llmpath-core 0.2 had; the test bucket
    came out of its training topics.
    """
    bucket = int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big") % 100
    if bucket < VALIDATION_PERCENT:
        return "validation"
    if bucket < VALIDATION_PERCENT + TEST_PERCENT:
        return "test"
    return "train"


def pydoc_prose(split: str | None = "train", live: bool = False) -> list[str]:
    """The topic texts of ``split`` (``None`` for all), in topic order."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: use one of {', '.join(SPLITS)}")
    return [
        text.strip()
        for name, text in pydoc_topics(live).items()
        if split is None or topic_split(name) == split
    ]


__all__ = ["FROZEN_SHA256", "checksum", "pydoc_prose", "pydoc_topics", "topic_split"]
