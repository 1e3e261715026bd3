"""A layered guardrail proxy in front of any OpenAI-compatible server.

Request path, cheapest layer first (each a method of :class:`Guardrail`, usable without HTTP):

1. **size limit** on the body (413) and on the prompt text (413); **rate limit** per client, a
   token bucket (429); **schema** of the request (400 for malformed JSON or messages);
2. **input sanitizer**: Unicode NFKC, zero-width and control characters removed (they hide
   instructions from people, not from models);
3. **injection detector** (:mod:`ch21_security.detector`) on user and tool messages: a hit is
   answered with a refusal (HTTP 200, ``finish_reason="content_filter"``, so OpenAI clients keep
   working), logged, and put on the **human review queue**;
4. **PII redaction** of the forwarded messages (:mod:`ch21_security.pii`);

then the upstream call, and on the way back the **output filter**: configured secrets and
canaries redacted, PII redacted, unsafe markup (script tags, ``javascript:`` URLs, inline event
handlers, markdown images to outside hosts) neutralised, tool calls outside an allow-list dropped,
and, when the request asked for ``response_format: json_schema``, the reply checked against the
schema (an invalid reply becomes a 502). Every decision is appended to the **safety log**
(JSON lines) as it happens. Benign traffic passes through byte for byte: a reply that no output
rule touches is returned exactly as the upstream sent it.
"""

from __future__ import annotations

import html
import json
import re
import threading
import time
import unicodedata
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from ch21_security.target import BackgroundServer, error_body, send_json

REFUSAL = (
    "I'm sorry, but I cannot help with that: "
    "the guardrail blocked the request as potentially harmful."
)
_ZERO_WIDTH = re.compile("[\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_UNSAFE_MARKUP = re.compile(
    r"(<\s*/?\s*(script|iframe|object|embed|img|svg)\b[^>]*>|javascript\s*:|\bon[a-z]+\s*=|!\[[^\]]*\]\(\s*https?://[^)]*\))",
    re.IGNORECASE,
)
DRAIN_LIMIT = 16 << 20
_API_KEY = re.compile(r"\b(sk-[A-Za-z0-9]{16,}|AKIA[0-9A-Z]{16}|ghp_[A-Za-z0-9]{30,})\b")


def _neutralise(match: re.Match[str]) -> str:
    found = match.group()
    if found.startswith("!"):  # a remote markdown image leaks data through its URL when rendered
        return "[image removed]"
    return html.escape(found).replace(":", "&#58;").replace("=", "&#61;")


@dataclass
class GuardrailConfig:
    """What the proxy enforces; the defaults suit the built-in target."""

    max_body_bytes: int = 64_000
    max_prompt_chars: int = 8_000
    max_messages: int = 50
    max_tokens_cap: int = 256
    rate_per_minute: float = 600.0
    burst: int = 60
    secrets: Sequence[str] = ()
    canaries: Sequence[str] = ()
    allowed_tools: Sequence[str] = ()
    detect_injection: bool = True
    redact_pii: bool = True
    log_path: Path | None = None
    review_path: Path | None = None
    request_timeout_s: float = 120.0


class GuardrailError(Exception):
    """A request the proxy refuses with an HTTP status."""

    def __init__(self, status: int, message: str, layer: str) -> None:
        super().__init__(message)
        self.status, self.layer = status, layer


@dataclass
class Guardrail:
    """The layers of the proxy as plain methods, plus its log and review queue."""

    config: GuardrailConfig = field(default_factory=GuardrailConfig)
    events: list[dict[str, Any]] = field(default_factory=list)
    review_queue: list[dict[str, Any]] = field(default_factory=list)
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._detector = None
        if self.config.detect_injection:
            from ch21_security.detector import default_detector

            self._detector = default_detector(self.config.canaries)

    # ------------------------------------------------------------------ logging
    def log(self, event: dict[str, Any]) -> None:
        """Append an event to the safety log (memory, and the log file when configured)."""
        event = {"time": time.time(), **event}
        with self._lock:
            self.events.append(event)
            if self.config.log_path is not None:
                with open(self.config.log_path, "a", encoding="utf-8") as f:
                    f.write(json.dumps(event) + "\n")

    def queue_for_review(self, item: dict[str, Any]) -> None:
        """Put a blocked request on the human review queue."""
        with self._lock:
            self.review_queue.append(item)
            if self.config.review_path is not None:
                with open(self.config.review_path, "a", encoding="utf-8") as f:
                    f.write(json.dumps(item) + "\n")

    # ------------------------------------------------------------------ request layers
    def check_rate(self, client: str) -> None:
        """Token bucket per client: ``burst`` requests at once, ``rate_per_minute`` sustained."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(client, (float(self.config.burst), now))
            tokens = min(
                self.config.burst, tokens + (now - last) * self.config.rate_per_minute / 60
            )
            if tokens < 1:
                self._buckets[client] = (tokens, now)
                raise GuardrailError(429, "rate limit exceeded", "rate_limit")
            self._buckets[client] = (tokens - 1, now)

    def parse_request(self, raw: bytes) -> dict[str, Any]:
        """Body size, JSON and message schema checks; returns the request object."""
        if len(raw) > self.config.max_body_bytes:
            raise GuardrailError(
                413, f"request body over {self.config.max_body_bytes} bytes", "size_limit"
            )
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise GuardrailError(400, f"malformed JSON: {exc}", "schema") from None
        if not isinstance(body, dict):
            raise GuardrailError(400, "the request must be a JSON object", "schema")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise GuardrailError(400, "'messages' must be a non-empty list", "schema")
        if len(messages) > self.config.max_messages:
            raise GuardrailError(
                413, f"more than {self.config.max_messages} messages", "size_limit"
            )
        for m in messages:
            if not isinstance(m, dict) or m.get("role") not in (
                "system",
                "user",
                "assistant",
                "tool",
            ):
                raise GuardrailError(
                    400, "each message needs a role: system, user, assistant or tool", "schema"
                )
            if not isinstance(m.get("content"), (str, type(None))):
                raise GuardrailError(400, "message content must be a string", "schema")
        total = sum(len(m.get("content") or "") for m in messages)
        if total > self.config.max_prompt_chars:
            raise GuardrailError(
                413, f"prompt over {self.config.max_prompt_chars} characters", "size_limit"
            )
        max_tokens = body.get("max_tokens")
        if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
            raise GuardrailError(400, "max_tokens must be a positive integer", "schema")
        if max_tokens is not None and max_tokens > self.config.max_tokens_cap:
            body["max_tokens"] = self.config.max_tokens_cap
        return body

    @staticmethod
    def sanitize(text: str) -> str:
        """NFKC-normalise and drop zero-width and control characters."""
        return _CONTROL.sub("", _ZERO_WIDTH.sub("", unicodedata.normalize("NFKC", text)))

    def screen_input(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """Sanitise, detect injections (``None``: blocked), redact PII; return the new body."""
        from ch21_security.pii import redact

        changed = False
        for m in body["messages"]:
            if m.get("content"):
                clean = self.sanitize(m["content"])
                changed |= clean != m["content"]
                m["content"] = clean
        if self._detector is not None:
            texts = [
                m["content"]
                for m in body["messages"]
                if m.get("role") in ("user", "tool") and m.get("content")
            ]
            for text, verdict in zip(texts, self._detector.detect(texts), strict=True):
                if verdict.injection:
                    self.log(
                        {
                            "layer": "injection_detector",
                            "action": "block",
                            "score": verdict.score,
                            "heuristics": verdict.heuristics,
                        }
                    )
                    self.queue_for_review(
                        {
                            "id": uuid.uuid4().hex[:12],
                            "time": time.time(),
                            "text": text[:2000],
                            "score": verdict.score,
                            "heuristics": verdict.heuristics,
                        }
                    )
                    return None
        if self.config.redact_pii:
            for m in body["messages"]:
                if m.get("role") in ("user", "tool") and m.get("content"):
                    red, spans = redact(m["content"])
                    if spans:
                        self.log(
                            {
                                "layer": "pii_input",
                                "action": "redact",
                                "types": sorted({s.type for s in spans}),
                            }
                        )
                        m["content"] = red
        if changed:
            self.log({"layer": "sanitizer", "action": "normalise"})
        return body

    # ------------------------------------------------------------------ output layers
    def filter_text(self, text: str) -> tuple[str, list[str]]:
        """Redact secrets, canaries, API keys and PII; neutralise unsafe markup."""
        from ch21_security.pii import redact

        rules = []
        for s in [*self.config.secrets, *self.config.canaries]:
            if s and s in text:
                text = text.replace(s, "[REDACTED]")
                rules.append("secret")
        if _API_KEY.search(text):
            text = _API_KEY.sub("[REDACTED]", text)
            rules.append("api_key")
        if self.config.redact_pii:
            red, spans = redact(text)
            if spans:
                text = red
                rules.append("pii")
        if _UNSAFE_MARKUP.search(text):
            text = _UNSAFE_MARKUP.sub(_neutralise, text)
            rules.append("markup")
        return text, rules

    def filter_response(
        self, request: dict[str, Any], response: dict[str, Any]
    ) -> tuple[dict[str, Any], list[str]]:
        """Apply the output rules to each choice; raises 502 on a JSON-schema violation."""
        applied: list[str] = []
        for choice in response.get("choices", []):
            message = choice.get("message") or {}
            if isinstance(message.get("content"), str):
                message["content"], rules = self.filter_text(message["content"])
                applied += rules
            calls = message.get("tool_calls") or []
            kept = [
                c for c in calls if c.get("function", {}).get("name") in self.config.allowed_tools
            ]
            if len(kept) != len(calls):
                applied.append("tool_allowlist")
                if kept:
                    message["tool_calls"] = kept
                else:
                    message.pop("tool_calls", None)
                    choice["finish_reason"] = "stop"
            self._enforce_schema(request, message.get("content"))
        return response, applied

    @staticmethod
    def _enforce_schema(request: dict[str, Any], content: Any) -> None:
        fmt = request.get("response_format") or {}
        if fmt.get("type") != "json_schema":
            return
        import jsonschema

        schema = (fmt.get("json_schema") or {}).get("schema") or {}
        try:
            jsonschema.validate(json.loads(content or ""), schema)
        except (ValueError, jsonschema.ValidationError) as exc:
            message = getattr(exc, "message", str(exc))
            raise GuardrailError(
                502, f"upstream reply violates the response schema: {message}", "json_schema"
            ) from None

    def refusal(self, request: dict[str, Any]) -> dict[str, Any]:
        """The OpenAI-shaped reply sent instead of a blocked request."""
        return {
            "id": f"chatcmpl-guard-{uuid.uuid4().hex[:8]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model") or "guardrail",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": REFUSAL},
                    "finish_reason": "content_filter",
                }
            ],
            "guardrail": {"blocked": True},
        }


def _forward(
    upstream: str, body: bytes, timeout: float, headers: dict[str, str]
) -> tuple[int, bytes]:
    req = urllib.request.Request(
        upstream.rstrip("/") + "/chat/completions", data=body, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def make_proxy_handler(guard: Guardrail, upstream: str) -> type[BaseHTTPRequestHandler]:
    """The request handler of the proxy in front of ``upstream`` (a ``.../v1`` base URL)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            path = self.path.rstrip("/")
            if path == "/guardrail/review":
                send_json(self, 200, {"queue": guard.review_queue})
            elif path == "/guardrail/log":
                send_json(self, 200, {"events": guard.events[-500:]})
            elif path in ("/v1/models", "/models"):
                try:
                    with urllib.request.urlopen(upstream.rstrip("/") + "/models", timeout=10) as r:
                        send_json(self, r.status, json.loads(r.read()))
                except (OSError, ValueError) as exc:
                    send_json(
                        self, 502, error_body(f"upstream unreachable: {exc}", "upstream_error")
                    )
            else:
                send_json(self, 404, error_body(f"no route {self.path}"))

        def do_POST(self) -> None:
            start = time.perf_counter()
            rid = uuid.uuid4().hex[:12]
            try:
                self._handle(rid, start)
            except GuardrailError as exc:
                guard.log(
                    {
                        "id": rid,
                        "layer": exc.layer,
                        "action": "reject",
                        "status": exc.status,
                        "reason": str(exc),
                    }
                )
                self._drain()
                send_json(self, exc.status, error_body(str(exc), "guardrail_" + exc.layer))

        def _drain(self) -> None:
            # an unread body would be parsed as the next request on this connection
            self.close_connection = True

        def _handle(self, rid: str, start: float) -> None:
            if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
                raise GuardrailError(404, f"no route {self.path}", "route")
            guard.check_rate(self.client_address[0])
            length_header = self.headers.get("Content-Length")
            if length_header is None or not length_header.isdigit():
                raise GuardrailError(411, "Content-Length required", "size_limit")
            length = int(length_header)
            if length > guard.config.max_body_bytes:
                if length <= DRAIN_LIMIT:  # read it, so the client sees the 413, not a reset
                    remaining = length
                    while remaining > 0:
                        chunk = self.rfile.read(min(1 << 16, remaining))
                        if not chunk:
                            break
                        remaining -= len(chunk)
                raise GuardrailError(
                    413, f"request body over {guard.config.max_body_bytes} bytes", "size_limit"
                )
            raw = self.rfile.read(length)
            request = guard.parse_request(raw)
            original = json.dumps(request).encode()
            screened = guard.screen_input(json.loads(original))
            if screened is None:
                send_json(self, 200, guard.refusal(request))
                guard.log({"id": rid, "action": "refuse", "latency_s": time.perf_counter() - start})
                return
            forward_body = (
                raw if json.dumps(screened).encode() == original else json.dumps(screened).encode()
            )
            try:
                status, data = _forward(
                    upstream,
                    forward_body,
                    guard.config.request_timeout_s,
                    {"Content-Type": "application/json"},
                )
            except OSError as exc:
                raise GuardrailError(502, f"upstream unreachable: {exc}", "upstream") from None
            if status != 200:
                self._send_raw(status, data)
                guard.log({"id": rid, "action": "upstream_error", "status": status})
                return
            try:
                response = json.loads(data)
            except ValueError:
                raise GuardrailError(502, "upstream sent invalid JSON", "upstream") from None
            response, rules = guard.filter_response(screened, response)
            if rules:
                send_json(self, 200, response)
            else:
                self._send_raw(200, data)  # untouched: the upstream's bytes
            guard.log(
                {
                    "id": rid,
                    "action": "filter" if rules else "pass",
                    "rules": rules,
                    "latency_s": time.perf_counter() - start,
                }
            )

        def _send_raw(self, status: int, data: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def start_proxy(
    upstream: str, config: GuardrailConfig | None = None, port: int = 0
) -> tuple[BackgroundServer, Guardrail]:
    """Start the guardrail proxy for ``upstream`` in the background: ``(server, guardrail)``."""
    guard = Guardrail(config or GuardrailConfig())
    server = BackgroundServer(make_proxy_handler(guard, upstream), port=port).__enter__()
    return server, guard
