"""schemathesis fuzzing of the similarity API from its own OpenAPI schema, against a live uvicorn
on a free localhost port: schema-valid requests get 2xx, schema-breaking ones 4xx JSON, none 5xx.

Bounded to stay fast: a tiny random BERT with MiniLM's tokenizer stands in for MiniLM (the same
`SentenceEncoder` code; the schema allows 256 texts of 20,000 characters, which would take MiniLM
minutes per request on 2 cores), and `MAX_EXAMPLES` cases per operation and mode.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time

import pytest

MAX_EXAMPLES = 10


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory):
    """A 2-layer, 32-wide random BERT in a sentence-transformers folder with MiniLM's tokenizer:
    MiniLM's tensors with 384 -> 32, 1536 -> 64 and layers 0-1 kept, filled with noise."""
    import torch
    from safetensors.torch import load_file, save_file

    from ch04_embeddings.encoder import SentenceEncoder, minilm_path

    folder = tmp_path_factory.mktemp("tiny-bert")
    src = minilm_path()
    config = json.loads((src / "config.json").read_text())
    config.update(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2)
    (folder / "config.json").write_text(json.dumps(config))
    for name in ("tokenizer.json", "sentence_bert_config.json"):
        shutil.copy(src / name, folder / name)
    g = torch.Generator().manual_seed(0)
    small = {384: 32, 1536: 64}
    state = {
        k: 0.1 * torch.randn([small.get(n, n) for n in v.shape], generator=g)
        for k, v in load_file(str(src / "model.safetensors")).items()
        if ".layer." not in k or k.split(".layer.")[1].split(".")[0] in ("0", "1")
    }
    save_file(state, str(folder / "model.safetensors"))
    return SentenceEncoder(folder)


@pytest.fixture(scope="module")
def live_server(tiny_encoder, corpus_dir, tmp_path_factory):
    import uvicorn

    from ch04_embeddings.api import EmbeddingService, ServiceConfig, create_app
    from ch04_embeddings.documents import load_corpus
    from ch04_embeddings.search import SearchIndex, build_index

    folder = tmp_path_factory.mktemp("fuzz") / "idx"
    build_index(load_corpus(corpus_dir), folder, tiny_encoder)
    service = EmbeddingService(
        tiny_encoder, ServiceConfig(rate_per_s=0), SearchIndex(folder, tiny_encoder)
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(service), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_schemathesis_finds_no_server_errors(live_server):
    import requests
    import schemathesis
    from schemathesis.generation import GenerationMode

    schema = schemathesis.openapi.from_url(f"{live_server}/openapi.json")
    operations = [op.ok() for op in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/embed", "/similarity", "/search", "/health"}
    seen: dict[tuple[str, str], set[int]] = {}
    session = requests.Session()
    for op in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            if mode is GenerationMode.NEGATIVE and op.method.upper() == "GET":
                continue  # GET /health takes no input: nothing to break
            check = _fuzz(op, mode, live_server, session, seen)
            check()
    # the negative cases really were rejected, and the service still serves afterwards
    assert any(c >= 400 for (_, mode), codes in seen.items() if mode == "negative" for c in codes)
    r = session.post(f"{live_server}/embed", json={"texts": ["still alive"]}, timeout=30)
    assert r.status_code == 200 and len(r.json()["embeddings"][0]) == 32


def _fuzz(op, mode, base_url, session, seen):
    """A Hypothesis test: ``MAX_EXAMPLES`` generated cases of ``op`` in ``mode``."""
    from hypothesis import HealthCheck, Phase, given, settings

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=op.as_strategy(mode))
    def check(case):
        response = case.call(base_url=base_url, session=session, timeout=60)
        seen.setdefault((op.path, mode.value), set()).add(response.status_code)
        assert response.status_code < 500, (case.body, response.text[:300])
        body = json.loads(response.text)  # every answer is JSON
        if response.status_code >= 400:
            assert "detail" in body
        if mode.is_positive:  # schema-valid: accepted (a blank query is valid JSON Schema-wise)
            blank = op.path == "/search" and not str(case.body.get("query", "x")).strip()
            assert response.status_code == (422 if blank else 200), (case.body, response.text[:300])

    return check
