"""An OpenAI-compatible server on FastAPI + uvicorn, shaped like a production one.

Routes: ``POST /v1/chat/completions`` (SSE streaming or not; tools; ``response_format`` JSON mode
and JSON schema by constrained decoding; image parts), ``POST /v1/completions``,
``POST /v1/embeddings``, ``GET /v1/models``; ``GET /health`` (liveness), ``GET /ready`` (readiness:
503 while loading or draining), ``GET /metrics`` (Prometheus); ``GET /chat``, a web chat page
streaming from the chat route (:mod:`ch17_serving.webchat`).

What makes it production-shaped, in the order a request meets it:

1. authentication: ``Authorization: Bearer <key>`` against hashed keys (:mod:`ch17_serving.keys`);
2. per-key rate limit and token budget (in memory, or in Redis for several workers) → 429;
3. load shedding: more than ``max_concurrency`` generations in flight → 429 at once, instead of a
   queue that grows until everything times out;
4. validation: pydantic models plus checks on the prompt length and ``response_format`` → 400;
5. generation on a thread, streamed through an asyncio queue; when the client disconnects the
   stream's task is cancelled and the generation loop stops at its next token;
6. graceful shutdown: on SIGTERM the server reports not-ready, refuses new generations with 503
   and lets in-flight streams finish (uvicorn waits for open connections).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import struct
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.exceptions import HTTPException as StarletteHTTPException

from ch17_serving.backend import ModelBackend, SamplingParams
from ch17_serving.constrained import (
    json_object_constraint,
    json_schema_constraint,
    tool_call_constraint,
)
from ch17_serving.keys import KeyRecord, KeyStore, Limiter, MemoryLimiter
from ch17_serving.protocol import (
    ApiError,
    ChatCompletionRequest,
    ChatMessage,
    CompletionRequest,
    EmbeddingRequest,
    chat_chunk,
    chat_completion,
    new_id,
    usage,
    usage_chunk,
)
from ch17_serving.vision import Captioner, decode_data_url
from llmpath_core import UserError


@dataclass
class ServerSettings:
    """Policy knobs (the model, keys and limiter are passed separately)."""

    requests_per_minute: int = 0  # for anonymous clients and keys without their own limit
    token_budget: int = 0
    max_concurrency: int = 64
    default_max_tokens: int = 64


class Metrics:
    """Prometheus metrics in the app's own registry (several apps can live in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "llmpath_requests", "HTTP requests", ["route", "status"], registry=self.registry
        )
        self.rejected = Counter(
            "llmpath_rejected", "requests refused by policy", ["reason"], registry=self.registry
        )
        self.tokens = Counter(
            "llmpath_completion_tokens", "tokens generated", registry=self.registry
        )
        self.cancelled = Counter(
            "llmpath_cancelled_streams",
            "streams cut by a client disconnect",
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "llmpath_in_flight", "generations running now", registry=self.registry
        )
        self.ttft = Histogram(
            "llmpath_time_to_first_token_seconds",
            "time to first token",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.latency = Histogram(
            "llmpath_request_seconds", "request latency", ["route"], registry=self.registry
        )


class _StatusMiddleware:
    """Count every response by route and status (a plain ASGI middleware: streams untouched)."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        route = scope.get("path", "")
        status = {"code": 500}

        async def send_wrapper(message: dict) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.requests.labels(route, str(status["code"])).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - start)


class _Slot:
    """One unit of the concurrency budget, released exactly once."""

    def __init__(self, state: ServerState) -> None:
        self.state, self.held = state, True

    def release(self) -> None:
        if self.held:
            self.held = False
            with self.state.lock:
                self.state.in_flight -= 1
            self.state.metrics.in_flight.dec()


class ServerState:
    """Everything the routes share."""

    def __init__(
        self,
        backend: ModelBackend,
        keys: KeyStore,
        limiter: Limiter,
        settings: ServerSettings,
        captioner: Captioner | None,
    ) -> None:
        self.backend, self.keys, self.limiter = backend, keys, limiter
        self.settings, self.captioner = settings, captioner
        self.metrics = Metrics()
        self.lock = threading.Lock()
        self.in_flight = 0
        self.ready = True
        self.draining = False

    def acquire(self) -> _Slot:
        if self.draining:
            raise ApiError(503, "the server is shutting down", type="server_error", code="draining")
        with self.lock:
            if self.in_flight >= self.settings.max_concurrency:
                self.metrics.rejected.labels("overloaded").inc()
                raise ApiError(
                    429,
                    f"the server is at capacity ({self.settings.max_concurrency} generations in "
                    "flight): retry shortly",
                    type="server_overloaded",
                    code="overloaded",
                    headers={"Retry-After": "1"},
                )
            self.in_flight += 1
        self.metrics.in_flight.inc()
        return _Slot(self)


@dataclass
class Caller:
    """Who is calling: the key record (None when the server has no keys) and the limit key."""

    record: KeyRecord | None
    limit_key: str


def create_app(
    backend: ModelBackend,
    keys: KeyStore | None = None,
    limiter: Limiter | None = None,
    settings: ServerSettings | None = None,
    captioner: Captioner | None = None,
) -> FastAPI:
    """The FastAPI app serving ``backend``; pass it to uvicorn (see :func:`serve`)."""
    state = ServerState(
        backend,
        keys or KeyStore(),
        limiter or MemoryLimiter(),
        settings or ServerSettings(),
        captioner,
    )
    app = FastAPI(
        title="llmpath ch17 OpenAI-compatible server",
        version="0.1.0",
        description="OpenAI-compatible chat, completions, embeddings and models routes.",
    )
    app.state.llm = state

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = f"invalid request: {where + ': ' if where else ''}{first.get('msg')}"
        return JSONResponse(ApiError(400, message, param=where or None).body(), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
        body = ApiError(exc.status_code, str(exc.detail), type=kind).body()
        return JSONResponse(body, status_code=exc.status_code)

    def caller(request: Request) -> Caller:
        header = request.headers.get("authorization", "")
        presented = header[7:].strip() if header.lower().startswith("bearer ") else None
        record = None
        if state.keys:
            record = state.keys.lookup(presented)
            if record is None:
                state.metrics.rejected.labels("auth").inc()
                raise ApiError(
                    401,
                    "Incorrect API key provided: pass a valid key as 'Authorization: Bearer <key>'",
                    code="invalid_api_key",
                )
        limit_key = (
            record.sha256[:16] if record else (request.client.host if request.client else "-")
        )
        per_minute = (
            record.requests_per_minute if record else 0
        ) or state.settings.requests_per_minute
        budget = (record.token_budget if record else 0) or state.settings.token_budget
        decision = state.limiter.check_request(limit_key, per_minute, budget)
        if not decision.allowed:
            state.metrics.rejected.labels(decision.reason).inc()
            over_budget = decision.reason == "token_budget"
            raise ApiError(
                429,
                f"token budget of {budget} tokens used up for this key"
                if over_budget
                else f"rate limit of {per_minute} requests per minute reached for this key",
                type="insufficient_quota" if over_budget else "requests",
                code="insufficient_quota" if over_budget else "rate_limit_exceeded",
                headers={"Retry-After": str(max(1, int(decision.retry_after_s)))},
            )
        return Caller(record, limit_key)

    def check_model(name: str | None) -> str:
        if name not in (None, "", backend.name, "default"):
            raise ApiError(
                404,
                f"The model {name!r} does not exist: this server has {backend.name!r}",
                type="invalid_request_error",
                code="model_not_found",
                param="model",
            )
        return backend.name

    def charge(who: Caller, prompt_tokens: int, completion_tokens: int = 0) -> None:
        state.limiter.charge_tokens(who.limit_key, prompt_tokens + completion_tokens)
        state.metrics.tokens.inc(completion_tokens)

    @app.get("/health")
    async def health() -> dict:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/ready")
    async def ready() -> JSONResponse:
        """Readiness: the model is loaded and the server is not draining."""
        ok = state.ready and not state.draining
        body = {"status": "ready" if ok else "draining", "model": backend.name}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/chat", include_in_schema=False)
    async def chat_page() -> HTMLResponse:
        """The web chat page: plain HTML + JS streaming from /v1/chat/completions."""
        from ch17_serving.webchat import CHAT_PAGE

        return HTMLResponse(CHAT_PAGE)

    @app.get("/metrics")
    async def metrics() -> Response:
        """Prometheus text format."""
        return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/models")
    async def models(who: Caller = Depends(caller)) -> dict:
        """The one model this server serves."""
        entry = {
            "id": backend.name,
            "object": "model",
            "created": 0,
            "owned_by": "llmpath",
            "context_length": backend.context_length,
        }
        return {"object": "list", "data": [entry]}

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(body: ChatCompletionRequest, who: Caller = Depends(caller)) -> Any:
        """Chat completion, streamed as server-sent events when ``stream`` is true."""
        model = check_model(body.model)
        if _has_images(body.messages) and state.captioner is not None:
            # captioning runs a vision model: off the event loop, like generation
            messages = await asyncio.to_thread(_plain_messages, body.messages, state.captioner)
        else:
            messages = _plain_messages(body.messages, state.captioner)
        tools = [t.model_dump(exclude_none=True) for t in body.tools or []]
        choice = body.tool_choice
        constraint, forced_tools = None, None
        if tools and choice not in (None, "auto", "none"):
            forced_tools = _select_tools(tools, choice)
            constraint = tool_call_constraint(forced_tools)
        elif body.response_format is not None:
            constraint = _response_constraint(body.response_format)
        offer_tools = tools if tools and choice != "none" else None
        prompt_ids = _prompt(backend, backend.render_chat(messages, offer_tools))
        params = SamplingParams(
            max_tokens=body.max_completion_tokens
            or body.max_tokens
            or state.settings.default_max_tokens,
            temperature=body.temperature,
            top_p=body.top_p,
            stop=body.stops() + backend.default_stops(),
            seed=None if body.seed is None else body.seed % 2**63,
            constraint=constraint,
        )
        slot = state.acquire()
        rid = new_id("chatcmpl")
        if body.stream:
            include_usage = bool(body.stream_options and body.stream_options.include_usage)
            return _sse(
                _chat_events(
                    state,
                    rid,
                    model,
                    prompt_ids,
                    params,
                    slot,
                    who,
                    offer_tools,
                    forced_tools,
                    include_usage,
                    charge,
                )
            )
        try:
            done = await asyncio.to_thread(backend.generate, prompt_ids, params)
        finally:
            slot.release()
        state.metrics.ttft.observe(done.first_token_s)
        charge(who, done.prompt_tokens, done.completion_tokens)
        calls = _tool_calls(done.text, offer_tools, forced=forced_tools is not None)
        if calls:
            return chat_completion(
                rid, model, None, "tool_calls", done.prompt_tokens, done.completion_tokens, calls
            )
        return chat_completion(
            rid, model, done.text, done.finish_reason, done.prompt_tokens, done.completion_tokens
        )

    @app.post("/v1/completions", response_model=None)
    async def completions(body: CompletionRequest, who: Caller = Depends(caller)) -> Any:
        """Text completion of one prompt (a string or token ids) or of several strings."""
        model = check_model(body.model)
        if isinstance(body.prompt, list) and body.prompt and isinstance(body.prompt[0], str):
            prompts = [_prompt(backend, p) for p in body.prompt]  # type: ignore[arg-type]
        elif isinstance(body.prompt, list):
            prompts = [_check_ids(backend, body.prompt)]  # type: ignore[arg-type]
        else:
            prompts = [_prompt(backend, body.prompt)]
        if body.stream and len(prompts) > 1:
            raise ApiError(400, "stream one prompt at a time", param="prompt")
        params = SamplingParams(
            max_tokens=body.max_tokens or 16,
            temperature=body.temperature,
            top_p=body.top_p,
            stop=body.stops(),
            seed=None if body.seed is None else body.seed % 2**63,
        )
        slot = state.acquire()
        rid = new_id("cmpl")
        if body.stream:
            return _sse(
                _completion_events(state, rid, model, prompts[0], params, slot, who, charge)
            )
        choices, prompt_total, completion_total = [], 0, 0
        try:
            for i, ids in enumerate(prompts):
                done = await asyncio.to_thread(backend.generate, ids, params)
                text = (backend.tokenizer.decode(ids) if body.echo else "") + done.text
                choices.append(
                    {
                        "index": i,
                        "text": text,
                        "finish_reason": done.finish_reason,
                        "logprobs": None,
                    }
                )
                prompt_total += done.prompt_tokens
                completion_total += done.completion_tokens
        finally:
            slot.release()
        charge(who, prompt_total, completion_total)
        return {
            "id": rid,
            "object": "text_completion",
            "created": int(time.time()),
            "model": model,
            "choices": choices,
            "usage": usage(prompt_total, completion_total),
        }

    @app.post("/v1/embeddings")
    async def embeddings(body: EmbeddingRequest, who: Caller = Depends(caller)) -> dict:
        """Mean-pooled hidden states of the served model (float or base64)."""
        model = check_model(body.model)
        raw = body.input
        if isinstance(raw, str):
            lists = [backend.encode(raw)]
        elif raw and isinstance(raw[0], str):
            lists = [backend.encode(s) for s in raw]  # type: ignore[arg-type]
        elif raw and isinstance(raw[0], int):
            lists = [_check_ids(backend, raw)]  # type: ignore[arg-type]
        else:
            lists = [_check_ids(backend, ids) for ids in raw]  # type: ignore[union-attr]
        if len(lists) > 256:
            raise ApiError(400, "at most 256 inputs per request", param="input")
        if any(not ids for ids in lists):
            raise ApiError(400, "an input is empty", param="input")
        vectors = await asyncio.to_thread(backend.embed, lists)
        if body.dimensions is not None and body.dimensions < len(vectors[0]):
            vectors = [v[: body.dimensions] for v in vectors]
        data = []
        for i, vec in enumerate(vectors):
            value: Any = vec
            if body.encoding_format == "base64":
                value = base64.b64encode(struct.pack(f"<{len(vec)}f", *vec)).decode()
            data.append({"object": "embedding", "index": i, "embedding": value})
        tokens = sum(len(ids) for ids in lists)
        charge(who, tokens)
        return {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    app.add_middleware(_StatusMiddleware, metrics=state.metrics)
    return app


# -- helpers ---------------------------------------------------------------------------------


def app_state(app: Any) -> ServerState:
    """The :class:`ServerState` of an app returned by :func:`create_app`."""
    return app.state.llm


def _sse(events: AsyncIterator[dict]) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        async for event in events:
            yield f"data: {json.dumps(event)}\n\n".encode()
        yield b"data: [DONE]\n\n"

    return StreamingResponse(
        body(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


async def _deltas(
    state: ServerState, prompt_ids: list[int], params: SamplingParams, slot: _Slot
) -> AsyncIterator[Any]:
    """Run the generation loop on a thread; yield its deltas; stop it if we are cancelled."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    cancel = threading.Event()
    end = object()

    def put(item: Any) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the event loop is gone (server stopped): nobody is listening
            cancel.set()

    def work() -> None:
        try:
            for delta in state.backend.stream(prompt_ids, params, cancel):
                put(delta)
        except Exception as exc:  # surfaced to the client as an error event
            put(exc)
        finally:
            put(end)

    threading.Thread(target=work, name="generate", daemon=True).start()
    finished = False
    try:
        while True:
            item = await queue.get()
            if item is end:
                finished = True
                return
            yield item
    finally:
        if not finished:
            cancel.set()
            state.metrics.cancelled.inc()
        slot.release()


async def _chat_events(
    state: ServerState,
    rid: str,
    model: str,
    prompt_ids: list[int],
    params: SamplingParams,
    slot: _Slot,
    who: Caller,
    offer_tools: list[dict] | None,
    forced_tools: list[dict] | None,
    include_usage: bool,
    charge: Any,
) -> AsyncIterator[dict]:
    created = int(time.time())
    start = time.perf_counter()
    first = True
    buffered = forced_tools is not None  # a tool call is sent whole, once it parses
    parts: list[str] = []
    completion_tokens = 0
    yield chat_chunk(rid, model, created, {"role": "assistant", "content": ""})
    async for delta in _deltas(state, prompt_ids, params, slot):
        if isinstance(delta, Exception):
            yield ApiError(500, f"generation failed: {delta}", type="server_error").body()
            return
        if first and delta.completion_tokens:
            state.metrics.ttft.observe(time.perf_counter() - start)
            first = False
        completion_tokens = delta.completion_tokens
        parts.append(delta.text)
        if delta.finish_reason is None:
            if delta.text and not buffered:
                yield chat_chunk(rid, model, created, {"content": delta.text})
            continue
        text = "".join(parts)
        calls = _tool_calls(text, offer_tools, forced=forced_tools is not None)
        if calls:
            for i, call in enumerate(calls):
                yield chat_chunk(rid, model, created, {"tool_calls": [{"index": i, **call}]})
            yield chat_chunk(rid, model, created, {}, "tool_calls")
        else:
            if buffered and text:
                yield chat_chunk(rid, model, created, {"content": text})
            elif delta.text:
                yield chat_chunk(rid, model, created, {"content": delta.text})
            yield chat_chunk(rid, model, created, {}, delta.finish_reason)
    charge(who, len(prompt_ids), completion_tokens)
    if include_usage:
        yield usage_chunk(rid, model, created, len(prompt_ids), completion_tokens)


async def _completion_events(
    state: ServerState,
    rid: str,
    model: str,
    prompt_ids: list[int],
    params: SamplingParams,
    slot: _Slot,
    who: Caller,
    charge: Any,
) -> AsyncIterator[dict]:
    created = int(time.time())
    completion_tokens = 0
    async for delta in _deltas(state, prompt_ids, params, slot):
        if isinstance(delta, Exception):
            yield ApiError(500, f"generation failed: {delta}", type="server_error").body()
            return
        completion_tokens = delta.completion_tokens
        if delta.text or delta.finish_reason:
            yield {
                "id": rid,
                "object": "text_completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "text": delta.text,
                        "finish_reason": delta.finish_reason,
                        "logprobs": None,
                    }
                ],
            }
    charge(who, len(prompt_ids), completion_tokens)


def _has_images(messages: list[ChatMessage]) -> bool:
    return any(
        isinstance(m.content, list) and any(p.type == "image_url" for p in m.content)
        for m in messages
    )


def _plain_messages(messages: list[ChatMessage], captioner: Captioner | None) -> list[dict]:
    """Messages with string content: image parts captioned (or refused), tool calls as JSON."""
    out = []
    for i, m in enumerate(messages):
        if isinstance(m.content, list):
            texts = []
            for part in m.content:
                if part.type == "text":
                    texts.append(part.text or "")
                    continue
                if captioner is None:
                    raise ApiError(
                        400,
                        "this server has no image-to-text model, so it cannot read image_url "
                        "parts: start it with --vision-model DIR",
                        param=f"messages.{i}.content",
                        code="image_input_unsupported",
                    )
                if part.image_url is None:
                    raise ApiError(400, "an image_url part needs image_url.url", param="messages")
                try:
                    image = decode_data_url(part.image_url.url)
                except ValueError as exc:
                    raise ApiError(400, str(exc), param=f"messages.{i}.content") from exc
                texts.append(f"[image: {captioner(image)}]")
            content = " ".join(texts)
        else:
            content = m.content or ""
        if m.tool_calls and not content:
            content = json.dumps(
                [{"name": c.function.name, "arguments": c.function.arguments} for c in m.tool_calls]
            )
        out.append({"role": "system" if m.role == "developer" else m.role, "content": content})
    return out


def _prompt(backend: ModelBackend, text: str) -> list[int]:
    return _check_ids(backend, backend.encode(text) or sorted(backend.eos_ids)[:1] or [0])


def _check_ids(backend: ModelBackend, ids: list[int]) -> list[int]:
    vocab = int(backend.model.config.vocab_size)
    if not ids:
        raise ApiError(400, "the prompt is empty", param="prompt")
    if any(not 0 <= t < vocab for t in ids):
        raise ApiError(400, f"token ids must be in [0, {vocab})", param="prompt")
    if len(ids) >= backend.context_length:
        raise ApiError(
            400,
            f"This model's maximum context length is {backend.context_length} tokens; the prompt "
            f"has {len(ids)}: shorten it",
            code="context_length_exceeded",
            param="messages",
        )
    return ids


def _response_constraint(fmt: dict) -> Any:
    kind = fmt.get("type")
    if kind in (None, "text"):
        return None
    if kind == "json_object":
        return json_object_constraint()
    if kind == "json_schema":
        spec = fmt.get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("schema"), dict):
            raise ApiError(
                400,
                "response_format json_schema needs json_schema.schema (an object)",
                param="response_format",
            )
        try:
            return json_schema_constraint(spec["schema"])
        except (UserError, ValueError, TypeError) as exc:
            raise ApiError(400, f"unsupported schema: {exc}", param="response_format") from exc
    raise ApiError(
        400,
        f"response_format.type {kind!r}: use text, json_object or json_schema",
        param="response_format",
    )


def _select_tools(tools: list[dict], choice: Any) -> list[dict]:
    if choice == "required":
        return tools
    if isinstance(choice, dict) and choice.get("type") == "function":
        name = (choice.get("function") or {}).get("name")
        chosen = [t for t in tools if t["function"]["name"] == name]
        if not chosen:
            raise ApiError(
                400, f"tool_choice names {name!r}, which is not in tools", param="tool_choice"
            )
        return chosen
    raise ApiError(
        400,
        "tool_choice must be 'auto', 'none', 'required' or {'type': 'function', ...}",
        param="tool_choice",
    )


def _tool_calls(text: str, tools: list[dict] | None, *, forced: bool) -> list[dict] | None:
    """Parse ``{"name": ..., "arguments": {...}}`` into OpenAI tool calls (None if not one)."""
    if not tools:
        return None
    try:
        data = json.loads(text.strip())
    except ValueError:
        return None
    names = {t["function"]["name"] for t in tools}
    if not isinstance(data, dict) or data.get("name") not in names:
        return None
    arguments = data.get("arguments", {})
    if not isinstance(arguments, dict):
        return None
    return [
        {
            "id": new_id("call"),
            "type": "function",
            "function": {"name": data["name"], "arguments": json.dumps(arguments)},
        }
    ]


# -- running it ------------------------------------------------------------------------------


class ServerThread:
    """uvicorn serving an app on a background thread (tests, the demo, benchmarks)."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        import uvicorn

        self.app = app
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=30
        )
        self.server = _DrainingServer(config, app)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)

    def start(self, timeout: float = 30) -> ServerThread:
        self.thread.start()
        deadline = time.time() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.time() > deadline:
                raise UserError("the server did not start (is the port free?)")
            time.sleep(0.02)
        return self

    @property
    def port(self) -> int:
        return self.server.servers[0].sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, timeout: float = 30) -> None:
        """Graceful: stop accepting, let in-flight streams finish, then return."""
        self.server.handle_exit(15, None)
        self.thread.join(timeout)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _draining_server_class() -> Any:
    import uvicorn

    class DrainingServer(uvicorn.Server):
        """uvicorn's server, but SIGTERM first marks the app not-ready (readiness probe → 503)."""

        def __init__(self, config: Any, app: Any) -> None:
            super().__init__(config)
            self._llm_app = app

        def handle_exit(self, sig: int, frame: Any) -> None:
            with contextlib.suppress(AttributeError):
                app_state(self._llm_app).draining = True
            super().handle_exit(sig, frame)

    return DrainingServer


def _DrainingServer(config: Any, app: Any) -> Any:
    return _draining_server_class()(config, app)


def serve(app: Any, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve ``app`` in the foreground until SIGINT/SIGTERM (graceful)."""
    import uvicorn

    config = uvicorn.Config(
        app, host=host, port=port, log_level="info", timeout_graceful_shutdown=30
    )
    _DrainingServer(config, app).run()


__all__ = [
    "Metrics",
    "ServerSettings",
    "ServerState",
    "ServerThread",
    "app_state",
    "create_app",
    "serve",
]
