"""The OpenAI-compatible endpoint client, against a local completions server backed by the
default model: its log-likelihoods and generations equal the in-process model's."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ch11_evaluation.harness import score_multiple_choice
from ch11_evaluation.lm import EndpointLM
from ch11_evaluation.tasks import load_task


def _completion(lm, body: dict) -> dict:
    import torch

    tok = lm.tokenizer
    prompt = body["prompt"]
    if body.get("echo"):
        enc = tok(prompt, return_offsets_mapping=True)
        ids, offsets = enc["input_ids"], [start for start, _ in enc["offset_mapping"]]
        logprobs = torch.log_softmax(lm._logits(ids), dim=-1)
        token_lps, tops = [None], [None]
        for i in range(1, len(ids)):
            token_lps.append(float(logprobs[i - 1, ids[i]]))
            best = int(logprobs[i - 1].argmax())
            tops.append({tok.decode([best]): float(logprobs[i - 1, best])})
        lp = {
            "tokens": [tok.decode([t]) for t in ids],
            "token_logprobs": token_lps,
            "top_logprobs": tops,
            "text_offset": offsets,
        }
        text = prompt
    else:
        text = lm.generate_until([(prompt, body.get("stop") or [])], body["max_tokens"])[0]
        lp = None
    return {
        "id": "cmpl-1",
        "object": "text_completion",
        "created": 0,
        "model": body["model"],
        "choices": [{"index": 0, "text": text, "logprobs": lp, "finish_reason": "stop"}],
    }


@pytest.fixture(scope="module")
def endpoint(default_lm):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            out = json.dumps(_completion(default_lm, body)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_endpoint_scores_equal_the_local_model(endpoint, default_lm):
    remote = EndpointLM(model="default", base_url=endpoint)
    items = load_task("mmlu").items[:4]
    ours = score_multiple_choice(default_lm, items)
    theirs = score_multiple_choice(remote, items)
    for a, b in zip(ours.per_item, theirs.per_item, strict=True):
        assert a["loglikelihoods"] == pytest.approx(b["loglikelihoods"], abs=1e-4)
    assert ours.acc == theirs.acc and ours.acc_norm == theirs.acc_norm
    gen = load_task("gsm8k").items[0].context
    assert remote.generate_until([(gen, ["\n\n"])], 8) == default_lm.generate_until(
        [(gen, ["\n\n"])], 8
    )
