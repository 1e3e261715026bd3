"""The similarity API: parity with SentenceTransformer.encode, validation, rate limits, batching,
caching."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from ch04_embeddings.api import EmbeddingService, ServiceConfig, TokenBucket, create_app


@pytest.fixture(scope="module")
def client(encoder, corpus_dir, tmp_path_factory):
    from fastapi.testclient import TestClient

    from ch04_embeddings.documents import load_corpus
    from ch04_embeddings.search import SearchIndex, build_index

    folder = tmp_path_factory.mktemp("api") / "idx"
    build_index(load_corpus(corpus_dir), folder, encoder)
    service = EmbeddingService(encoder, ServiceConfig(rate_per_s=0), SearchIndex(folder, encoder))
    with TestClient(create_app(service)) as c:
        c.service = service
        yield c


def test_embed_equals_sentence_transformers(client, st_model):
    texts = ["a sentence", "another, longer sentence about embeddings", "a sentence"]
    r = client.post("/embed", json={"texts": texts})
    assert r.status_code == 200
    got = np.array(r.json()["embeddings"])
    ref = st_model.encode(texts, normalize_embeddings=True)
    assert got.shape == (3, 384)
    assert ((got * ref).sum(1) / np.linalg.norm(ref, axis=1)).min() >= 0.9999


def test_similarity_and_search(client):
    r = client.post("/similarity", json={"a": ["a cat"], "b": ["a kitten", "interest rates"]})
    scores = r.json()["scores"]
    assert scores[0][0] > scores[0][1]
    r = client.post("/similarity", json={"a": ["x"], "b": ["x"], "metric": "euclidean"})
    assert r.json()["scores"][0][0] == pytest.approx(0.0, abs=1e-3)
    r = client.post("/search", json={"query": "dividing by zero", "k": 2})
    assert r.json()["hits"][0]["id"] == "python/errors.txt"
    assert set(r.json()["hits"][0]) == {"id", "text", "score"}


def test_malformed_requests_get_4xx_json_and_service_keeps_serving(client):
    bad = [
        ("/embed", {"texts": []}),
        ("/embed", {"texts": "not a list"}),
        ("/embed", {"wrong": ["x"]}),
        ("/embed", {"texts": [1, 2]}),
        ("/embed", {"texts": ["x" * 20_001]}),
        ("/similarity", {"a": ["x"], "b": ["y"], "metric": "manhattan"}),
        ("/search", {"query": "  ", "k": 3}),
        ("/search", {"query": "x", "k": 0}),
    ]
    for path, body in bad:
        r = client.post(path, json=body)
        assert 400 <= r.status_code < 500, (path, body, r.status_code)
        assert "detail" in r.json()
    r = client.post("/embed", content=b"{not json", headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500
    assert client.post("/embed", json={"texts": ["still alive"]}).status_code == 200


def test_cache_answers_repeats_without_encoding(client):
    svc = client.service
    client.post("/embed", json={"texts": ["cache me please"]})
    before = svc.encoded
    client.post("/embed", json={"texts": ["cache me please"]})
    assert svc.encoded == before


def test_sqlite_cache_survives_a_restart(encoder, tmp_path):
    db = str(tmp_path / "c.sqlite")

    async def go(service):
        await service.start()
        v = await service.embed(["persist me"])
        await service.stop()
        return v

    first = EmbeddingService(encoder, ServiceConfig(sqlite_path=db))
    v1 = asyncio.run(go(first))
    second = EmbeddingService(encoder, ServiceConfig(sqlite_path=db))
    v2 = asyncio.run(go(second))
    assert second.encoded == 0 and np.array_equal(v1, v2)


def test_concurrent_requests_are_batched(encoder):
    async def go(batching):
        service = EmbeddingService(encoder, ServiceConfig(batching=batching, max_wait_ms=50))
        await service.start()
        out = await asyncio.gather(*(service.embed([f"text number {i}"]) for i in range(12)))
        await service.stop()
        return service.batches, np.concatenate(out)

    batched, v1 = asyncio.run(go(True))
    unbatched, v2 = asyncio.run(go(False))
    assert unbatched == 12 and batched <= 2
    assert np.abs(v1 - v2).max() < 1e-5  # padding in a batch does not change a vector


def test_rate_limit_429_with_retry_after(encoder):
    from fastapi.testclient import TestClient

    service = EmbeddingService(encoder, ServiceConfig(rate_per_s=0.5, burst=2))
    with TestClient(create_app(service)) as c:
        codes = [
            c.post("/embed", json={"texts": ["hi"]}, headers={"x-client-id": "a"}) for _ in range(3)
        ]
        assert [r.status_code for r in codes] == [200, 200, 429]
        assert int(codes[2].headers["retry-after"]) >= 1
        other = c.post("/embed", json={"texts": ["hi"]}, headers={"x-client-id": "b"})
        assert other.status_code == 200  # limits are per client
    bucket = TokenBucket(rate=1.0, burst=1)
    assert bucket.take("x", now=0.0) == 0.0
    assert bucket.take("x", now=0.25) == pytest.approx(0.75)
    assert bucket.take("x", now=1.0) == 0.0
