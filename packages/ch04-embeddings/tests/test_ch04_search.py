"""MiniLM parity with sentence-transformers, and the index/search engine vs FAISS flat."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ch04_embeddings.documents import Document, load_corpus
from ch04_embeddings.search import IndexConfig, SearchIndex, build_index
from llmpath_core import UserError

TEXTS = [
    "hello world",
    "The quick brown fox jumps over the lazy dog.",
    "Ünïcödé text, emoji 🙂 and CJK 漢字 survive tokenisation.",
    "",
    "word " * 400,  # longer than the 256-token window: both truncate
]


def test_encoder_matches_sentence_transformers(encoder, st_model):
    ours = encoder.encode(TEXTS)
    ref = st_model.encode(TEXTS, normalize_embeddings=True)
    cos = (ours * ref).sum(1) / np.linalg.norm(ref, axis=1)
    assert cos.min() >= 0.9999
    assert np.abs(np.linalg.norm(ours, axis=1) - 1).max() < 1e-5


def test_flat_search_is_minilm_plus_faiss_flat(tmp_path, corpus_dir, encoder, st_model):
    import faiss

    build_index(load_corpus(corpus_dir), tmp_path / "idx", encoder, IndexConfig("flat"))
    idx = SearchIndex(tmp_path / "idx")
    docs = load_corpus(corpus_dir)
    vecs = st_model.encode([d.text for d in docs], normalize_embeddings=True)
    flat = faiss.IndexFlatIP(vecs.shape[1])
    flat.add(vecs)
    for query in ("dividing by zero", "pets in the park", "monetary policy"):
        q = st_model.encode([query], normalize_embeddings=True)
        scores, ids = flat.search(q, 4)
        hits = idx.search(query, k=4)
        assert [h.id for h in hits] == [docs[i].id for i in ids[0]]
        assert np.allclose([h.score for h in hits], scores[0], atol=1e-4)
        assert hits[0].text == docs[ids[0][0]].text  # short documents are indexed whole
    assert idx.search("dividing by zero", k=1)[0].id == "python/errors.txt"


def test_long_document_split_and_deduplicated(tmp_path, encoder):
    long_text = ("Cats are independent animals. " * 60) + "The final paragraph is about rockets."
    docs = [Document("long", long_text), Document("short", "Rockets fly to orbit.")]
    info = build_index(docs, tmp_path / "i", encoder)
    assert info["passages"] > info["documents"] == 2
    hits = SearchIndex(tmp_path / "i", encoder).search("rockets", k=5)
    assert sorted(h.id for h in hits) == ["long", "short"]  # one hit per document


@pytest.mark.parametrize("kind", ["ivf", "hnsw", "pq"])
def test_approximate_kinds_find_the_obvious_document(tmp_path, corpus_dir, encoder, kind):
    build_index(load_corpus(corpus_dir), tmp_path / kind, encoder, IndexConfig(kind))
    idx = SearchIndex(tmp_path / kind, encoder)
    assert idx.kind == kind
    assert idx.search("ZeroDivisionError divided by zero", k=3)[0].id == "python/errors.txt"


def test_metadata_filters_and_jsonl(tmp_path, encoder):
    rows = [
        {"id": "a", "text": "Exceptions in Python", "year": 2018, "category": "errors"},
        {"id": "b", "text": "Exceptions and tracebacks", "year": 2022, "category": "errors"},
        {"id": "c", "text": "Python loops", "year": 2020, "category": "loops"},
    ]
    (tmp_path / "c.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    build_index(load_corpus(tmp_path / "c.jsonl"), tmp_path / "i", encoder)
    idx = SearchIndex(tmp_path / "i", encoder)
    assert [h.id for h in idx.search("exceptions", 3, {"year": [2019, 2030]})] == ["b", "c"]
    assert {h.id for h in idx.search("exceptions", 3, {"category": ["loops"]})} == {"c"}
    assert idx.search("exceptions", 3, sort="year")[0].id == "b"


def test_bad_inputs(tmp_path, encoder):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="empty"):
        load_corpus(tmp_path / "empty")
    with pytest.raises(UserError, match="no index"):
        SearchIndex(tmp_path / "missing")
    build_index([Document("x", "some text")], tmp_path / "i", encoder)
    meta = json.loads((tmp_path / "i" / "index.json").read_text())
    meta["model"] = "someone/other-model"
    (tmp_path / "i" / "index.json").write_text(json.dumps(meta))
    with pytest.raises(UserError, match="built with someone/other-model"):
        SearchIndex(tmp_path / "i")
    # a failed build leaves the old index in place
    with pytest.raises(UserError):
        build_index([], tmp_path / "i", encoder)
    assert (tmp_path / "i" / "index.json").is_file()
