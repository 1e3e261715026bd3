"""The check-calls contract: acceptable values, any order, types, defaults, clean errors."""

from __future__ import annotations

import json

import pytest

from ch19_agents.calls import check_calls, functions_by_name, load_cases, load_functions
from ch19_agents.cli import app
from llmpath_core import UserError
from llmpath_core.bench import run_json

WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "days": {"type": "integer", "default": 1},
            "unit": {"type": "string", "enum": ["c", "f"], "default": "c"},
            "temp": {"type": "number"},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["city"],
    },
}
LIGHT = {
    "name": "set_light",
    "description": "A light.",
    "parameters": {
        "type": "dict",  # BFCL's dialect
        "properties": {"room": {"type": "string"}, "on": {"type": "boolean"}},
        "required": ["room", "on"],
    },
}
FNS = functions_by_name([WEATHER, LIGHT])


def call(name, **args):
    return {"name": name, "arguments": args}


def check(pred, exp):
    return check_calls(FNS, pred, exp)[0]


def test_several_acceptable_values_and_string_normalisation():
    exp = [call("get_weather", city=["New York", "NYC"])]
    assert check([call("get_weather", city="nyc")], exp)
    assert check([call("get_weather", city="New-York")], exp)
    assert not check([call("get_weather", city="Boston")], exp)


def test_types_are_checked_against_the_schema():
    exp = [call("get_weather", city=["Oslo"], days=[3], temp=[2.5])]
    assert check([call("get_weather", city="Oslo", days=3, temp=2.5)], exp)
    assert not check([call("get_weather", city="Oslo", days="3", temp=2.5)], exp)
    assert not check([call("get_weather", city="Oslo", days=True, temp=2.5)], exp)
    assert not check([call("get_weather", city="Oslo", days=3.0, temp=2.5)], exp)
    # an int where a number is expected is fine (BFCL converts it)
    exp2 = [call("get_weather", city=["Oslo"], temp=[2.0])]
    assert check([call("get_weather", city="Oslo", temp=2)], exp2)


def test_missing_optional_argument_matches_its_default():
    # the default listed as acceptable, or BFCL's "" marker: leaving it out is fine
    assert check([call("get_weather", city="Oslo")], [call("get_weather", city=["Oslo"], days=[1])])
    assert check(
        [call("get_weather", city="Oslo")], [call("get_weather", city=["Oslo"], days=["", 3])]
    )
    # a non-default value is required when the reference does not allow leaving it out
    assert not check(
        [call("get_weather", city="Oslo")], [call("get_weather", city=["Oslo"], days=[3])]
    )
    # required parameters can never be left out
    assert not check(
        [call("set_light", room="hall")], [call("set_light", room=["hall"], on=[True])]
    )


def test_parallel_calls_match_in_any_order_and_count():
    exp = [call("set_light", room=["hall"], on=[True]), call("get_weather", city=["Oslo"])]
    pred = [call("get_weather", city="Oslo"), call("set_light", room="hall", on=True)]
    assert check(pred, exp)
    assert not check(pred[:1], exp)
    assert not check(pred + pred[:1], exp)
    # irrelevance: no call expected
    assert check([], [])
    assert not check(pred[:1], [])


def test_greedy_vs_optimal_matching():
    # first reference accepts both predicted values; BFCL's greedy takes the first and fails
    exp = [call("get_weather", city=["Oslo", "Rome"]), call("get_weather", city=["Oslo"])]
    pred = [call("get_weather", city="Oslo"), call("get_weather", city="Rome")]
    assert check_calls(FNS, pred, exp, "bfcl")[0] is False
    assert check_calls(FNS, pred, exp, "optimal")[0] is True


def test_array_values_and_json_string_arguments():
    exp = [call("get_weather", city=["Oslo"], tags=[["a", "b"], ""])]
    assert check([call("get_weather", city="Oslo", tags=["A", "b"])], exp)
    assert check([call("get_weather", city="Oslo")], exp)
    assert not check([call("get_weather", city="Oslo", tags=["b", "a"])], exp)
    assert not check([call("get_weather", city="Oslo", tags=[1])], exp)
    # a flat list for an array parameter is one acceptable value
    assert check(
        [call("get_weather", city="Oslo", tags=["x"])],
        [call("get_weather", city=["Oslo"], tags=["x"])],
    )
    pred = [{"name": "get_weather", "arguments": json.dumps({"city": "Oslo"})}]
    assert check(pred, [call("get_weather", city=["Oslo"])])
    assert not check(
        [{"name": "get_weather", "arguments": "{oops"}], [call("get_weather", city=["Oslo"])]
    )


def _write(tmp_path, functions, lines):
    f = tmp_path / "f.json"
    c = tmp_path / "c.jsonl"
    f.write_text(json.dumps(functions))
    c.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return f, c


def test_cli_contract(tmp_path):
    f, c = _write(
        tmp_path,
        [WEATHER, LIGHT],
        [
            {
                "id": "a",
                "predicted": [call("get_weather", city="Oslo")],
                "expected": [call("get_weather", city=["Oslo"], days=["", 1])],
            },
            {
                "id": "b",
                "predicted": [call("set_light", room="hall", on="yes")],
                "expected": [call("set_light", room=["hall"], on=[True])],
            },
        ],
    )
    result, _ = run_json(app, ["check-calls", "--functions", str(f), "--cases", str(c)])
    assert result["accuracy"] == 0.5
    assert [(r["id"], r["match"]) for r in result["results"]] == [("a", True), ("b", False)]
    assert "type" in result["results"][1]["reason"].lower()


def test_invalid_schema_and_malformed_lines_are_user_errors(tmp_path):
    bad = {**WEATHER, "parameters": {"type": "object", "properties": {"x": {"type": "strng"}}}}
    f, c = _write(tmp_path, [bad], [{"id": "a", "predicted": [], "expected": []}])
    with pytest.raises(UserError, match="not valid JSON Schema"):
        load_functions(f)
    f, c = _write(
        tmp_path,
        [WEATHER],
        [
            {"id": "a", "predicted": [], "expected": []},
            "{not json",
        ],
    )
    with pytest.raises(UserError, match="line 2"):
        load_cases(c)
    f, c = _write(tmp_path, [WEATHER], [{"id": "a", "predicted": []}])
    with pytest.raises(UserError, match="line 1: missing key 'expected'"):
        load_cases(c)


def test_cli_exit_codes(cli, tmp_path):
    f, c = _write(tmp_path, [WEATHER], [{"id": "a", "predicted": [], "expected": []}, "[1,"])
    proc = cli("check-calls", "--functions", str(f), "--cases", str(c), "--json")
    assert proc.returncode == 2
    assert "line 2" in proc.stderr and "Traceback" not in proc.stderr
    assert "line 2" in json.loads(proc.stdout)["error"]
    proc = cli("check-calls", "--json")  # the bundled example
    assert proc.returncode == 0
    out = json.loads(proc.stdout)
    assert 0 < out["accuracy"] < 1 and len(out["results"]) == 20
