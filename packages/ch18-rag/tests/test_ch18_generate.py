"""Generators: a local causal LM folder (held to transformers' generate) and an
OpenAI-compatible endpoint (a fake server written here, plain and streamed)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from ch18_rag.generate import HFGenerator, OpenAIGenerator, build_prompt, make_generator
from ch18_rag.retrieval import Hit
from llmpath_core import UserError


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    """A random 2-layer Llama with a word-level tokenizer, saved as a standard HF folder."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    words = [
        "<eos>",
        "<unk>",
        "the",
        "capital",
        "of",
        "zed",
        "is",
        "quo",
        "answer",
        "question",
        "context",
        "cite",
    ]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>", unk_token="<unk>")
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(words),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=64,
        eos_token_id=0,
        bos_token_id=0,
        pad_token_id=0,
    )
    path = tmp_path_factory.mktemp("lm") / "tiny"
    LlamaForCausalLM(config).save_pretrained(path)
    fast.save_pretrained(path)
    return path


def test_hf_generator_equals_generate(tiny_lm):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gen = HFGenerator(tiny_lm, max_new_tokens=12)
    prompt = "context the capital of zed is quo question the capital of zed answer"
    ours = list(gen.token_ids(prompt))
    model = AutoModelForCausalLM.from_pretrained(tiny_lm).eval()
    ids = AutoTokenizer.from_pretrained(tiny_lm)(prompt, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        ref = model.generate(
            ids, max_new_tokens=12, do_sample=False, eos_token_id=0, pad_token_id=0
        )[0, ids.shape[1] :].tolist()
    if 0 in ref:
        ref = ref[: ref.index(0)]
    assert ours == ref and len(ours) > 0
    assert "".join(gen.stream(prompt)) == gen.tokenizer.decode(ours, skip_special_tokens=True)


class FakeOpenAI(BaseHTTPRequestHandler):
    requests: ClassVar[list[dict]] = []

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeOpenAI.requests.append(
            {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
        )
        answer = "Quo [enc#0]"
        if body.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for piece in ("Qu", "o ", "[enc#0]"):
                chunk = {"choices": [{"delta": {"content": piece}}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")
        else:
            payload = json.dumps({"choices": [{"message": {"content": answer}}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)


@pytest.fixture
def fake_server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


def test_openai_compatible_endpoint(fake_server):
    FakeOpenAI.requests.clear()
    gen = OpenAIGenerator(fake_server, "tiny-model", api_key="k")
    prompt = build_prompt(
        "What is the capital of Zed?", [Hit("enc#0", "enc", 1.0, "The capital of Zed is Quo.")]
    )
    assert "[enc#0] The capital of Zed is Quo." in prompt
    assert gen(prompt) == "Quo [enc#0]"
    assert list(gen.stream(prompt)) == ["Qu", "o ", "[enc#0]"]
    first = FakeOpenAI.requests[0]
    assert first["path"] == "/v1/chat/completions" and first["auth"] == "Bearer k"
    assert first["body"]["model"] == "tiny-model"
    assert first["body"]["messages"] == [{"role": "user", "content": prompt}]
    assert FakeOpenAI.requests[1]["body"]["stream"] is True


def test_unreachable_endpoint_and_bad_specs(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(UserError, match="cannot reach"):
        OpenAIGenerator(f"http://127.0.0.1:{port}/v1", "m", timeout=2)("hi")
    assert make_generator(None) is None
    with pytest.raises(UserError, match="no such model folder"):
        make_generator(str(tmp_path / "nope"))
