"""A load generator for the server: Poisson arrivals, mixed lengths, concurrent streaming clients.

Each request is sent at its arrival time from its own thread (so slow requests never hold back
later arrivals: an *open-loop* load test), streams its completion over SSE and records the time
to first token, the latency and the tokens received. The summary is throughput (generated
tokens/s over the run) and p50/p99 of TTFT and latency.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from urllib.parse import urlparse

from ch14_inference.workload import RequestRecord, WorkItem, summarize


def stream_completion(url: str, body: dict, timeout: float = 120.0) -> tuple[float, float, int]:
    """POST a streaming completion; returns (ttft_s, latency_s, tokens). Raises on HTTP errors."""
    parts = urlparse(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    start = time.perf_counter()
    try:
        conn.request(
            "POST",
            "/v1/completions",
            json.dumps({**body, "stream": True}),
            {"Content-Type": "application/json"},
        )
        resp = conn.getresponse()
        if resp.status != 200:
            raise RuntimeError(f"HTTP {resp.status}: {resp.read().decode()[:200]}")
        ttft, tokens = None, 0
        for raw in resp:
            line = raw.decode().strip()
            if not line.startswith("data: "):
                continue
            if line == "data: [DONE]":
                break
            chunk = json.loads(line[6:])
            got = sum(len(c["token_ids"]) for c in chunk["choices"])
            if got and ttft is None:
                ttft = time.perf_counter() - start
            tokens += got
        latency = time.perf_counter() - start
        return (ttft if ttft is not None else latency), latency, tokens
    finally:
        conn.close()


def run_load(
    url: str, workload: list[WorkItem], model: str | None = None, temperature: float = 0.0
) -> dict[str, float]:
    """Send ``workload`` to the server at ``url`` in real time; returns the summary."""
    records: list[RequestRecord] = []
    errors: list[str] = []
    lock = threading.Lock()

    def one(item: WorkItem) -> None:
        body = {
            "prompt": item.prompt,
            "max_tokens": item.max_tokens,
            "temperature": temperature,
            "ignore_eos": True,
        }
        if model:
            body["model"] = model
        try:
            ttft, latency, tokens = stream_completion(url, body)
        except Exception as exc:  # a failed request is counted, not fatal
            with lock:
                errors.append(str(exc))
            return
        with lock:
            records.append(RequestRecord(item.arrival_s, ttft, latency, tokens))

    threads = []
    start = time.perf_counter()
    for item in sorted(workload, key=lambda w: w.arrival_s):
        time.sleep(max(0.0, item.arrival_s - (time.perf_counter() - start)))
        t = threading.Thread(target=one, args=(item,), daemon=True)
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    summary = summarize(records, time.perf_counter() - start)
    summary["errors"] = len(errors)
    if errors:
        summary["first_error"] = errors[0]
    return summary


__all__ = ["run_load", "stream_completion"]
