"""The contract, held by the official openai client over real HTTP (uvicorn on a free port)."""

from __future__ import annotations

import base64
import io
import json

import jsonschema
import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

MSG = [{"role": "user", "content": "Tell me a story about a cat."}]


def test_models_list_is_typed(client, backend):
    page = client.models.list()
    assert [m.id for m in page.data] == [backend.name]
    assert page.data[0].object == "model"


def test_stream_concatenates_to_non_streamed_at_temperature_0(client):
    whole = client.chat.completions.create(
        model="default", messages=MSG, temperature=0, max_tokens=24
    )
    assert isinstance(whole, ChatCompletion)
    text = whole.choices[0].message.content
    assert text and whole.usage.completion_tokens > 0
    chunks = list(
        client.chat.completions.create(
            model="default",
            messages=MSG,
            temperature=0,
            max_tokens=24,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert all(isinstance(c, ChatCompletionChunk) for c in chunks)
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == text
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) > 3  # really streamed
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    finishes = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finishes == [whole.choices[0].finish_reason]


def test_same_text_as_transformers_greedy_generate(client, backend):
    """Our token loop at temperature 0 is greedy decoding: the same ids as HF generate()."""
    import torch

    whole = client.chat.completions.create(
        model="default", messages=MSG, temperature=0, max_tokens=20
    )
    ids = backend.encode(backend.render_chat(MSG))
    with torch.inference_mode():
        out = backend.model.generate(
            torch.tensor([ids]), max_new_tokens=20, do_sample=False, eos_token_id=None
        )
    reference = backend.tokenizer.decode(out[0, len(ids) :])
    for stop in backend.default_stops():
        reference = reference.split(stop)[0]
    assert whole.choices[0].message.content == reference


def test_errors_are_typed_and_the_server_keeps_serving(server, client):
    bad_key = openai.OpenAI(base_url=server.url + "/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as auth:
        bad_key.chat.completions.create(model="default", messages=MSG, max_tokens=2)
    assert auth.value.body["code"] == "invalid_api_key"
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="default", messages=[], max_tokens=2)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="default", messages=MSG, temperature=7)
    with pytest.raises(openai.BadRequestError) as long_prompt:
        client.chat.completions.create(
            model="default", messages=[{"role": "user", "content": "word " * 400}], max_tokens=2
        )
    assert "context length" in long_prompt.value.message
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-99", messages=MSG, max_tokens=2)
    ok = client.chat.completions.create(model="default", messages=MSG, max_tokens=2)
    assert ok.choices[0].message.role == "assistant"


def test_rate_limit_raises_rate_limit_error(start_server):
    from ch17_serving.labs import ServeConfig

    s = start_server(ServeConfig(api_keys=["k1", "k2"], rate_limit="3/min"))
    c1 = openai.OpenAI(base_url=s.url + "/v1", api_key="k1", max_retries=0)
    c2 = openai.OpenAI(base_url=s.url + "/v1", api_key="k2", max_retries=0)
    for _ in range(3):
        c1.models.list()
    with pytest.raises(openai.RateLimitError) as limited:
        c1.models.list()
    assert limited.value.response.headers["retry-after"]
    assert c2.models.list().data  # the limit is per key; the server keeps serving


def test_json_schema_response_format_validates(client):
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 12},
            "age": {"type": "integer"},
            "pets": {"type": "array", "items": {"enum": ["cat", "dog"]}, "maxItems": 2},
            "happy": {"type": "boolean"},
        },
        "required": ["name", "age", "pets", "happy"],
    }
    unconstrained = (
        client.chat.completions.create(model="default", messages=MSG, temperature=0, max_tokens=40)
        .choices[0]
        .message.content
    )
    with pytest.raises(ValueError):
        json.loads(unconstrained)  # the story model does not write JSON by itself
    reply = client.chat.completions.create(
        model="default",
        messages=MSG,
        temperature=0,
        max_tokens=120,
        response_format={"type": "json_schema", "json_schema": {"name": "p", "schema": schema}},
    )
    data = json.loads(reply.choices[0].message.content)
    jsonschema.validate(data, schema)
    assert reply.choices[0].finish_reason == "stop"
    mode = client.chat.completions.create(
        model="default",
        messages=MSG,
        temperature=0.8,
        seed=3,
        max_tokens=120,
        response_format={"type": "json_object"},
    )
    assert isinstance(json.loads(mode.choices[0].message.content), dict)


def test_tool_calls_typed_streamed_and_not(client):
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                    "required": ["city", "days"],
                },
            },
        },
        {
            "type": "function",
            "function": {
                "name": "get_time",
                "parameters": {"type": "object", "properties": {"zone": {"enum": ["UTC", "CET"]}}},
            },
        },
    ]
    reply = client.chat.completions.create(
        model="default",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=tools,
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        temperature=0,
        max_tokens=60,
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather"
    jsonschema.validate(json.loads(call.function.arguments), tools[0]["function"]["parameters"])
    chunks = list(
        client.chat.completions.create(
            model="default",
            messages=[{"role": "user", "content": "What time is it?"}],
            tools=tools,
            tool_choice="required",
            temperature=0,
            max_tokens=60,
            stream=True,
        )
    )
    calls = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert calls and calls[0].function.name in {"get_weather", "get_time"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    # a conversation that includes the tool's answer goes on as text
    follow = client.chat.completions.create(
        model="default",
        temperature=0,
        max_tokens=8,
        tools=tools,
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
            {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
        ],
    )
    assert follow.choices[0].message.content is not None


def test_completions_and_embeddings(client, backend):
    done = client.completions.create(
        model="default", prompt="Once upon a time", max_tokens=8, temperature=0
    )
    assert done.choices[0].text and done.usage.prompt_tokens == len(
        backend.encode("Once upon a time")
    )
    streamed = "".join(
        c.choices[0].text
        for c in client.completions.create(
            model="default", prompt="Once upon a time", max_tokens=8, temperature=0, stream=True
        )
    )
    assert streamed == done.choices[0].text
    emb = client.embeddings.create(
        model="default", input=["a cat", "a dog sat"]
    )  # base64 on the wire
    direct = backend.embed([backend.encode("a cat"), backend.encode("a dog sat")])
    for got, want in zip(emb.data, direct, strict=True):
        assert max(abs(a - b) for a, b in zip(got.embedding, want, strict=True)) < 1e-6
    floats = client.embeddings.create(model="default", input="a cat", encoding_format="float")
    assert abs(sum(x * x for x in floats.data[0].embedding) - 1) < 1e-4


def test_image_parts_need_a_vision_model(client):
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buf, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    content = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": url}},
    ]
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(
            model="default", messages=[{"role": "user", "content": content}], max_tokens=4
        )
    assert "--vision-model" in err.value.message
