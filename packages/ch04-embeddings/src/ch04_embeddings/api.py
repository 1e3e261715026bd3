"""The similarity API: FastAPI over MiniLM with batching, caching and per-client rate limits.

Endpoints (``ch04-embeddings serve``; the schema is at ``/openapi.json``, docs at ``/docs``):

- ``POST /embed {"texts": [...]}`` -> ``{"embeddings": [[...], ...], "model", "dim"}``: MiniLM's
  unit-length sentence embeddings (``"normalize": false`` gives the raw mean-pooled vectors).
- ``POST /similarity {"a": [...], "b": [...], "metric": "cosine"|"dot"|"euclidean"}`` ->
  ``{"scores": [[...]]}``, one row per text of ``a``.
- ``POST /search {"query": "...", "k": 5, "filters": {...}}`` -> ``{"hits": [{"id", "text",
  "score"}...]}`` over an index built by ``ch04-embeddings index`` (``serve --index DIR``).
- ``GET /health`` -> model, cache and batching counters.

Concurrent requests are *batched*: each request's uncached texts go on a queue, and one worker
encodes whatever arrived within ``max_wait_ms`` (up to ``max_batch`` texts) in one forward pass, so
16 clients sending one text each cost one batch of 16 rather than 16 passes. Vectors are cached
(LRU in memory, optionally SQLite on disk). A token bucket per client (``X-Client-Id`` header, else
the peer address) answers ``429`` with ``Retry-After`` when a client exceeds its rate. Malformed
requests get a 4xx JSON body and the service keeps serving.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ch04_embeddings.cache import LRUCache, SQLiteCache, cache_key

MAX_TEXTS = 256
MAX_CHARS = 20_000


@dataclass
class ServiceConfig:
    """Knobs of the service."""

    batching: bool = True
    max_batch: int = 64
    max_wait_ms: float = 5.0
    lru_size: int = 10_000
    sqlite_path: str | None = None
    rate_per_s: float = 50.0  # per client; 0 turns rate limiting off
    burst: int = 100


class TokenBucket:
    """Per-client token buckets: ``rate`` tokens a second, at most ``burst`` saved up."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.state: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def take(self, client: str, now: float | None = None) -> float:
        """0 if the request may go ahead, else the seconds until a token is free."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        with self.lock:
            tokens, last = self.state.get(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= 1:
                self.state[client] = (tokens - 1, now)
                return 0.0
            self.state[client] = (tokens, now)
            return (1 - tokens) / self.rate


@dataclass
class _Pending:
    texts: list[str]
    future: asyncio.Future
    normalize: bool


@dataclass
class EmbeddingService:
    """Encoder + caches + the micro-batching worker (one per running app)."""

    encoder: Any
    config: ServiceConfig = field(default_factory=ServiceConfig)
    index: Any = None

    def __post_init__(self) -> None:
        self.lru = LRUCache(self.config.lru_size)
        self.disk = SQLiteCache(self.config.sqlite_path) if self.config.sqlite_path else None
        self.queue: asyncio.Queue | None = None
        self.worker: asyncio.Task | None = None
        self.encode_lock = threading.Lock()
        self.batches = 0
        self.encoded = 0

    # -- encoding -----------------------------------------------------------------------------
    def _encode_now(self, texts: list[str], normalize: bool) -> np.ndarray:
        """One forward pass (serialised: the model is shared between threads)."""
        import torch

        with self.encode_lock, torch.no_grad():
            self.batches += 1
            self.encoded += len(texts)
            if normalize:
                return self.encoder.encode(texts, batch_size=self.config.max_batch)
            return self.encoder.encode_unnormalized(texts, batch_size=self.config.max_batch)

    async def _run_worker(self) -> None:
        loop = asyncio.get_running_loop()
        assert self.queue is not None
        while True:
            first: _Pending = await self.queue.get()
            group = [first]
            n = len(first.texts)
            deadline = loop.time() + self.config.max_wait_ms / 1000
            while n < self.config.max_batch:
                timeout = deadline - loop.time()
                if timeout <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self.queue.get(), timeout)
                except TimeoutError:
                    break
                group.append(item)
                n += len(item.texts)
            for normalize in (True, False):
                part = [p for p in group if p.normalize == normalize]
                if not part:
                    continue
                texts = [t for p in part for t in p.texts]
                try:
                    vectors = await loop.run_in_executor(None, self._encode_now, texts, normalize)
                except Exception as exc:  # hand the failure to every waiting request
                    for p in part:
                        if not p.future.done():
                            p.future.set_exception(exc)
                    continue
                start = 0
                for p in part:
                    if not p.future.done():
                        p.future.set_result(vectors[start : start + len(p.texts)])
                    start += len(p.texts)

    async def start(self) -> None:
        if self.config.batching and self.worker is None:
            self.queue = asyncio.Queue()
            self.worker = asyncio.create_task(self._run_worker())

    async def stop(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.worker = None

    async def embed(self, texts: list[str], normalize: bool = True) -> np.ndarray:
        """Vectors for ``texts``: cached ones from the caches, the rest batched or encoded now."""
        key_model = self.encoder.model_id + ("" if normalize else "#raw")
        keys = [cache_key(key_model, t) for t in texts]
        out: list[np.ndarray | None] = [self._lookup(k) for k in keys]
        missing = sorted({texts[i] for i, v in enumerate(out) if v is None})
        if missing:
            if self.config.batching and self.queue is not None:
                future = asyncio.get_running_loop().create_future()
                await self.queue.put(_Pending(missing, future, normalize))
                vectors = await future
            else:
                loop = asyncio.get_running_loop()
                vectors = await loop.run_in_executor(None, self._encode_now, missing, normalize)
            fresh = dict(zip(missing, vectors, strict=True))
            for i, v in enumerate(out):
                if v is None:
                    out[i] = fresh[texts[i]]
                    self._store(keys[i], out[i])
        return np.stack(out) if out else np.zeros((0, self.encoder.dim), np.float32)

    def _lookup(self, key: str) -> np.ndarray | None:
        value = self.lru.get(key)
        if value is None and self.disk is not None:
            value = self.disk.get(key)
            if value is not None:
                self.lru.put(key, value)
        return value

    def _store(self, key: str, value: np.ndarray) -> None:
        self.lru.put(key, value)
        if self.disk is not None:
            self.disk.put(key, value)


def similarity_matrix(a: np.ndarray, b: np.ndarray, metric: str) -> np.ndarray:
    """``(len(a), len(b))`` scores: cosine, dot product, or negative Euclidean distance."""
    if metric == "dot":
        return a @ b.T
    if metric == "cosine":
        an = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
        bn = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
        return an @ bn.T
    if metric == "euclidean":
        d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None] - 2 * a @ b.T
        return -np.sqrt(np.maximum(d2, 0))
    raise ValueError(f"unknown metric {metric!r}")


# -- request and response bodies (module level: FastAPI resolves their annotations by name) ----
Text = Annotated[str, Field(max_length=MAX_CHARS)]


class EmbedRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    texts: list[Text] = Field(min_length=1, max_length=MAX_TEXTS)
    normalize: bool = True


class EmbedResponse(BaseModel):
    embeddings: list[list[float]]
    model: str
    dim: int


class SimilarityRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    a: list[Text] = Field(min_length=1, max_length=MAX_TEXTS)
    b: list[Text] = Field(min_length=1, max_length=MAX_TEXTS)
    metric: Literal["cosine", "dot", "euclidean"] = "cosine"


class SimilarityResponse(BaseModel):
    scores: list[list[float]]
    metric: str


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(min_length=1, max_length=MAX_CHARS)
    k: int = Field(5, ge=1, le=100)
    filters: dict[str, str | int | float | list[str | int | float]] | None = None

    # a validator, not a schema ``pattern``: Hypothesis-based fuzzers generate strings for a
    # ``\S`` pattern about 10x slower than for a plain length range
    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the query is blank")
        return value


class HitModel(BaseModel):
    id: str
    text: str
    score: float


class SearchResponse(BaseModel):
    hits: list[HitModel]


class ErrorResponse(BaseModel):
    detail: Any


def _clean(text: str) -> str:
    # JSON may carry lone surrogates ("\ud800"); the tokenizer cannot, so replace them
    return text.encode("utf-8", "replace").decode("utf-8")


def create_app(service: EmbeddingService):
    """The FastAPI application over ``service``."""
    from contextlib import asynccontextmanager

    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    @asynccontextmanager
    async def lifespan(app):
        await service.start()
        yield
        await service.stop()

    errors = {
        422: {"model": ErrorResponse},
        429: {"model": ErrorResponse, "description": "rate limited; see Retry-After"},
    }
    app = FastAPI(
        title="ch04-embeddings similarity API",
        version="0.1.0",
        description="Sentence embeddings (all-MiniLM-L6-v2), similarity and semantic search.",
        lifespan=lifespan,
    )
    limiter = TokenBucket(service.config.rate_per_s, service.config.burst)

    @app.middleware("http")
    async def rate_limit(request: Request, call_next):
        client = request.headers.get("x-client-id") or (
            request.client.host if request.client else "unknown"
        )
        wait = limiter.take(client) if request.url.path != "/health" else 0.0
        if wait > 0:
            return JSONResponse(
                {"detail": f"rate limit exceeded for client {client}"},
                status_code=429,
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
        return await call_next(request)

    @app.post("/embed", response_model=EmbedResponse, responses=errors)
    async def embed(req: EmbedRequest):
        """MiniLM sentence embeddings of ``texts`` (unit length unless ``normalize`` is false)."""
        vectors = await service.embed([_clean(t) for t in req.texts], req.normalize)
        return {
            "embeddings": vectors.tolist(),
            "model": service.encoder.model_id,
            "dim": int(vectors.shape[1]),
        }

    @app.post("/similarity", response_model=SimilarityResponse, responses=errors)
    async def similarity(req: SimilarityRequest):
        """Pairwise scores between the texts of ``a`` and ``b``."""
        both = await service.embed([_clean(t) for t in req.a + req.b])
        scores = similarity_matrix(both[: len(req.a)], both[len(req.a) :], req.metric)
        return {"scores": scores.tolist(), "metric": req.metric}

    @app.post(
        "/search",
        response_model=SearchResponse,
        responses={**errors, 404: {"model": ErrorResponse}},
    )
    async def search(req: SearchRequest):
        """Top-k documents of the loaded index for ``query``."""
        if service.index is None:
            return JSONResponse(
                {"detail": "no index loaded: start the service with --index DIR"}, status_code=404
            )
        q = await service.embed([_clean(req.query)])
        hits = service.index.search_vector(q[0], req.k, req.filters)
        return {"hits": [{"id": h.id, "text": h.text, "score": h.score} for h in hits]}

    @app.get("/health")
    async def health():
        """Model, cache and batching counters."""
        return {
            "status": "ok",
            "model": service.encoder.model_id,
            "batching": service.config.batching,
            "batches": service.batches,
            "encoded": service.encoded,
            "cache_entries": len(service.lru),
            "cache_hits": service.lru.hits,
            "index": str(service.index.folder) if service.index is not None else None,
        }

    return app


__all__ = ["EmbeddingService", "ServiceConfig", "TokenBucket", "create_app", "similarity_matrix"]
