"""The resilient client: retries with backoff on 429/5xx (honouring Retry-After), no retry on 4xx,
cost accounting from usage."""

from __future__ import annotations

import httpx
import pytest

from ch17_serving.client import ApiStatusError, Prices, ResilientClient, collect_stream


def _client(handler, **kw):
    sleeps: list[float] = []
    c = ResilientClient("http://test/v1", "k", sleep=sleeps.append, **kw)
    c.http = httpx.Client(base_url="http://test/v1", transport=httpx.MockTransport(handler))
    return c, sleeps


OK = {
    "choices": [{"message": {"content": "hi"}}],
    "usage": {"prompt_tokens": 10, "completion_tokens": 5},
}


def test_retries_429_and_5xx_then_succeeds():
    answers = iter(
        [
            httpx.Response(429, headers={"retry-after": "2"}),
            httpx.Response(503),
            httpx.Response(200, json=OK),
        ]
    )
    c, sleeps = _client(lambda req: next(answers), prices=Prices(1.0, 2.0))
    assert c.chat([{"role": "user", "content": "x"}])["choices"][0]["message"]["content"] == "hi"
    assert sleeps[0] == 2.0 and 0 <= sleeps[1] <= 0.5  # Retry-After, then jittered backoff
    assert c.ledger.summary() == {
        "requests": 1,
        "retries": 2,
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "cost_usd": 2e-05,
    }


def test_no_retry_on_400_and_gives_up_after_max_retries():
    calls = []

    def bad(req):
        calls.append(1)
        return httpx.Response(400, json={"error": {"message": "nope"}})

    c, _ = _client(bad)
    with pytest.raises(ApiStatusError, match="nope"):
        c.chat([])
    assert len(calls) == 1
    c, sleeps = _client(
        lambda req: httpx.Response(500, json={"error": {"message": "down"}}), max_retries=3
    )
    with pytest.raises(ApiStatusError):
        c.chat([])
    assert len(sleeps) == 3
    assert all(s <= min(8.0, 0.25 * 2**i) for i, s in enumerate(sleeps))


def test_streaming_against_our_server_accounts_tokens(server):
    c = ResilientClient(server.url + "/v1", "sk-test-good", prices=Prices(0.5, 1.5))
    r = collect_stream(c, [{"role": "user", "content": "Hello"}], max_tokens=6, temperature=0)
    assert r.text and r.usage["completion_tokens"] == c.ledger.completion_tokens
    assert c.ledger.cost_usd == pytest.approx(
        (c.ledger.prompt_tokens * 0.5 + c.ledger.completion_tokens * 1.5) / 1e6
    )
    assert 0 < r.first_token_s <= r.total_s
