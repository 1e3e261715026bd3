"""Synthetic data: generators, the filter funnel, an OpenAI-compatible endpoint, training effect."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ch06_data.synthetic import (
    PROMPTS,
    TrainConfig,
    compare_training_data,
    endpoint_documents,
    model_documents,
    quality_funnel,
    template_documents,
)
from llmpath_core import UserError

TINY = TrainConfig(steps=30, batch_size=8, seq_len=32, lr=5e-3, hidden=32, layers=1, heads=2)


@pytest.fixture(scope="module")
def default_model():
    from llmpath_core import load_default_model

    return load_default_model()


def test_template_documents_and_funnel():
    docs = template_documents(60, seed=3)
    assert docs == template_documents(60, seed=3) and docs != template_documents(60, seed=4)
    assert len(set(docs)) == 60 and all(len(d.split()) > 50 for d in docs)
    w = docs[1].split(" ")
    w[10] = "purple"
    planted = [*docs, docs[0], docs[0], " ".join(w), "buy now " * 40, "Il était une fois " * 12]
    kept, funnel = quality_funnel(planted)
    removed = {row["stage"]: row["removed"] for row in funnel}
    assert removed["exact duplicates"] == 2 and removed["near duplicates"] == 1
    assert removed["language != en"] + removed["quality rules"] == 2
    assert len(kept) == 60 and funnel[-1]["remaining"] == 60


class _Completions(BaseHTTPRequestHandler):
    """POST /v1/completions answered by llmpath's default model (a real, local endpoint)."""

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        if self.path != "/v1/completions":
            self.send_error(404)
            return
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append({**body, "auth": self.headers.get("Authorization")})
        model, tok = self.server.model
        text = model_documents(
            1,
            model=model,
            tokenizer=tok,
            prompts=[body["prompt"]],
            max_new_tokens=body["max_tokens"],
            temperature=body["temperature"],
            seed=body["seed"],
        )[0][len(body["prompt"]) :]
        answer = json.dumps({"object": "text_completion", "choices": [{"index": 0, "text": text}]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer.encode())


def test_model_and_endpoint_generation(default_model):
    model, tok = default_model
    direct = model_documents(3, model=model, tokenizer=tok, max_new_tokens=12, seed=1)
    assert direct == model_documents(3, model=model, tokenizer=tok, max_new_tokens=12, seed=1)
    assert [d[: len(p)] for d, p in zip(direct, PROMPTS, strict=False)] == PROMPTS[:3]
    assert all(
        len(tok(d[len(p) :])["input_ids"]) >= 3 for d, p in zip(direct, PROMPTS, strict=False)
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Completions)
    server.model, server.requests = default_model, []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        docs = endpoint_documents(url, 2, max_tokens=8, seed=5, api_key="k", model="m")
        assert [d[: len(p)] for d, p in zip(docs, PROMPTS, strict=False)] == PROMPTS[:2]
        assert all(len(d) > len(p) for d, p in zip(docs, PROMPTS, strict=False))
        assert [r["seed"] for r in server.requests] == [5, 6]
        assert server.requests[0]["auth"] == "Bearer k" and server.requests[0]["model"] == "m"
        with pytest.raises(UserError, match="HTTP 404"):
            endpoint_documents(url + "/nope", 1)
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(UserError, match="cannot reach"):
        endpoint_documents("http://127.0.0.1:9/v1", 1, timeout=5)


def test_training_on_real_beats_junk_at_equal_tokens(default_model):
    from llmpath_core.data import load_documents

    _, tok = default_model
    real = load_documents("stories", split="train")[:20]
    heldout = load_documents("stories", split="validation")[:4]
    words = " ".join(real).split()
    # same words, shuffled: the same unigram statistics, none of the real text's structure
    import random

    rng = random.Random(0)
    junk = [" ".join(rng.sample(words, 150)) for _ in range(40)]
    result = compare_training_data(
        {"real": real, "junk": junk},
        heldout,
        mixes={"mixed": ("real", "junk")},
        cfg=TINY,
        tokenizer=tok,
        max_windows=30,
    )
    rows = {r["data"]: r for r in result["rows"]}
    assert result["tokens_seen"] == 30 * 8 * 32 and result["heldout_windows"] == 30
    diff = rows["junk"]["loss_diff_vs_real"]
    # measured 0.22 +- 0.05 (one seed, 30 paired windows); a model that ignored its data, or
    # sources that were not cut to equal tokens, would not separate them
    assert diff > 3 * rows["junk"]["loss_diff_stderr"] and diff > 0.1
    assert rows["mixed"]["loss_diff_vs_real"] < diff
    with pytest.raises(UserError, match="reference"):
        compare_training_data({"a": real}, heldout, tokenizer=tok)
