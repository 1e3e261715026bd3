"""The schema → regex compiler agrees with jsonschema on what is valid (within its bounds)."""

from __future__ import annotations

import json

import jsonschema
import pytest

from ch17_serving.constrained import (
    json_object_constraint,
    json_schema_constraint,
    tool_call_constraint,
)

PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 10},
        "age": {"type": "integer"},
        "score": {"type": "number"},
        "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 2},
        "ok": {"type": "boolean"},
        "note": {"type": ["string", "null"]},
    },
    "required": ["name", "age", "score", "tags", "ok", "note"],
}
VALID = [
    {"name": "Bo", "age": 3, "score": -1.5, "tags": [], "ok": True, "note": None},
    {"name": "", "age": -20, "score": 2e3, "tags": ["a", "b"], "ok": False, "note": 'x"y'},
]
INVALID = [
    {"name": "Bo", "age": 3.5, "score": 1, "tags": [], "ok": True, "note": None},
    {"name": "Bo", "age": 3, "score": 1, "tags": ["c"], "ok": True, "note": None},
    {"name": 5, "age": 3, "score": 1, "tags": [], "ok": True, "note": None},
    {"name": "Bo", "age": 3, "score": 1, "tags": [], "ok": "yes", "note": None},
    {"name": "Bo", "age": 3, "score": 1, "tags": ["a", "b", "a"], "ok": True, "note": None},
]


@pytest.mark.parametrize("sep", [(",", ":"), (", ", ": ")])
def test_agrees_with_jsonschema(sep):
    c = json_schema_constraint(PERSON)
    for doc in VALID + INVALID:
        text = json.dumps(doc, separators=sep)
        valid = jsonschema.Draft202012Validator(PERSON).is_valid(doc)
        assert c.complete(text) == valid, text
        if valid:  # every prefix of a valid text can be continued
            assert all(c.allows(text[:i]) for i in range(len(text)))


def test_refs_enum_and_free_objects():
    schema = {
        "$defs": {"Color": {"enum": ["red", "green"]}},
        "type": "object",
        "properties": {"c": {"$ref": "#/$defs/Color"}},
    }
    c = json_schema_constraint(schema)
    assert c.complete('{"c": "red"}') and not c.complete('{"c": "blue"}')
    assert c.allows('{"c": "gr') and not c.allows('{"c": "bl')
    free = json_object_constraint()
    assert free.complete('{"a": [1, "x"], "b": {"c": null}}') and not free.allows("[")
    tool = tool_call_constraint(
        [
            {
                "function": {
                    "name": "f",
                    "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}},
                }
            }
        ]
    )
    assert tool.complete('{"name": "f", "arguments": {"x": 2}}')
    assert not tool.allows('{"name": "g"')
