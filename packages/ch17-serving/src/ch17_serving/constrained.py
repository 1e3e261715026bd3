"""JSON-schema constrained decoding: a schema becomes a regular expression, decoding keeps a prefix.

The idea of Outlines (Willard & Louf, 2023, "Efficient Guided Generation for LLMs"): the strings a
(bounded) JSON schema accepts form a regular language, so the schema compiles to a regex, and at
every decoding step only tokens that keep the generated text a *prefix* of some match are allowed.
Outlines precompiles the regex into a token-level automaton; here each candidate token is checked
with the ``regex`` module's partial matching (``fullmatch(text, partial=True)``), which is slower
but fits in one screen and is exact for any regex.

Bounds keep the language regular and the output finite: strings default to at most
``DEFAULT_MAX_STRING`` characters, arrays to ``DEFAULT_MAX_ITEMS`` items, free-form objects
(``response_format={"type": "json_object"}``) to two levels of nesting. Every property of an object
is emitted, in schema order, which satisfies ``required`` and is what OpenAI's strict mode does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import regex

from llmpath_core import UserError

DEFAULT_MAX_STRING = 24
DEFAULT_MAX_ITEMS = 3
_WS = " ?"  # one optional space after ':' and ',' (byte-level BPE tokens often start with one)
_STRING_CHAR = r'(?:[^"\\\x00-\x1f]|\\["\\/bfnrt])'
_INTEGER = r"-?(?:0|[1-9][0-9]{0,9})"
_NUMBER = _INTEGER + r"(?:\.[0-9]{1,6})?(?:[eE][+-]?[0-9]{1,3})?"


def _literal(value: Any) -> str:
    return regex.escape(json.dumps(value))


def _string(schema: dict) -> str:
    low = int(schema.get("minLength", 0))
    high = int(schema.get("maxLength", max(low, DEFAULT_MAX_STRING)))
    if low > high:
        raise UserError(f"schema string has minLength {low} > maxLength {high}")
    return f'"{_STRING_CHAR}{{{low},{high}}}"'


def _free_value(depth: int) -> str:
    """Any JSON value, nested at most ``depth`` more levels."""
    scalars = [_string({}), _NUMBER, "true", "false", "null"]
    if depth > 0:
        inner = _free_value(depth - 1)
        key = _string({})
        scalars.append(rf"\[(?:{inner}(?:,{_WS}{inner}){{0,{DEFAULT_MAX_ITEMS - 1}}})?\]")
        pair = f"{key}:{_WS}{inner}"
        scalars.append(rf"\{{(?:{pair}(?:,{_WS}{pair}){{0,{DEFAULT_MAX_ITEMS - 1}}})?\}}")
    return "(?:" + "|".join(scalars) + ")"


def schema_to_regex(schema: dict, *, root: dict | None = None, depth: int = 0) -> str:
    """The regex (``regex`` module syntax) of the JSON texts ``schema`` accepts, within the bounds.

    Supported: ``type`` (object, array, string, integer, number, boolean, null, or a list of
    them), ``properties``, ``items``, ``minItems``/``maxItems``, ``minLength``/``maxLength``,
    ``enum``, ``const``, ``anyOf``/``oneOf``, local ``$ref`` (``#/$defs/...``). An object with no
    ``properties`` accepts any JSON object (two levels deep).
    """
    root = schema if root is None else root
    if depth > 8:
        raise UserError("the JSON schema nests deeper than 8 levels (or is recursive)")
    if not isinstance(schema, dict):
        raise UserError("a JSON schema must be an object")
    if "$ref" in schema:
        ref = schema["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/"):
            raise UserError(f"only local $ref like '#/$defs/Name' are supported, not {ref!r}")
        target: Any = root
        for part in ref[2:].split("/"):
            if not isinstance(target, dict) or part not in target:
                raise UserError(f"$ref {ref!r} points at nothing in the schema")
            target = target[part]
        return schema_to_regex(target, root=root, depth=depth + 1)
    if "const" in schema:
        return _literal(schema["const"])
    if "enum" in schema:
        values = schema["enum"]
        if not isinstance(values, list) or not values:
            raise UserError("a schema 'enum' must be a non-empty list")
        return "(?:" + "|".join(_literal(v) for v in values) + ")"
    for key in ("anyOf", "oneOf"):
        if key in schema:
            parts = [schema_to_regex(s, root=root, depth=depth + 1) for s in schema[key]]
            return "(?:" + "|".join(parts) + ")"
    kind = schema.get("type")
    if isinstance(kind, list):
        parts = [schema_to_regex({**schema, "type": k}, root=root, depth=depth) for k in kind]
        return "(?:" + "|".join(parts) + ")"
    if kind == "object" or (kind is None and "properties" in schema):
        props = schema.get("properties")
        if not props:
            key, value = _string({}), _free_value(1)
            pair = f"{key}:{_WS}{value}"
            return rf"\{{(?:{pair}(?:,{_WS}{pair}){{0,{DEFAULT_MAX_ITEMS - 1}}})?\}}"
        fields = [
            _literal(name) + ":" + _WS + schema_to_regex(sub, root=root, depth=depth + 1)
            for name, sub in props.items()
        ]
        return r"\{" + ("," + _WS).join(fields) + r"\}"
    if kind == "array":
        item = schema_to_regex(schema.get("items", {}), root=root, depth=depth + 1)
        low = int(schema.get("minItems", 0))
        high = int(schema.get("maxItems", max(low, DEFAULT_MAX_ITEMS)))
        if high == 0:
            return r"\[\]"
        rest = f"(?:,{_WS}{item}){{{max(low - 1, 0)},{high - 1}}}"
        body = f"{item}{rest}"
        return rf"\[{body}\]" if low > 0 else rf"\[(?:{body})?\]"
    if kind == "string":
        return _string(schema)
    if kind == "integer":
        return _INTEGER
    if kind == "number":
        return _NUMBER
    if kind == "boolean":
        return "(?:true|false)"
    if kind == "null":
        return "null"
    if kind is None:
        return _free_value(1)
    raise UserError(f"unsupported JSON schema type {kind!r}")


@dataclass
class RegexConstraint:
    """The text generated so far must stay a prefix of a match of ``pattern``."""

    pattern: str

    def __post_init__(self) -> None:
        self._compiled = regex.compile(self.pattern)

    def allows(self, text: str) -> bool:
        """True if ``text`` can still be extended to a full match."""
        return self._compiled.fullmatch(text, partial=True) is not None

    def complete(self, text: str) -> bool:
        """True if ``text`` is a full match (generation may stop here)."""
        return self._compiled.fullmatch(text) is not None


def json_schema_constraint(schema: dict) -> RegexConstraint:
    """The constraint for ``response_format={"type": "json_schema", ...}``."""
    return RegexConstraint(schema_to_regex(schema))


def json_object_constraint() -> RegexConstraint:
    """The constraint for ``response_format={"type": "json_object"}``: any JSON object."""
    return RegexConstraint(schema_to_regex({"type": "object"}))


def tool_call_constraint(tools: list[dict]) -> RegexConstraint:
    """``{"name": "<one of the tools>", "arguments": {...its parameters...}}``."""
    options = []
    for tool in tools:
        fn = tool["function"]
        params = fn.get("parameters") or {"type": "object", "properties": {}}
        args = schema_to_regex(params) if params.get("properties") else r"\{\}"
        options.append(
            r"\{"
            + '"name":'
            + _WS
            + _literal(fn["name"])
            + ","
            + _WS
            + '"arguments":'
            + _WS
            + args
            + r"\}"
        )
    return RegexConstraint("(?:" + "|".join(options) + ")")


__all__ = [
    "DEFAULT_MAX_ITEMS",
    "DEFAULT_MAX_STRING",
    "RegexConstraint",
    "json_object_constraint",
    "json_schema_constraint",
    "schema_to_regex",
    "tool_call_constraint",
]
