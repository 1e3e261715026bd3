"""Chunkers: token budgets, exact overlaps, structure-first splits, semantic breakpoints."""

from __future__ import annotations

import itertools

import numpy as np

from ch18_rag.chunking import (
    ChunkConfig,
    TokenCounter,
    chunk_document,
    fixed_spans,
    minilm_tokenizer,
    recursive_spans,
    semantic_spans,
)
from ch18_rag.documents import Document, pydoc_documents

TEXT = pydoc_documents()[0].text  # the "assert" topic, ~1.1 kB


def _ids(text: str) -> list[int]:
    return minilm_tokenizer().encode(text, add_special_tokens=False).ids


def test_fixed_windows_have_exact_token_overlap():
    spans = fixed_spans(TEXT, size=40, overlap=10)
    counter = TokenCounter(TEXT)
    all_ids = _ids(TEXT)
    assert sum(1 for _ in spans) == -(-(len(all_ids) - 10) // 30)  # ceil((n - overlap) / step)
    for (s1, e1), (s2, _) in itertools.pairwise(spans):
        assert counter.count(s1, e1) == 40
        assert counter.count(s2, e1) == 10  # the shared tokens
    assert spans[0][0] == 0 and spans[-1][1] == len(TEXT.rstrip())


def test_recursive_respects_budget_and_structure():
    text = "# A\n\n" + "alpha beta. " * 30 + "\n\n# B\n\n" + "gamma delta. " * 5
    spans = recursive_spans(text, size=64)
    counter = TokenCounter(text)
    assert all(counter.count(s, e) <= 64 for s, e in spans)
    assert any(text[s:e].startswith("# B") for s, e in spans)  # a heading starts a chunk
    joined = " ".join(text[s:e] for s, e in spans)
    assert joined.split() == text.split()  # nothing lost, nothing duplicated
    doc = Document("d", text, "T", {"type": "markdown"})
    chunks = chunk_document(doc, ChunkConfig(size=64))
    assert chunks[-1].metadata["section"] == "B" and chunks[0].metadata["section"] == "A"


def test_semantic_breaks_where_topics_change():
    text = "Cats purr. Cats nap. Cats hunt mice. Stocks fell. Bonds rose. Markets closed."

    def embed(sentences):  # two clean topics: animal sentences vs finance sentences
        v = np.array(
            [[1.0, 0.05 * i] if "Cat" in s else [0.05 * i, 1.0] for i, s in enumerate(sentences)]
        )
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    spans = semantic_spans(text, embed, size=100, percentile=80)
    assert [text[s:e] for s, e in spans] == [
        "Cats purr. Cats nap. Cats hunt mice.",
        "Stocks fell. Bonds rose. Markets closed.",
    ]


def test_parent_child():
    doc = Document("d", TEXT, "assert", {})
    chunks = chunk_document(doc, ChunkConfig(chunker="parent", size=32, parent_size=128))
    parents = {c.parent_id for c in chunks}
    assert 1 < len(parents) < len(chunks)
    for c in chunks:
        assert (
            c.text in c.parent_text and len(c.parent_text) > len(c.text)
        ) or c.text == c.parent_text
