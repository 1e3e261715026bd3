"""schemathesis fuzzes the server's own OpenAPI schema: no input may cause a 5xx.

The fuzzed server runs a tiny random Llama (byte tokenizer, 128-token window) so that a few hundred
generated requests, streaming ones included, take seconds; the routes and validation are the same.
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings

from llmpath_core.testing import byte_tokenizer, tiny_llama


@pytest.fixture(scope="module")
def api_schema():
    from ch17_serving.backend import ModelBackend
    from ch17_serving.server import ServerSettings, ServerThread, create_app

    backend = ModelBackend.from_model(tiny_llama(0, vocab=257, ctx=128, eos=0), byte_tokenizer())
    server = ServerThread(create_app(backend, settings=ServerSettings(max_concurrency=8))).start()
    yield schemathesis.openapi.from_url(server.url + "/openapi.json")
    server.stop(10)


def test_no_server_errors(api_schema):
    """Every operation, 25 generated cases each (bodies, headers, query), answered below 500."""
    from hypothesis import given

    checked = []
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case):
            response = case.call(timeout=60)
            assert response.status_code < 500, (
                case.method,
                case.path,
                case.body,
                response.text[:300],
            )
            if response.status_code >= 400:
                assert set(json.loads(response.content)["error"]) >= {"message", "type"}

        fuzz()
        checked.append(f"{operation.method.upper()} {operation.path}")
    assert "POST /v1/chat/completions" in checked and len(checked) >= 7
