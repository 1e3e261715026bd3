"""The server over real HTTP: completions, SSE streaming, two models, 4xx errors, still serving."""

from __future__ import annotations

import http.client
import json
import threading

import pytest

from ch14_inference import EngineConfig, LLMEngine, SamplingParams
from ch14_inference.load import run_load, stream_completion
from ch14_inference.server import InferenceServer
from ch14_inference.workload import make_workload


@pytest.fixture(scope="module")
def server(text_model_dir, draft_model_dir):
    srv = InferenceServer(
        {"main": str(text_model_dir), "small": str(draft_model_dir)},
        port=0,
        memory_bytes=8 * 2**20,
        engine_config=EngineConfig(block_size=8, max_num_seqs=8),
    )
    srv.start_background()
    yield srv
    srv.shutdown()


def _post(srv, body, raw=None):
    conn = http.client.HTTPConnection(*srv.server_address[:2], timeout=60)
    payload = raw if raw is not None else json.dumps(body)
    conn.request("POST", "/v1/completions", payload, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


def test_completion_equals_the_engine_and_streams_the_same_tokens(server, text_model_dir):
    body = {"model": "main", "prompt": "Once upon a time", "max_tokens": 12, "ignore_eos": True}
    status, data = _post(server, body)
    assert status == 200
    choice = json.loads(data)["choices"][0]
    engine = LLMEngine(str(text_model_dir))
    (ref,) = engine.generate(["Once upon a time"], SamplingParams(max_tokens=12, ignore_eos=True))
    assert choice["token_ids"] == ref.outputs[0].token_ids  # greedy, so the same tokens
    status, data = _post(server, {**body, "stream": True})
    events = [line[6:] for line in data.decode().split("\n") if line.startswith("data: ")]
    assert events[-1] == "[DONE]" and len(events) > 2  # several chunks, then the end marker
    streamed = [t for e in events[:-1] for t in json.loads(e)["choices"][0]["token_ids"]]
    assert streamed == choice["token_ids"]


def test_bad_requests_get_4xx_json_and_the_server_keeps_serving(server):
    cases = [
        ({"model": "nope", "prompt": "hi"}, 404, "unknown model"),
        (None, 400, "malformed"),
        ({"model": "main", "prompt": ""}, 400, "prompt"),
        ({"model": "main", "prompt": "x" * 200}, 400, "longer than"),
        ({"model": "main", "prompt": "hi", "max_tokens": -3}, 400, "max_tokens"),
    ]
    for body, code, message in cases:
        status, data = _post(server, body, raw="{not json" if body is None else None)
        assert status == code, data
        assert message in json.loads(data)["error"]["message"]
    status, _ = _post(server, {"model": "small", "prompt": "still there?", "max_tokens": 4})
    assert status == 200


def test_concurrent_clients_on_two_models(server):
    results = []

    def client(model):
        ttft, latency, tokens = stream_completion(
            server.url, {"model": model, "prompt": "abc", "max_tokens": 10, "ignore_eos": True}
        )
        results.append((model, tokens, ttft <= latency))

    threads = [threading.Thread(target=client, args=(m,)) for m in ["main", "small"] * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == sorted([(m, 10, True) for m in ["main", "small"] * 4])


def test_load_generator_reports_throughput_and_percentiles(server):
    words = ("once upon a time there was a little dog who liked to run " * 20).split()
    workload = make_workload(12, 40.0, words, (2, 8), (2, 16), seed=0)
    for item in workload:
        item.prompt = " ".join(item.prompt)
    summary = run_load(server.url, workload, model="main")
    assert summary["errors"] == 0 and summary["requests"] == 12
    assert summary["tokens"] == sum(w.max_tokens for w in workload)
    assert 0 < summary["ttft_p50_s"] <= summary["latency_p50_s"] <= summary["latency_p99_s"]


def test_memory_budget_too_small_is_refused(text_model_dir):
    from llmpath_core import UserError

    with pytest.raises(UserError, match="memory budget"):
        InferenceServer({"main": str(text_model_dir)}, port=0, memory_bytes=2**16)


def test_an_engine_failure_is_a_500_and_the_worker_recovers(server, monkeypatch):
    engine = server.workers["small"].engine
    original = engine.step
    calls = []

    def fails_once():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return original()

    monkeypatch.setattr(engine, "step", fails_once)
    status, data = _post(server, {"model": "small", "prompt": "hi", "max_tokens": 3})
    assert status == 500 and "boom" in json.loads(data)["error"]["message"]
    status, _ = _post(server, {"model": "small", "prompt": "hi", "max_tokens": 3})
    assert status == 200
    assert engine.blocks.num_free_blocks == engine.blocks.num_blocks
