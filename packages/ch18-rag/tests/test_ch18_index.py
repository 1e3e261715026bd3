"""Embeddings, the FAISS+SQLite store, incremental ingest, Qdrant parity."""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest

from ch18_rag.chunking import ChunkConfig
from ch18_rag.embeddings import Embedder, default_model_path
from ch18_rag.index import RagIndex, ingest
from ch18_rag.qdrant_store import QdrantStore, export_index
from ch18_rag.retrieval import Retriever
from ch18_rag.scale import clustered_vectors, recall_at_k
from ch18_rag.store import FaissConfig, build_faiss, faiss_search
from llmpath_core import UserError

SMALL = ChunkConfig(size=48)


def test_minilm_equals_sentence_transformers(embedder):
    """Our torch forward pass of the real all-MiniLM-L6-v2 equals sentence-transformers' output
    (sentence vectors and the per-token vectors used for late interaction)."""
    from sentence_transformers import SentenceTransformer

    from ch18_rag.minilm import MiniLM

    texts = [
        "The capital of Zed is Quo.",
        "Assert statements insert debugging assertions.",
        "short",
    ]
    st = SentenceTransformer(str(default_model_path()), device="cpu")
    assert isinstance(embedder.model, MiniLM)
    ref = st.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    np.testing.assert_allclose(embedder.encode(texts), ref, atol=2e-5)
    ref_tokens = st.encode(texts, output_value="token_embeddings")
    for ours, theirs in zip(embedder.token_embeddings(texts), ref_tokens, strict=True):
        theirs = theirs.numpy()[1:-1]
        theirs = theirs / np.linalg.norm(theirs, axis=1, keepdims=True)
        np.testing.assert_allclose(ours, theirs, atol=2e-5)


def test_embedding_cache(tmp_path, embedder):
    cached = Embedder(cache=tmp_path / "c.sqlite")
    cached._model = embedder.model  # share the loaded weights
    first = cached.encode(["alpha", "beta", "alpha"])
    assert (cached.cache.misses, cached.cache.hits) == (2, 1)
    again = cached.encode(["beta", "alpha"])
    assert cached.cache.misses == 2 and cached.cache.hits == 3
    np.testing.assert_array_equal(again, first[[1, 0]])


def test_flat_faiss_equals_brute_force_cosine():
    data = clustered_vectors(2020, seed=1)
    x, q = data[:2000], data[2000:]
    ids, scores = faiss_search(build_faiss(x, FaissConfig("flat")), q, 10)
    brute = q @ x.T
    top = np.argsort(-brute, axis=1, kind="stable")[:, :10]
    np.testing.assert_array_equal(ids, top)
    np.testing.assert_allclose(scores, np.take_along_axis(brute, top, 1), atol=1e-5)


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_approximate_recall_at_defaults(kind):
    data = clustered_vectors(5100, seed=3)  # queries from the same mixture as the data
    x, q = data[:5000], data[5000:]
    truth, _ = faiss_search(build_faiss(x, FaissConfig("flat")), q, 10)
    found, _ = faiss_search(build_faiss(x, FaissConfig(kind)), q, 10)
    assert recall_at_k(found, truth) >= 0.95


def _write(folder, name, text):
    (folder / name).write_text(text)


def _digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_incremental_ingest_equals_fresh_rebuild(tmp_path, embedder, encyclopedia):
    docs = tmp_path / "docs"
    docs.mkdir()
    for d in encyclopedia.documents[:4]:
        _write(docs, d.title + ".md", d.text)
    first = ingest([docs], tmp_path / "inc", chunk=SMALL, embedder=embedder)
    assert (len(first.added), first.embedded) == (4, first.chunks)

    unchanged = ingest([docs], tmp_path / "inc", chunk=SMALL, embedder=embedder)
    assert (len(unchanged.unchanged), unchanged.embedded) == (4, 0)

    names = sorted(p.name for p in docs.iterdir())
    edited = (docs / names[0]).read_text().replace("small country", "large island nation")
    _write(docs, names[0], edited)
    (docs / names[1]).unlink()
    _write(docs, "Extra.md", encyclopedia.documents[4].text)
    before = RagIndex(tmp_path / "inc", embedder)
    edited_file = str((docs / names[0]).resolve())
    n_edited = before.table.con.execute(
        "SELECT count(*) FROM chunks WHERE file = ?", (edited_file,)
    ).fetchone()[0]
    update = ingest([docs], tmp_path / "inc", chunk=SMALL, embedder=embedder)
    assert (len(update.added), len(update.updated), len(update.removed), len(update.unchanged)) == (
        1,
        1,
        1,
        2,
    )
    extra = (
        RagIndex(tmp_path / "inc", embedder)
        .table.con.execute("SELECT count(*) FROM chunks WHERE file LIKE '%Extra.md'")
        .fetchone()[0]
    )
    assert update.embedded == n_edited + extra  # only the changed and new files' chunks

    fresh = ingest([docs], tmp_path / "fresh", chunk=SMALL, embedder=embedder)
    assert fresh.chunks == update.chunks
    inc, new = RagIndex(tmp_path / "inc", embedder), RagIndex(tmp_path / "fresh", embedder)
    rows = "SELECT chunk_id, text, metadata FROM chunks ORDER BY position"
    assert inc.table.con.execute(rows).fetchall() == new.table.con.execute(rows).fetchall()
    np.testing.assert_array_equal(np.asarray(inc.vectors), np.asarray(new.vectors))
    for mode in ("bm25", "dense", "hybrid"):
        for q in ("large island nation", "national animal", "who founded the capital"):
            a = [(h.chunk_id, round(h.score, 5)) for h in Retriever(inc).search(q, 5, mode)]
            b = [(h.chunk_id, round(h.score, 5)) for h in Retriever(new).search(q, 5, mode)]
            assert a == b


def test_failed_ingest_leaves_index_intact(tmp_path, embedder, encyclopedia, pdfs):
    make_pdf, encrypt_pdf = pdfs
    docs = tmp_path / "docs"
    docs.mkdir()
    _write(docs, "a.md", encyclopedia.documents[0].text)
    ingest([docs], tmp_path / "idx", chunk=SMALL, embedder=embedder)
    before = _digest(tmp_path / "idx")
    (docs / "locked.pdf").write_bytes(encrypt_pdf(make_pdf(["hidden"])))
    with pytest.raises(UserError, match="encrypted"):
        ingest([docs], tmp_path / "idx", chunk=SMALL, embedder=embedder)
    assert _digest(tmp_path / "idx") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs", "idx"]  # no temp folder left


def test_other_embedding_model_is_refused(enc_index, tmp_path):
    other = tmp_path / "other-model"
    shutil.copytree(default_model_path(), other)
    with pytest.raises(UserError, match="built with embedding model"):
        RagIndex(enc_index.dir, Embedder(other))


def test_filters_and_qdrant_parity(enc_index, embedder, encyclopedia):
    retriever = Retriever(enc_index)
    store = QdrantStore(location=":memory:")
    assert export_index(enc_index, store) == len(enc_index)
    sources = sorted({s for (s,) in enc_index.table.con.execute("SELECT source FROM chunks")})
    for question in [q.question for q in encyclopedia.questions[:7]]:
        for filters in (None, {"source": sources[:2]}, {"section": encyclopedia.facts[0][2]}):
            ours = retriever.search(question, 5, "dense", filters=filters)
            vector = embedder.encode([question])[0]
            theirs = store.search(vector, 5, filters)
            assert [h.position for h in ours] == [pid for pid, _, _ in theirs]
            np.testing.assert_allclose(
                [h.score for h in ours], [s for _, s, _ in theirs], atol=1e-5
            )
            if filters:
                allowed = set(filters.get("source", [])) or None
                for h in ours:
                    assert allowed is None or h.source in allowed
                for h in retriever.search(question, 5, "bm25", filters=filters):
                    assert allowed is None or h.source in allowed
    store.close()
