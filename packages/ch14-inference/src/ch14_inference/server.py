"""An HTTP server for the engine: OpenAI-style completions, SSE streaming, several models by name.

Standard library only (``http.server`` with a thread per connection). Each model has one
:class:`ModelWorker`: a thread that runs the engine loop, stepping while there is work, so requests
arriving on any connection join the running batch at the next step (continuous batching across
clients). Handlers add requests under the worker's lock and read their tokens from a queue.

Several models share one memory budget (:func:`plan_memory`): each model's weights are counted
first and the rest is split evenly into their KV caches; a budget that cannot hold them all is
refused at start-up. Bad requests get a 4xx JSON error and the server keeps serving::

    POST /v1/completions {"model": "default", "prompt": "Once", "max_tokens": 32, "stream": true}
    GET  /v1/models      GET /health
"""

from __future__ import annotations

import json
import queue
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ch14_inference.engine import EngineConfig, LLMEngine, load_model
from ch14_inference.sampling import SamplingParams
from llmpath_core import UserError


class ModelWorker:
    """One engine and the thread that steps it."""

    def __init__(self, name: str, engine: LLMEngine) -> None:
        self.name = name
        self.engine = engine
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.streams: dict[str, queue.Queue] = {}
        self.sent: dict[str, list[int]] = {}
        self.stopped = False
        self.thread = threading.Thread(target=self._loop, name=f"engine-{name}", daemon=True)
        self.thread.start()

    def submit(self, prompt: str | list[int], params: SamplingParams) -> tuple[str, queue.Queue]:
        """Queue a request (raises UserError if it is invalid) and return its event queue."""
        events: queue.Queue = queue.Queue()
        with self.lock:
            rid = self.engine.add_request(prompt, params)
            self.streams[rid] = events
        self.wake.set()
        return rid, events

    def abort(self, rid: str) -> None:
        with self.lock:
            self.engine.abort(rid)
            self.streams.pop(rid, None)

    def stop(self) -> None:
        self.stopped = True
        self.wake.set()

    def _loop(self) -> None:
        while not self.stopped:
            with self.lock:
                busy = self.engine.has_unfinished()
                try:
                    outputs = self.engine.step() if busy else []
                except Exception as exc:  # a bug must not hang the clients: fail their requests
                    for rid, events in list(self.streams.items()):
                        events.put(exc)
                        self.engine.abort(rid)
                    self.streams.clear()
                    continue
                for out in outputs:
                    events = self.streams.get(out.request_id)
                    if events is None:
                        continue
                    events.put(out)
                    if out.finished:
                        self.streams.pop(out.request_id, None)
            if not busy:
                self.wake.wait(timeout=0.5)
                self.wake.clear()


def plan_memory(models: dict[str, Any], budget_bytes: int) -> dict[str, tuple[Any, Any, int]]:
    """Load ``{name: path}`` and split ``budget_bytes`` into their KV caches after the weights.

    Returns ``{name: (PagedLlama, tokenizer, kv_cache_bytes)}``.
    """
    loaded = {name: load_model(path) for name, path in models.items()}
    weights = sum(
        sum(p.numel() * p.element_size() for p in m.hf_model.parameters())
        for m, _ in loaded.values()
    )
    left = budget_bytes - weights
    share = left // max(1, len(loaded))
    out = {}
    for name, (model, tok) in loaded.items():
        if share < model.kv_bytes_per_token() * model.max_positions:
            raise UserError(
                f"a memory budget of {budget_bytes / 2**20:.1f} MiB cannot hold "
                f"{len(loaded)} model(s) ({weights / 2**20:.1f} MiB of weights) and a full-context "
                f"KV cache for {name!r}: raise --memory-mb"
            )
        out[name] = (model, tok, share)
    return out


class _Handler(BaseHTTPRequestHandler):
    server: InferenceServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet; the CLI logs what matters
        pass

    def _json(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: HTTPStatus, message: str) -> None:
        kind = "not_found_error" if status == HTTPStatus.NOT_FOUND else "invalid_request_error"
        self._json(status, {"error": {"message": message, "type": kind, "code": int(status)}})

    def do_GET(self) -> None:
        if self.path == "/health":
            self._json(200, {"status": "ok"})
        elif self.path == "/v1/models":
            data = [
                {
                    "id": name,
                    "object": "model",
                    "kv_blocks": w.engine.blocks.num_blocks,
                    "block_size": w.engine.blocks.block_size,
                }
                for name, w in self.server.workers.items()
            ]
            self._json(200, {"object": "list", "data": data})
        else:
            self._error(HTTPStatus.NOT_FOUND, f"no route {self.path}")

    def do_POST(self) -> None:
        if self.path != "/v1/completions":
            self._error(HTTPStatus.NOT_FOUND, f"no route {self.path}")
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"null")
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            name = body.get("model", self.server.default_model)
            prompt = body.get("prompt")
            if not isinstance(prompt, (str, list)) or not prompt:
                raise ValueError("'prompt' must be a non-empty string or list of token ids")
            params = SamplingParams(
                n=int(body.get("n", 1)),
                temperature=float(body.get("temperature", 0.0)),
                top_k=int(body.get("top_k", 0)),
                top_p=float(body.get("top_p", 1.0)),
                max_tokens=int(body.get("max_tokens", 16)),
                stop=list(body.get("stop") or []),
                ignore_eos=bool(body.get("ignore_eos", False)),
            )
            stream = bool(body.get("stream", False))
        except (ValueError, TypeError) as exc:
            self._error(HTTPStatus.BAD_REQUEST, f"malformed request: {exc}")
            return
        worker = self.server.workers.get(name)
        if worker is None:
            known = ", ".join(sorted(self.server.workers))
            self._error(HTTPStatus.NOT_FOUND, f"unknown model {name!r}; this server has: {known}")
            return
        try:
            rid, events = worker.submit(prompt, params)
        except UserError as exc:
            self._error(HTTPStatus.BAD_REQUEST, str(exc))
            return
        try:
            if stream:
                self._stream(worker, rid, events, name)
            else:
                out = self._wait(events)
                if isinstance(out, Exception):
                    self._json(500, {"error": {"message": f"engine error: {out}", "code": 500}})
                else:
                    self._json(200, _completion(rid, name, out))
        except (BrokenPipeError, ConnectionResetError):
            worker.abort(rid)

    def _wait(self, events: queue.Queue) -> Any:
        while True:
            out = events.get()
            if isinstance(out, Exception) or out.finished:
                return out

    def _stream(self, worker: ModelWorker, rid: str, events: queue.Queue, name: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        sent_tokens: dict[int, int] = {}
        sent_text: dict[int, int] = {}
        worker.engine.stream_text = True
        while True:
            out = events.get()
            if isinstance(out, Exception):
                error = {"error": {"message": f"engine error: {out}", "code": 500}}
                self.wfile.write(f"data: {json.dumps(error)}\n\ndata: [DONE]\n\n".encode())
                self.wfile.flush()
                self.close_connection = True
                return
            choices = []
            for c in out.outputs:
                new_ids = c.token_ids[sent_tokens.get(c.index, 0) :]
                if c.finish_reason is None and c.text.endswith("\ufffd"):
                    text = ""  # wait for the rest of a multi-byte character
                else:
                    text = c.text[sent_text.get(c.index, 0) :]
                    sent_text[c.index] = len(c.text)
                sent_tokens[c.index] = len(c.token_ids)
                if new_ids or c.finish_reason:
                    choices.append(
                        {
                            "index": c.index,
                            "text": text,
                            "token_ids": new_ids,
                            "finish_reason": c.finish_reason,
                        }
                    )
            if choices:
                chunk = {"id": rid, "object": "text_completion", "model": name, "choices": choices}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
            if out.finished:
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True
                return


def _completion(rid: str, name: str, out: Any) -> dict:
    choices = [
        {
            "index": c.index,
            "text": c.text,
            "token_ids": c.token_ids,
            "finish_reason": c.finish_reason,
        }
        for c in out.outputs
    ]
    generated = sum(len(c.token_ids) for c in out.outputs)
    return {
        "id": rid,
        "object": "text_completion",
        "created": int(time.time()),
        "model": name,
        "choices": choices,
        "usage": {
            "prompt_tokens": len(out.prompt_token_ids),
            "completion_tokens": generated,
            "total_tokens": len(out.prompt_token_ids) + generated,
        },
    }


class InferenceServer(ThreadingHTTPServer):
    """``ThreadingHTTPServer`` with one :class:`ModelWorker` per model name."""

    daemon_threads = True

    def __init__(
        self,
        models: dict[str, Any],
        host: str = "127.0.0.1",
        port: int = 8000,
        memory_bytes: int = 256 * 2**20,
        engine_config: EngineConfig | None = None,
    ) -> None:
        if not models:
            raise UserError("give at least one model")
        plans = plan_memory(models, memory_bytes)
        base = engine_config or EngineConfig()
        self.workers: dict[str, ModelWorker] = {}
        for name, (model, tok, kv_bytes) in plans.items():
            cfg = EngineConfig(**{**base.__dict__, "kv_cache_bytes": kv_bytes})
            self.workers[name] = ModelWorker(name, LLMEngine(model, tok, cfg))
        self.default_model = next(iter(models))
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start_background(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="http", daemon=True)
        thread.start()
        return thread

    def shutdown(self) -> None:
        super().shutdown()
        for w in self.workers.values():
            w.stop()
        self.server_close()


__all__ = ["InferenceServer", "ModelWorker", "plan_memory"]
