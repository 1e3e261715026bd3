"""A client for any OpenAI-compatible endpoint: retries with backoff, timeouts, cost accounting.

:class:`ResilientClient` speaks the wire format directly with httpx, so every mechanism is visible:

- **retries** on 429, 5xx and connection errors, with exponential backoff and full jitter
  (``sleep = uniform(0, min(cap, base * 2**attempt))``, the AWS architecture blog's recommendation),
  honouring the server's ``Retry-After``; 4xx other than 429 is never retried (it would fail again);
- **timeouts**: connect and read, per request;
- **cost accounting**: a :class:`CostLedger` adds up prompt and completion tokens from ``usage``
  (streams ask for it with ``stream_options.include_usage``) and prices them per million tokens.

:func:`stream_to_terminal` is the token-streaming UX: text appears as it is generated, and the time
to first token and the rate are reported at the end.
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

import httpx

from llmpath_core import UserError

RETRY_STATUSES = {408, 409, 429, 500, 502, 503, 504}


class ApiStatusError(Exception):
    """The endpoint answered with an error status (after any retries)."""

    def __init__(self, status: int, body: Any) -> None:
        message = body.get("error", {}).get("message") if isinstance(body, dict) else str(body)
        super().__init__(f"HTTP {status}: {message}")
        self.status, self.body = status, body


@dataclass
class Prices:
    """US dollars per million tokens (defaults: zero, a local model)."""

    prompt_per_million: float = 0.0
    completion_per_million: float = 0.0


@dataclass
class CostLedger:
    """Tokens and money spent through one client."""

    prices: Prices = field(default_factory=Prices)
    requests: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, usage: dict | None) -> None:
        self.requests += 1
        if usage:
            self.prompt_tokens += int(usage.get("prompt_tokens", 0))
            self.completion_tokens += int(usage.get("completion_tokens", 0))

    @property
    def cost_usd(self) -> float:
        return (
            self.prompt_tokens * self.prices.prompt_per_million
            + self.completion_tokens * self.prices.completion_per_million
        ) / 1e6

    def summary(self) -> dict:
        return {
            "requests": self.requests,
            "retries": self.retries,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": round(self.cost_usd, 6),
        }


@dataclass
class StreamResult:
    """What a streamed chat produced and how fast."""

    text: str
    finish_reason: str | None
    first_token_s: float
    total_s: float
    chunks: int
    usage: dict | None


class ResilientClient:
    """Chat completions against ``base_url`` (ending in ``/v1``) with retries and a ledger."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        model: str | None = None,
        max_retries: int = 4,
        backoff_base_s: float = 0.25,
        backoff_cap_s: float = 8.0,
        timeout_s: float = 60.0,
        connect_timeout_s: float = 5.0,
        prices: Prices | None = None,
        rng: random.Random | None = None,
        sleep: Any = time.sleep,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
        )
        self.model = model
        self.max_retries, self.backoff_base_s, self.backoff_cap_s = (
            max_retries,
            backoff_base_s,
            backoff_cap_s,
        )
        self.ledger = CostLedger(prices or Prices())
        self.rng = rng or random.Random(0)
        self.sleep = sleep

    def close(self) -> None:
        self.http.close()

    def backoff(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait before retry ``attempt`` (0-based): Retry-After, else full jitter."""
        if retry_after:
            try:
                return min(float(retry_after), self.backoff_cap_s)
            except ValueError:
                pass
        return self.rng.uniform(0, min(self.backoff_cap_s, self.backoff_base_s * 2**attempt))

    def _send(self, method: str, path: str, body: dict | None, stream: bool) -> httpx.Response:
        attempt = 0
        while True:
            try:
                request = self.http.build_request(method, path, json=body)
                response = self.http.send(request, stream=stream)
            except (httpx.ConnectError, httpx.ReadTimeout, httpx.RemoteProtocolError) as exc:
                if attempt >= self.max_retries:
                    raise UserError(f"cannot reach {self.http.base_url}: {exc}") from exc
                self.sleep(self.backoff(attempt))
            else:
                if response.status_code < 400:
                    return response
                if response.status_code not in RETRY_STATUSES or attempt >= self.max_retries:
                    response.read()
                    try:
                        payload = response.json()
                    except ValueError:
                        payload = response.text
                    raise ApiStatusError(response.status_code, payload)
                response.close()
                self.sleep(self.backoff(attempt, response.headers.get("retry-after")))
            attempt += 1
            self.ledger.retries += 1

    def models(self) -> list[str]:
        return [m["id"] for m in self._send("GET", "/models", None, False).json()["data"]]

    def chat(self, messages: list[dict], **options: Any) -> dict:
        """One chat completion (the parsed JSON body)."""
        body = {"model": self.model or "default", "messages": messages, **options}
        data = self._send("POST", "/chat/completions", body, False).json()
        self.ledger.add(data.get("usage"))
        return data

    def stream_chat(self, messages: list[dict], **options: Any) -> Iterator[dict]:
        """Stream a chat completion: yields each parsed chunk (usage included at the end)."""
        body = {
            "model": self.model or "default",
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
            **options,
        }
        response = self._send("POST", "/chat/completions", body, True)
        usage = None
        try:
            for line in response.iter_lines():
                if not line.startswith("data: "):
                    continue
                payload = line[6:]
                if payload == "[DONE]":
                    break
                chunk = json.loads(payload)
                if "error" in chunk:
                    raise ApiStatusError(500, chunk)
                usage = chunk.get("usage") or usage
                yield chunk
        finally:
            response.close()
        self.ledger.add(usage)


def collect_stream(client: ResilientClient, messages: list[dict], **options: Any) -> StreamResult:
    """Consume :meth:`ResilientClient.stream_chat`, timing the first token and the whole."""
    return stream_to_terminal(client, messages, out=None, **options)


def stream_to_terminal(
    client: ResilientClient,
    messages: list[dict],
    out: TextIO | None = sys.stdout,
    **options: Any,
) -> StreamResult:
    """Print deltas as they arrive (``out=None`` prints nothing) and time them."""
    start = time.perf_counter()
    first = 0.0
    parts: list[str] = []
    finish, usage, chunks = None, None, 0
    for chunk in client.stream_chat(messages, **options):
        usage = chunk.get("usage") or usage
        for choice in chunk.get("choices", []):
            text = choice.get("delta", {}).get("content") or ""
            if text:
                chunks += 1
                if not first:
                    first = time.perf_counter() - start
                parts.append(text)
                if out is not None:
                    out.write(text)
                    out.flush()
            finish = choice.get("finish_reason") or finish
    total = time.perf_counter() - start
    if out is not None:
        out.write("\n")
    return StreamResult("".join(parts), finish, first, total, chunks, usage)


__all__ = [
    "ApiStatusError",
    "CostLedger",
    "Prices",
    "ResilientClient",
    "StreamResult",
    "collect_stream",
    "stream_to_terminal",
]
