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

from ch14_inference.workload import RequestRecord, WorkItem, make_workload, summarize


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


def story_workload(
    requests: int,
    rate: float,
    prompt_words: tuple[int, int],
    output_tokens: tuple[int, int],
    seed: int = 0,
) -> list[WorkItem]:
    """Poisson requests whose prompts are runs of words from the bundled stories (text: the
    server tokenizes them)."""
    from llmpath_core import load_text

    words = load_text("stories", split="validation", max_chars=40_000).split()
    workload = make_workload(requests, rate, words, prompt_words, output_tokens, seed=seed)
    for item in workload:
        item.prompt = " ".join(item.prompt)
    return workload


def load_test(
    url: str | None,
    model: str,
    requests: int,
    rate: float,
    prompt_words: tuple[int, int],
    output_tokens: tuple[int, int],
    seed: int = 0,
) -> tuple[dict[str, float], str]:
    """Load-test the server at ``url``, or with ``url=None`` one started in-process on ``model``
    (64 MiB budget, 8-token blocks, 32 sequences); returns the summary and the URL used."""
    server = None
    name: str | None = model
    if url is None:
        from ch14_inference.engine import EngineConfig
        from ch14_inference.server import InferenceServer

        config = EngineConfig(block_size=8, max_num_seqs=32, seed=seed)
        server = InferenceServer(
            {"default": model}, port=0, memory_bytes=64 * 2**20, engine_config=config
        )
        server.start_background()
        url, name = server.url, "default"
    workload = story_workload(requests, rate, prompt_words, output_tokens, seed)
    try:
        return run_load(url, workload, model=name), url
    finally:
        if server is not None:
            server.shutdown()


__all__ = ["load_test", "run_load", "story_workload", "stream_completion"]
