"""Load tests: time to first token, inter-token latency and throughput under N concurrent streams.

:func:`http_load` opens N streaming chat requests at once (one thread each, plain httpx) and times
every SSE content chunk; :func:`in_process_load` runs the same N generations on the backend
directly, without HTTP, so the ratio of the two throughputs is the server's overhead. Requests
refused with 429 (load shedding) are counted, not retried.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from ch17_serving.backend import ModelBackend, SamplingParams

PROMPT = [{"role": "user", "content": "Tell me a story about a dragon and a fox."}]


@dataclass
class StreamTiming:
    ok: bool
    status: int
    first_token_s: float = 0.0
    gaps_s: list[float] = field(default_factory=list)
    tokens: int = 0


@dataclass
class LoadResult:
    streams: int
    ok: int
    shed_429: int
    errors: int
    wall_s: float
    tokens: int
    tokens_per_s: float
    ttft_median_s: float
    ttft_p90_s: float
    itl_median_ms: float

    def to_dict(self) -> dict:
        return asdict(self)


def _summarize(streams: int, timings: list[StreamTiming], wall: float) -> LoadResult:
    good = [t for t in timings if t.ok]
    ttfts = sorted(t.first_token_s for t in good) or [0.0]
    gaps = [g for t in good for g in t.gaps_s] or [0.0]
    tokens = sum(t.tokens for t in good)
    return LoadResult(
        streams=streams,
        ok=len(good),
        shed_429=sum(1 for t in timings if t.status == 429),
        errors=sum(1 for t in timings if not t.ok and t.status != 429),
        wall_s=round(wall, 3),
        tokens=tokens,
        tokens_per_s=round(tokens / wall, 2) if wall else 0.0,
        ttft_median_s=round(statistics.median(ttfts), 4),
        ttft_p90_s=round(ttfts[min(len(ttfts) - 1, int(0.9 * len(ttfts)))], 4),
        itl_median_ms=round(1000 * statistics.median(gaps), 2),
    )


def _one_stream(base_url: str, api_key: str | None, body: dict, out: list, i: int) -> None:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    start = time.perf_counter()
    last = None
    timing = StreamTiming(ok=False, status=0)
    try:
        with (
            httpx.Client(timeout=300) as http,
            http.stream(
                "POST", f"{base_url}/chat/completions", json=body, headers=headers
            ) as response,
        ):
            timing.status = response.status_code
            if response.status_code == 200:
                for line in response.iter_lines():
                    if not line.startswith("data: ") or line == "data: [DONE]":
                        continue
                    chunk = json.loads(line[6:])
                    for choice in chunk.get("choices", []):
                        if choice.get("delta", {}).get("content"):
                            now = time.perf_counter()
                            if last is None:
                                timing.first_token_s = now - start
                            else:
                                timing.gaps_s.append(now - last)
                            last = now
                    if chunk.get("usage"):
                        timing.tokens = chunk["usage"]["completion_tokens"]
                timing.ok = True
            else:
                response.read()
    except httpx.HTTPError:
        timing.status = -1
    out[i] = timing


def http_load(
    base_url: str,
    n_streams: int,
    max_tokens: int = 32,
    api_key: str | None = None,
    messages: list[dict] | None = None,
) -> LoadResult:
    """N concurrent streaming chats against ``base_url`` (ending in ``/v1``), ignoring EOS."""
    body = {
        "model": "default",
        "messages": messages or PROMPT,
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    out: list[Any] = [None] * n_streams
    threads = [
        threading.Thread(target=_one_stream, args=(base_url, api_key, body, out, i))
        for i in range(n_streams)
    ]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return _summarize(n_streams, out, time.perf_counter() - start)


def in_process_load(
    backend: ModelBackend, n_streams: int, max_tokens: int = 32, messages: list[dict] | None = None
) -> LoadResult:
    """The same N generations on the backend directly (threads, no HTTP): the overhead baseline."""
    ids = backend.encode(backend.render_chat(messages or PROMPT))
    params = SamplingParams(max_tokens=max_tokens, temperature=0, stop=backend.default_stops())
    out: list[Any] = [None] * n_streams

    def work(i: int) -> None:
        start = time.perf_counter()
        timing = StreamTiming(ok=True, status=200)
        last = None
        for delta in backend.stream(ids, params):
            if delta.text:
                now = time.perf_counter()
                if last is None:
                    timing.first_token_s = now - start
                else:
                    timing.gaps_s.append(now - last)
                last = now
            timing.tokens = delta.completion_tokens
        out[i] = timing

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n_streams)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return _summarize(n_streams, out, time.perf_counter() - start)


__all__ = ["LoadResult", "StreamTiming", "http_load", "in_process_load"]
