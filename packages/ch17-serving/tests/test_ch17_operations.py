"""Production behaviour: health/readiness, metrics, cancellation, load shedding, graceful shutdown,
token budgets, and limits shared across workers through Redis."""

from __future__ import annotations

import json
import threading
import time

import httpx
import openai
import pytest

from ch17_serving.labs import ServeConfig, build_app
from ch17_serving.server import ServerThread, app_state

MSG = [{"role": "user", "content": "Tell me a long story about a dragon."}]


def _metric(url: str, name: str) -> float:
    text = httpx.get(url + "/metrics").text
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_health_ready_and_metrics(server, client):
    assert httpx.get(server.url + "/health").json() == {"status": "ok"}
    assert httpx.get(server.url + "/ready").status_code == 200
    before = _metric(server.url, "llmpath_completion_tokens_total")
    reply = client.chat.completions.create(
        model="default", messages=MSG, max_tokens=5, temperature=0
    )
    after = _metric(server.url, "llmpath_completion_tokens_total")
    assert after - before == reply.usage.completion_tokens
    assert (
        _metric(server.url, 'llmpath_requests_total{route="/v1/chat/completions",status="200"}')
        >= 1
    )
    assert "llmpath_time_to_first_token_seconds_bucket" in httpx.get(server.url + "/metrics").text


def test_client_disconnect_cancels_generation(server, backend):
    cancelled = backend.stats.cancelled
    generated = backend.stats.generated_tokens
    body = {
        "model": "default",
        "messages": MSG,
        "max_tokens": 200,
        "temperature": 0,
        "stream": True,
    }
    with (
        httpx.Client(timeout=60) as http,
        http.stream(
            "POST",
            server.url + "/v1/chat/completions",
            json=body,
            headers={"Authorization": "Bearer sk-test-good"},
        ) as response,
    ):
        seen = 0
        for line in response.iter_lines():
            if line.startswith("data: ") and '"content"' in line:
                seen += 1
            if seen >= 3:
                break  # hang up mid-stream
    deadline = time.time() + 20
    while backend.stats.cancelled == cancelled and time.time() < deadline:
        time.sleep(0.05)
    assert backend.stats.cancelled == cancelled + 1
    time.sleep(0.3)
    assert backend.stats.generated_tokens - generated < 100  # stopped well before max_tokens


def test_sheds_load_with_429_and_keeps_serving(start_server):
    s = start_server(ServeConfig(max_concurrency=2))
    body = {"model": "default", "messages": MSG, "max_tokens": 24, "temperature": 0, "stream": True}
    statuses: list[int] = []

    def one() -> None:
        with (
            httpx.Client(timeout=120) as http,
            http.stream("POST", s.url + "/v1/chat/completions", json=body) as r,
        ):
            lines = [x for x in r.iter_lines() if x]
            statuses.append(r.status_code)
            if r.status_code == 200:
                assert lines[-1] == "data: [DONE]"
            else:
                assert json.loads(lines[0])["error"]["type"] == "server_overloaded"

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses.count(200) >= 2 and statuses.count(429) >= 1
    assert set(statuses) <= {200, 429}
    assert httpx.get(s.url + "/health").status_code == 200
    c = openai.OpenAI(base_url=s.url + "/v1", api_key="x", max_retries=0)
    assert c.chat.completions.create(model="default", messages=MSG, max_tokens=2).choices


def test_graceful_shutdown_finishes_in_flight_stream(backend):
    s = ServerThread(build_app(ServeConfig(), backend)).start()
    body = {"model": "default", "messages": MSG, "max_tokens": 40, "temperature": 0, "stream": True}
    lines: list[str] = []
    first = threading.Event()

    def consume() -> None:
        with (
            httpx.Client(timeout=60) as http,
            http.stream("POST", s.url + "/v1/chat/completions", json=body) as r,
        ):
            for line in r.iter_lines():
                if line:
                    lines.append(line)
                    first.set()

    t = threading.Thread(target=consume)
    t.start()
    assert first.wait(30)
    stopper = threading.Thread(target=s.stop)
    stopper.start()  # SIGTERM-equivalent while the stream runs
    time.sleep(0.2)
    assert app_state(s.app).draining  # readiness probe now fails
    t.join(60)
    stopper.join(60)
    assert lines[-1] == "data: [DONE]"
    finish = [json.loads(x[6:]) for x in lines if x.startswith("data: {")][-1]
    assert finish["choices"][0]["finish_reason"] in {"length", "stop"}


def test_token_budget_per_key(start_server):
    s = start_server(ServeConfig(api_keys=["kb"], token_budget=60))
    c = openai.OpenAI(base_url=s.url + "/v1", api_key="kb", max_retries=0)
    used = 0
    with pytest.raises(openai.RateLimitError) as over:
        for _ in range(10):
            r = c.chat.completions.create(model="default", messages=MSG, max_tokens=10)
            used += r.usage.total_tokens
    assert used >= 60 and over.value.body["code"] == "insufficient_quota"


def test_limits_hold_across_workers_through_redis(backend, redis_url):
    """Two servers (as two workers would be) share one key's rate limit and budget in Redis."""
    config = ServeConfig(api_keys=["kr"], rate_limit="4/min", redis=redis_url)
    a = ServerThread(build_app(config, backend)).start()
    b = ServerThread(build_app(config, backend)).start()
    try:
        ca = openai.OpenAI(base_url=a.url + "/v1", api_key="kr", max_retries=0)
        cb = openai.OpenAI(base_url=b.url + "/v1", api_key="kr", max_retries=0)
        ca.models.list()
        cb.models.list()
        ca.models.list()
        cb.models.list()
        with pytest.raises(openai.RateLimitError):
            ca.models.list()  # the 5th in this minute, whichever worker gets it
        with pytest.raises(openai.RateLimitError):
            cb.models.list()
    finally:
        a.stop(5)
        b.stop(5)
    budget = ServeConfig(api_keys=["kt"], token_budget=30, redis=redis_url)
    a = ServerThread(build_app(budget, backend)).start()
    b = ServerThread(build_app(budget, backend)).start()
    try:
        ca = openai.OpenAI(base_url=a.url + "/v1", api_key="kt", max_retries=0)
        cb = openai.OpenAI(base_url=b.url + "/v1", api_key="kt", max_retries=0)
        r = ca.chat.completions.create(model="default", messages=MSG, max_tokens=8)
        assert r.usage.total_tokens >= 15
        r = cb.chat.completions.create(model="default", messages=MSG, max_tokens=8)
        with pytest.raises(openai.RateLimitError):
            ca.chat.completions.create(model="default", messages=MSG, max_tokens=8)
    finally:
        a.stop(5)
        b.stop(5)
