"""Score predicted function calls against references with BFCL's AST rules.

The Berkeley Function-Calling Leaderboard (BFCL) does not execute calls: it compares the call a
model wrote with a list of acceptable answers, argument by argument. Its rules, which this module
follows (and ``tests/test_ch19_vs_bfcl.py`` checks case for case against ``bfcl-eval``):

- the function name must match exactly;
- every *required* parameter must be present, and no parameter outside the schema may appear;
- each value's **type** is checked against the schema (``integer`` is ``int`` but not ``bool``,
  ``number``/``float`` accepts an ``int``, ``array`` items are checked one level deep);
- the reference lists **several acceptable values** per parameter; strings are compared after
  removing spaces and ``,./-_*^`` and lower-casing ("April 1, 2024" == "april 1 2024"), lists
  element-wise the same way, dicts key by key;
- an optional parameter the model left out matches if the reference lists ``""`` among its
  acceptable values (BFCL's marker) or lists the schema's ``default``;
- **parallel** calls match in any order (each reference call takes the first unused predicted call
  that satisfies it, as BFCL does; ``matching="optimal"`` finds a full matching when one exists);
- an empty reference list means "no call should be made" (BFCL's *irrelevance* category).

Schemas are JSON Schema, as BFCL writes them: BFCL's own type names ``dict``, ``float``,
``tuple`` and ``any`` are accepted and mapped to ``object``, ``number``, ``array`` and no type
before the schema is validated (Draft 2020-12) with ``jsonschema``.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from llmpath_core import UserError

# BFCL type names -> JSON Schema type names
BFCL_TYPES = {"dict": "object", "float": "number", "tuple": "array", "any": None}
PY_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "array": list,
    "object": dict,
    "null": type(None),
}
OPTIONAL = ""  # BFCL's marker: "leaving this parameter out is fine"


@dataclass
class CallResult:
    """One case's verdict: ``match`` and, when it failed, the first rule it broke."""

    id: str
    match: bool
    reason: str
    category: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if d["category"] is None:
            d.pop("category")
        return d


# --------------------------------------------------------------------------- schemas


def to_json_schema(schema: Any) -> Any:
    """A copy of ``schema`` with BFCL's type names (dict, float, tuple, any) made JSON Schema."""
    if isinstance(schema, list):
        return [to_json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, str) and value in BFCL_TYPES:
            if BFCL_TYPES[value] is not None:
                out[key] = BFCL_TYPES[value]
        elif key == "type" and isinstance(value, list):
            out[key] = [BFCL_TYPES.get(v, v) if isinstance(v, str) else v for v in value]
            out[key] = [v for v in out[key] if v is not None] or value
        elif key in ("properties", "$defs", "definitions", "patternProperties") and isinstance(
            value, dict
        ):
            out[key] = {k: to_json_schema(v) for k, v in value.items()}
        else:
            out[key] = to_json_schema(value)
    return out


def validate_function(fn: Any, where: str = "function") -> dict[str, Any]:
    """Check one ``{"name", "description", "parameters"}`` entry; return it with a JSON Schema.

    Raises :class:`UserError` naming ``where`` if it is not an object with a string ``name`` and a
    ``parameters`` object that is valid JSON Schema (Draft 2020-12).
    """
    import jsonschema

    if not isinstance(fn, dict):
        raise UserError(f"{where}: expected an object with name, description and parameters")
    name = fn.get("name")
    if not isinstance(name, str) or not name:
        raise UserError(f"{where}: 'name' must be a non-empty string")
    params = fn.get("parameters", {"type": "object", "properties": {}})
    if not isinstance(params, dict):
        raise UserError(f"{where} ({name}): 'parameters' must be a JSON Schema object")
    schema = to_json_schema(params)
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        path = "/".join(str(p) for p in exc.path) or "(root)"
        raise UserError(
            f"{where} ({name}): parameters are not valid JSON Schema at {path}: "
            f"{exc.message.splitlines()[0]}"
        ) from None
    if schema.get("type", "object") != "object":
        raise UserError(f"{where} ({name}): parameters must have type 'object'")
    props = schema.get("properties", {})
    for req in schema.get("required", []):
        if req not in props:
            raise UserError(f"{where} ({name}): required parameter {req!r} is not in properties")
    return {
        "name": name,
        "description": fn.get("description", ""),
        "parameters": params,
        "schema": schema,
    }


def load_functions(path: str | Path) -> dict[str, dict[str, Any]]:
    """Read a JSON array of function descriptions (BFCL's format), validated, by name."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise UserError(f"{path}: expected a JSON array of function descriptions")
    return functions_by_name(data, where=str(path))


def functions_by_name(data: Sequence[Any], where: str = "functions") -> dict[str, dict]:
    """Validate a list of function descriptions and index them by name."""
    out: dict[str, dict] = {}
    for i, fn in enumerate(data):
        checked = validate_function(fn, f"{where}[{i}]")
        out[checked["name"]] = checked
    return out


# --------------------------------------------------------------------------- cases


def _check_call_shape(call: Any, where: str) -> dict[str, Any]:
    if not isinstance(call, dict) or not isinstance(call.get("name"), str):
        raise UserError(f"{where}: each call must be an object with a string 'name'")
    args = call.get("arguments", {})
    if args is None:
        args = {}
    if not isinstance(args, (dict, str)):
        raise UserError(f"{where}: 'arguments' must be an object (or a JSON string)")
    return {"name": call["name"], "arguments": args}


def parse_case(line: str, lineno: int, where: str = "cases") -> dict[str, Any]:
    """One JSONL line ``{"id", "predicted": [calls], "expected": [calls]}``, checked."""
    tag = f"{where} line {lineno}"
    try:
        case = json.loads(line)
    except json.JSONDecodeError as exc:
        raise UserError(f"{tag}: not valid JSON ({exc.msg})") from None
    if not isinstance(case, dict):
        raise UserError(f"{tag}: expected a JSON object with id, predicted and expected")
    for key in ("id", "predicted", "expected"):
        if key not in case:
            raise UserError(f"{tag}: missing key {key!r}")
    for key in ("predicted", "expected"):
        if not isinstance(case[key], list):
            raise UserError(f"{tag}: {key!r} must be a list of calls")
    predicted = [_check_call_shape(c, f"{tag}: predicted") for c in case["predicted"]]
    expected = [_check_call_shape(c, f"{tag}: expected") for c in case["expected"]]
    for call in expected:
        if not isinstance(call["arguments"], dict):
            raise UserError(f"{tag}: expected arguments must be an object")
    out = {"id": str(case["id"]), "predicted": predicted, "expected": expected}
    if isinstance(case.get("category"), str):
        out["category"] = case["category"]
    if "functions" in case:
        if not isinstance(case["functions"], list):
            raise UserError(f"{tag}: 'functions' must be a list of function descriptions")
        out["functions"] = functions_by_name(case["functions"], where=f"{tag}: functions")
    return out


def load_cases(path: str | Path) -> list[dict[str, Any]]:
    """Read a JSONL cases file; a malformed line raises :class:`UserError` naming the line."""
    path = Path(path)
    cases = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if line.strip():
                case = parse_case(line, lineno, where=str(path))
                case["line"] = lineno
                cases.append(case)
    if not cases:
        raise UserError(f"{path}: no cases (expected one JSON object per line)")
    return cases


# --------------------------------------------------------------------------- comparing values


def standardize_string(text: str) -> str:
    """BFCL's string normal form: no spaces or ``,./-_*^``, lower case, ``'`` as ``"``."""
    return re.sub(r"[ \,\.\/\-\_\*\^]", "", text).lower().replace("'", '"')


def _types_of(schema: Mapping[str, Any]) -> list[str]:
    t = schema.get("type")
    if t is None:
        return []
    return [t] if isinstance(t, str) else list(t)


def _type_name(value: Any) -> str:
    return {str: "string", bool: "boolean", int: "integer", float: "number"}.get(
        type(value), {list: "array", dict: "object", type(None): "null"}.get(type(value), "?")
    )


def _is_type(value: Any, json_type: str) -> bool:
    py = PY_TYPES.get(json_type)
    if py is None:
        return True
    if json_type == "number":
        return type(value) in (int, float)
    return type(value) is py


def acceptable_values(value: Any, schema: Mapping[str, Any]) -> list[Any]:
    """The reference's value for one parameter as a list of acceptable values.

    BFCL always writes a list (``["NYC", "New York"]``; ``[[1, 2]]`` for an array). A bare
    scalar or object is one acceptable value; for an ``array`` parameter a flat list whose items
    are not lists (and not the ``""`` marker) is one acceptable value too.
    """
    types = _types_of(schema)
    if isinstance(value, list):
        if "array" in types and (
            not value or not all(isinstance(v, list) or v == OPTIONAL for v in value)
        ):
            return [value]
        return value
    return [value]


def _dict_answers(values: list[Any]) -> list[Any]:
    out = []
    for v in values:
        if isinstance(v, dict):
            v = {k: (x if isinstance(x, list) else [x]) for k, x in v.items()}
        out.append(v)
    return out


def _check_dict(param: str, value: dict, answers: list[Any]) -> str | None:
    reason = f"Invalid value for parameter {param!r}: no acceptable dict matched."
    for answer in _dict_answers(answers):
        if answer == OPTIONAL or not isinstance(answer, dict):
            continue
        ok = True
        for key, item in value.items():
            if key not in answer:
                reason, ok = f"Unexpected dict key parameter: {key!r}.", False
                break
            std = standardize_string(item) if isinstance(item, str) else item
            choices = [standardize_string(a) if isinstance(a, str) else a for a in answer[key]]
            if std not in choices:
                reason, ok = f"Invalid value for dict key {key!r}: {item!r}.", False
                break
        if ok:
            for key, choices in answer.items():
                if key not in value and OPTIONAL not in choices:
                    reason, ok = f"Missing dict key parameter: {key!r}.", False
                    break
        if ok:
            return None
    return reason


def _check_list_of_dicts(param: str, value: list, answers: list[Any]) -> str | None:
    reason = f"Invalid value for parameter {param!r}: no acceptable list of dicts matched."
    for answer in answers:
        if not isinstance(answer, list):
            continue
        if len(answer) != len(value):
            reason = "Wrong number of dictionaries in the list."
            continue
        failure = None
        for item, expected in zip(value, answer, strict=True):
            failure = _check_dict(param, item, [expected])
            if failure:
                break
        if failure is None:
            return None
        reason = failure
    return reason


def _std_list(items: Iterable[Any]) -> list[Any]:
    return [standardize_string(x) if isinstance(x, str) else x for x in items]


def _check_items(param: str, value: list, schema: Mapping[str, Any], answers: list) -> str | None:
    """BFCL's one-level nested type check: items of the schema's item type (or the reference's)."""
    item_types = _types_of(schema.get("items", {}) or {})
    if not item_types:
        return None
    item_py = [PY_TYPES.get(t) for t in item_types]
    for answer in answers:
        if not isinstance(answer, list):
            return None  # BFCL: a non-list acceptable value (the '' marker) passes
        answer_type = next((type(a) for a in answer if a != OPTIONAL), None)
        if all(type(v) in item_py or type(v) is answer_type for v in value):
            return None
    return (
        f"Nested type checking failed for parameter {param!r}: expected items of type "
        f"{'/'.join(item_types)}."
    )


def check_value(
    param: str, value: Any, schema: Mapping[str, Any], answers: list[Any]
) -> str | None:
    """None if ``value`` is of the schema's type and among ``answers``; else the reason."""
    types = _types_of(schema)
    if "number" in types and type(value) is int:
        value = float(value)  # BFCL: an int is fine where a float is expected
    answer_types = {type(a) for a in answers if a != OPTIONAL}
    answer_type = next((type(a) for a in answers if a != OPTIONAL), None)
    expected_py = [PY_TYPES.get(t) for t in types]
    # BFCL's "variable" rule: if the reference's values are of another type than the schema's
    # (a variable name written as a string), a value of the reference's type is accepted as is.
    is_variable = answer_type is not None and types and answer_type not in expected_py
    type_ok = not types or any(_is_type(value, t) for t in types)
    if type_ok and "array" in types and isinstance(value, list):
        reason = _check_items(param, value, schema, answers)
        if reason:
            return reason
    if not type_ok:
        if answer_type is not None and type(value) in answer_types:
            is_variable = True
        else:
            return (
                f"Incorrect type for parameter {param!r}: expected {'/'.join(types)}, got "
                f"{_type_name(value)} ({value!r})."
            )
    if not is_variable:
        if isinstance(value, dict) and "object" in types:
            return _check_dict(param, value, answers)
        if isinstance(value, list) and "array" in types:
            item_types = _types_of(schema.get("items", {}) or {})
            if "object" in item_types:
                return _check_list_of_dicts(param, value, answers)
            lists = [_std_list(a) for a in answers if isinstance(a, list)]
            if _std_list(value) in lists:
                return None
            return f"Invalid value for parameter {param!r}: {value!r}. Expected one of {answers}."
        if isinstance(value, str):
            if standardize_string(value) in [
                standardize_string(a) for a in answers if isinstance(a, str)
            ]:
                return None
            return (
                f"Invalid value for parameter {param!r}: {value!r}. Expected one of {answers} "
                "(case insensitive)."
            )
    if value in answers:
        return None
    return f"Invalid value for parameter {param!r}: {value!r}. Expected one of {answers}."


def _parse_arguments(args: Any) -> tuple[dict | None, str | None]:
    if isinstance(args, dict):
        return args, None
    try:
        parsed = json.loads(args)
    except (TypeError, json.JSONDecodeError):
        return None, "Arguments are not valid JSON."
    if not isinstance(parsed, dict):
        return None, "Arguments are not a JSON object."
    return parsed, None


def check_call(
    function: Mapping[str, Any], predicted: Mapping[str, Any], expected: Mapping[str, Any]
) -> str | None:
    """None if one predicted call satisfies one reference call of ``function``; else why not."""
    name = function["name"]
    if predicted.get("name") != name:
        return f"Function name {name!r} not found in model output (got {predicted.get('name')!r})."
    args, error = _parse_arguments(predicted.get("arguments", {}))
    if error:
        return error
    schema = function["schema"]
    props: dict[str, Any] = schema.get("properties", {})
    required = schema.get("required", [])
    ref = {
        p: acceptable_values(v, props.get(p, {})) for p, v in expected.get("arguments", {}).items()
    }
    for param in required:
        if param not in args:
            return f"Missing required parameter: {param!r}."
    for param, value in args.items():
        if param not in props:
            return f"Unexpected parameter: {param!r}."
        if param not in ref:
            if "default" in props[param] and value == props[param]["default"]:
                continue  # an optional argument given at its default value
            return f"Unexpected parameter: {param!r}."
        reason = check_value(param, value, props[param], ref[param])
        if reason:
            return reason
    for param, answers in ref.items():
        if param in args:
            continue
        default = props.get(param, {}).get("default", _MISSING)
        if OPTIONAL in answers or (default is not _MISSING and default in answers):
            continue
        return f"Optional parameter {param!r} not provided and not marked as optional."
    return None


_MISSING = object()


def _bipartite(ok: list[list[bool]]) -> bool:
    """True if every reference (row) can take a distinct predicted call (column)."""
    owner: dict[int, int] = {}

    def augment(row: int, seen: set[int]) -> bool:
        for col, good in enumerate(ok[row]):
            if good and col not in seen:
                seen.add(col)
                if col not in owner or augment(owner[col], seen):
                    owner[col] = row
                    return True
        return False

    return all(augment(r, set()) for r in range(len(ok)))


def check_calls(
    functions: Mapping[str, Mapping[str, Any]],
    predicted: Sequence[Mapping[str, Any]],
    expected: Sequence[Mapping[str, Any]],
    matching: str = "bfcl",
) -> tuple[bool, str]:
    """Compare a list of predicted calls with a list of reference calls, in any order.

    ``matching="bfcl"`` gives each reference call the first unused predicted call that satisfies
    it (BFCL's ``parallel_function_checker_no_order``); ``"optimal"`` accepts whenever a one-to-one
    assignment exists. An empty reference means no call should be made (irrelevance).
    """
    if matching not in ("bfcl", "optimal"):
        raise ValueError(f"unknown matching {matching!r}: use bfcl or optimal")
    if not expected:
        if predicted:
            return False, f"Expected no function call, got {len(predicted)}."
        return True, "ok"
    for call in expected:
        if call["name"] not in functions:
            raise UserError(f"reference call {call['name']!r} is not among the functions")
    if len(predicted) != len(expected):
        return False, f"Wrong number of functions: expected {len(expected)}, got {len(predicted)}."
    if matching == "optimal":
        reasons = [[check_call(functions[e["name"]], p, e) for p in predicted] for e in expected]
        if _bipartite([[r is None for r in row] for row in reasons]):
            return True, "ok"
        first = next((r for row in reasons for r in row if r), "no one-to-one match")
        return False, f"No one-to-one match of predicted and expected calls: {first}"
    used: set[int] = set()
    for i, ref in enumerate(expected):
        errors = []
        for j, call in enumerate(predicted):
            if j in used:
                continue
            reason = check_call(functions[ref["name"]], call, ref)
            if reason is None:
                used.add(j)
                break
            errors.append(reason)
        else:
            detail = errors[0] if errors else "all predicted calls already matched"
            if len(expected) == 1:
                return False, detail
            return False, f"No predicted call matches expected call {i} ({ref['name']}): {detail}"
    return True, "ok"


def score_cases(
    functions: Mapping[str, Mapping[str, Any]],
    cases: Sequence[Mapping[str, Any]],
    matching: str = "bfcl",
) -> dict[str, Any]:
    """``{"accuracy", "results": [{"id", "match", "reason"}...], "by_category"}`` for the cases."""
    results = []
    for case in cases:
        fns = case.get("functions", functions)
        ok, reason = check_calls(fns, case["predicted"], case["expected"], matching)
        results.append(CallResult(case["id"], ok, reason, case.get("category")))
    by_cat: dict[str, list[bool]] = {}
    for r in results:
        if r.category:
            by_cat.setdefault(r.category, []).append(r.match)
    out: dict[str, Any] = {
        "accuracy": sum(r.match for r in results) / len(results) if results else 0.0,
        "n": len(results),
        "results": [r.to_dict() for r in results],
    }
    if by_cat:
        out["by_category"] = {c: sum(v) / len(v) for c, v in sorted(by_cat.items())}
    return out


def check_files(functions_path: str | Path, cases_path: str | Path, matching: str = "bfcl"):
    """Load a functions file and a cases file and score them (the ``check-calls`` command)."""
    functions = load_functions(functions_path)
    cases = load_cases(cases_path)
    for case in cases:
        fns = case.get("functions", functions)
        for call in case["expected"]:
            if call["name"] not in fns:
                raise UserError(
                    f"{cases_path} line {case['line']}: expected call {call['name']!r} is not "
                    f"among the functions"
                )
    return score_cases(functions, copy.deepcopy(cases), matching)
