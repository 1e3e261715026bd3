"""Chunking: cut documents into retrievable pieces.

* ``fixed``     -- windows of ``size`` tokens (MiniLM's WordPiece) stepping ``size - overlap``;
* ``recursive`` -- split by structure (headings, blank lines, lines, sentences, words), merge the
  pieces back up to ``size`` tokens (the LangChain ``RecursiveCharacterTextSplitter`` idea, counted
  in tokens);
* ``semantic``  -- sentences grouped until the embedding distance between neighbours jumps above a
  percentile of all neighbour distances (Kamradt's "semantic chunking" breakpoints);
* ``parent``    -- hierarchical: ``recursive`` parents of ``parent_size`` tokens, each cut into
  child chunks of ``size`` tokens; the child is retrieved, its parent's text is returned.

Every chunk keeps character offsets into its document, the document metadata, and the nearest
heading above it as ``section``.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from ch18_rag.documents import Document

CHUNKERS = ("fixed", "recursive", "semantic", "parent")


@dataclass
class Chunk:
    chunk_id: str
    source: str
    text: str
    start: int
    end: int
    metadata: dict[str, Any] = field(default_factory=dict)
    parent_id: str | None = None
    parent_text: str | None = None


@dataclass
class ChunkConfig:
    """How to chunk. Sizes are in MiniLM tokens (the encoder reads at most 256)."""

    chunker: str = "recursive"
    size: int = 200
    overlap: int = 40
    parent_size: int = 600
    breakpoint_percentile: float = 90.0


@lru_cache(maxsize=1)
def minilm_tokenizer():
    """The WordPiece tokenizer of the bundled all-MiniLM-L6-v2 (``tokenizers``, fast)."""
    from tokenizers import Tokenizer

    from ch18_rag.embeddings import default_model_path

    tok = Tokenizer.from_file(str(default_model_path() / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    return tok


class TokenCounter:
    """Token offsets of one text, so that the tokens of any character span are a bisect away."""

    def __init__(self, text: str) -> None:
        enc = minilm_tokenizer().encode(text, add_special_tokens=False)
        self.starts = [s for s, _ in enc.offsets]
        self.ends = [e for _, e in enc.offsets]

    def count(self, start: int, end: int) -> int:
        return bisect.bisect_left(self.starts, end) - bisect.bisect_left(self.starts, start)


_HEADING = re.compile(r"^(#{1,6} .+|.+\n[*=\-~^]{3,})$", re.M)


def _sections(text: str) -> list[tuple[int, str]]:
    """(offset, heading) for Markdown headings and underlined (reST/pydoc) headings."""
    out = []
    for m in _HEADING.finditer(text):
        heading = m.group(0).split("\n")[0].lstrip("#").strip()
        out.append((m.start(), heading))
    return out


def _section_at(sections: list[tuple[int, str]], offset: int) -> str:
    i = bisect.bisect_right([s for s, _ in sections], offset) - 1
    return sections[i][1] if i >= 0 else ""


def fixed_spans(text: str, size: int, overlap: int) -> list[tuple[int, int]]:
    """Character spans of windows of ``size`` tokens with ``overlap`` tokens shared."""
    if overlap >= size:
        raise ValueError("overlap must be smaller than size")
    counter = TokenCounter(text)
    n = len(counter.starts)
    spans = []
    for first in range(0, max(n, 1), size - overlap):
        last = min(first + size, n) - 1
        if n == 0:
            break
        spans.append((counter.starts[first], counter.ends[last]))
        if last == n - 1:
            break
    return spans


_SEPARATORS = (
    r"\n(?=#{1,6} )|\n(?=[^\n]+\n[*=\-~^]{3,}\n)",  # before headings
    r"\n\s*\n",  # paragraphs
    r"\n",  # lines
    r"(?<=[.!?])\s+",  # sentences
    r"\s+",  # words
)


def _split(text: str, start: int, end: int, pattern: str) -> list[tuple[int, int]]:
    pieces, cursor = [], start
    for m in re.compile(pattern).finditer(text, start, end):
        if m.start() > cursor:
            pieces.append((cursor, m.start()))
        cursor = m.end()
    if cursor < end:
        pieces.append((cursor, end))
    return pieces


def recursive_spans(text: str, size: int, overlap: int = 0) -> list[tuple[int, int]]:
    """Structure-first spans of at most ``size`` tokens (a single over-long word may exceed it)."""
    counter = TokenCounter(text)

    def go(start: int, end: int, level: int) -> list[tuple[int, int]]:
        if counter.count(start, end) <= size or level == len(_SEPARATORS):
            return [(start, end)]
        out: list[tuple[int, int]] = []
        for s, e in _split(text, start, end, _SEPARATORS[level]):
            out += go(s, e, level + 1) if counter.count(s, e) > size else [(s, e)]
        return out

    merged: list[tuple[int, int]] = []
    for section_start, section_end in _split(text, 0, len(text), _SEPARATORS[0]):
        first = len(merged)  # pieces merge back up to the budget, never across a heading
        for s, e in go(section_start, section_end, 1):
            if len(merged) > first and counter.count(merged[-1][0], e) <= size:
                merged[-1] = (merged[-1][0], e)
            else:
                merged.append((s, e))
    return [(s, e) for s, e in merged if text[s:e].strip()]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for s, e in _split(text, 0, len(text), r"\n\s*\n"):
        spans += _split(text, s, e, r"(?<=[.!?])\s+")
    return spans


def semantic_spans(
    text: str,
    embed: Callable[[list[str]], np.ndarray],
    size: int,
    percentile: float = 90.0,
) -> list[tuple[int, int]]:
    """Group sentences; break where cosine distance to the next sentence is in the top tail."""
    counter = TokenCounter(text)
    sentences = []
    for s, e in sentence_spans(text):  # an over-long sentence is cut by tokens first
        if counter.count(s, e) > size:
            sentences += [(s + a, s + b) for a, b in recursive_spans(text[s:e], size)]
        else:
            sentences.append((s, e))
    if len(sentences) <= 1:
        return sentences
    vectors = embed([text[s:e] for s, e in sentences])
    distances = 1.0 - np.sum(vectors[:-1] * vectors[1:], axis=1)
    threshold = float(np.percentile(distances, percentile))
    groups = [[sentences[0]]]
    for (s, e), distance in zip(sentences[1:], distances, strict=True):
        too_long = counter.count(groups[-1][0][0], e) > size
        if distance > threshold or too_long:
            groups.append([(s, e)])
        else:
            groups[-1].append((s, e))
    return [(g[0][0], g[-1][1]) for g in groups]


def chunk_document(
    doc: Document,
    config: ChunkConfig,
    embed: Callable[[list[str]], np.ndarray] | None = None,
) -> list[Chunk]:
    """The chunks of one document under ``config`` (ids ``<source>#<n>``)."""
    text = doc.text
    sections = _sections(text)
    base = {"title": doc.title, **doc.metadata}

    def make(i: int, s: int, e: int, **extra) -> Chunk:
        meta = {**base, "section": _section_at(sections, s) or doc.title}
        return Chunk(f"{doc.source}#{i}", doc.source, text[s:e], s, e, meta, **extra)

    if config.chunker == "fixed":
        spans = fixed_spans(text, config.size, config.overlap)
    elif config.chunker == "recursive":
        spans = recursive_spans(text, config.size)
    elif config.chunker == "semantic":
        if embed is None:
            raise ValueError("semantic chunking needs an embedding function")
        spans = semantic_spans(text, embed, config.size, config.breakpoint_percentile)
    elif config.chunker == "parent":
        chunks = []
        for p, (ps, pe) in enumerate(recursive_spans(text, config.parent_size)):
            for cs, ce in recursive_spans(text[ps:pe], config.size):
                chunks.append(
                    make(
                        len(chunks),
                        ps + cs,
                        ps + ce,
                        parent_id=f"{doc.source}#p{p}",
                        parent_text=text[ps:pe],
                    )
                )
        return chunks
    else:
        raise ValueError(f"unknown chunker {config.chunker!r}: use one of {CHUNKERS}")
    return [make(i, s, e) for i, (s, e) in enumerate(spans)]


__all__ = [
    "CHUNKERS",
    "Chunk",
    "ChunkConfig",
    "TokenCounter",
    "chunk_document",
    "fixed_spans",
    "minilm_tokenizer",
    "recursive_spans",
    "semantic_spans",
    "sentence_spans",
]
