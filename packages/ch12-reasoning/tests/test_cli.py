"""The console script: the contract's JSON shapes, the demo, bad input → one line and exit 2."""

from __future__ import annotations

import json

from ch12_reasoning import problems as P
from ch12_reasoning.cli import app
from llmpath_core.bench import run_captured, run_json


def test_game24_contract_shape_and_checked_solutions():
    result, _ = run_json(
        app,
        [
            "game24",
            "--method",
            "cot",
            "--numbers",
            "4 7 8 8",
            "--numbers",
            "1,2,3,4",
            "--budget",
            "3",
        ],
    )
    assert set(result) >= {"solved", "total", "model_calls", "results"}
    assert result["total"] == 2 and 2 <= result["model_calls"] <= 6
    assert [r["numbers"] for r in result["results"]] == [[4, 7, 8, 8], [1, 2, 3, 4]]
    assert result["solved"] == sum(r["solution"] is not None for r in result["results"])
    for r in result["results"]:
        assert r["solution"] is None or P.check24(r["numbers"], r["solution"])


def test_solve_contract_shape():
    result, _ = run_json(
        app, ["solve", "--method", "self-consistency", "--n", "3", "--limit", "12"]
    )
    assert {"accuracy", "tokens"} <= set(result)
    assert 0.0 <= result["accuracy"] <= 1.0
    assert result["n"] == 3 and result["model_calls"] == 36


def test_demo_reports_showed_and_headline_strings():
    result, _ = run_json(app, ["demo", "--problems", "8", "--puzzles", "1"])
    assert isinstance(result["showed"], str) and isinstance(result["headline"], str)
    assert set(result["curves"]) >= {"cot", "self-consistency", "prm-best-of-n"}


def test_bad_input_gets_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "2**3"}\n')
    for argv in (
        ["game24", "--numbers", "1 2 3"],
        ["game24", "--numbers", "1 2 x 4"],
        ["game24", "--budget", "0", "--numbers", "4 7 8 8"],
        ["solve", "--problems", str(bad)],
        ["solve", "--n", "0"],
    ):
        code, stdout, stderr = run_captured(app, [*argv, "--json"])
        assert code == 2, argv
        assert json.loads(stdout)["error"]
        assert stderr.strip().count("\n") == 0 and stderr.startswith("error:"), stderr


def test_console_script_exit_code_in_a_subprocess(cli):
    proc = cli("game24", "--method", "tot", "--budget", "0")
    assert proc.returncode == 2
    assert "budget" in proc.stderr and "Traceback" not in proc.stderr
