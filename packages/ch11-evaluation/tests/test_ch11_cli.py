"""The console script: the contract's JSON, exit code 2 with one line on bad input."""

from __future__ import annotations

import json

import pytest

from ch11_evaluation.harness import score_multiple_choice
from ch11_evaluation.tasks import load_task
from llmpath_core.cli import run_app

MC_LINES = [
    {
        "question": "Nora's favourite colour was pink. What was Nora's favourite colour?",
        "choices": ["blue", "pink", "green"],
        "answer": 1,
    },
    {
        "question": "It was a rainy day. What was the weather like?",
        "choices": ["rainy", "sunny"],
        "answer": 0,
    },
    {
        "question": "Tom saw a duck in the garden. What did Tom see?",
        "choices": ["a duck", "a fox", "an owl", "a lamb"],
        "answer": 0,
    },
]


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _app():
    from ch11_evaluation.cli import app

    return app


def _run(args, capsys):
    with pytest.raises(SystemExit) as info:
        run_app(_app(), args)
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


def test_run_contract(tmp_path, default_lm, capsys):
    from llmpath_core import default_model_path

    task = _write(tmp_path / "q.jsonl", MC_LINES)
    code, stdout, err = _run(
        ["run", "--model", str(default_model_path()), "--task", f"mc:{task}", "--json"], capsys
    )
    assert code == 0, err
    out = json.loads(stdout)
    assert {"acc", "acc_norm", "acc_stderr", "n"} <= set(out) and out["n"] == 3
    ours = score_multiple_choice(default_lm, load_task(f"mc:{task}").items)
    assert out["acc"] == ours.acc and out["acc_norm"] == ours.acc_norm
    assert out["acc_stderr"] == pytest.approx(ours.acc_stderr)
    for got, want in zip(out["items"], ours.per_item, strict=True):
        assert got["loglikelihoods"] == pytest.approx(want["loglikelihoods"], abs=1e-6)


def test_code_contract_and_bad_input_in_a_real_process(cli, tmp_path):
    rows = [
        {
            "task_id": "t/0",
            "prompt": "def f(x):\n",
            "completion": "    return 2 * x\n",
            "test": "def check(g):\n    assert g(2) == 4\n",
            "entry_point": "f",
        }
    ]
    r = cli("code", "--samples", str(_write(tmp_path / "s.jsonl", rows)), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["pass_at_1"] == 1.0 and out["results"][0]["passed"] is True
    bad = _write(tmp_path / "bad.jsonl", [{k: v for k, v in rows[0].items() if k != "test"}])
    r = cli("code", "--samples", str(bad), "--json")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [f"error: {bad}:1: missing field 'test'"]
    assert json.loads(r.stdout) == {"error": f"{bad}:1: missing field 'test'"}


def test_code_contract_with_a_hanging_sample(tmp_path, capsys):
    base = {
        "task_id": "t/0",
        "prompt": "def f(x):\n",
        "test": "def check(g):\n    assert g(2) == 4\n",
        "entry_point": "f",
    }
    rows = [
        {**base, "completion": "    return 2 * x\n"},
        {**base, "completion": "    while True:\n        pass\n"},
        {**base, "task_id": "t/1", "completion": "    return x + 3\n"},
    ]
    path = _write(tmp_path / "s.jsonl", rows)
    code, out, _ = _run(["code", "--samples", str(path), "--timeout", "1.5", "--json"], capsys)
    assert code == 0
    result = json.loads(out)
    assert [r["passed"] for r in result["results"]] == [True, False, False]
    assert "timed out" in result["results"][1]["reason"]
    assert all({"task_id", "passed", "reason"} <= set(r) for r in result["results"])
    assert result["pass_at_1"] == pytest.approx((0.5 + 0.0) / 2)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            [MC_LINES[0], {"question": "q", "choices": ["a", "b"]}],
            "q.jsonl:2: missing field 'answer'",
        ),
        (
            [MC_LINES[0], MC_LINES[1], {**MC_LINES[2], "answer": 4}],
            "q.jsonl:3: 'answer' index 4 is out of range for 4 choices",
        ),
        (
            [{"question": "q", "choices": "ab", "answer": 0}],
            "q.jsonl:1: field 'choices' must be list",
        ),
    ],
)
def test_bad_task_file_is_one_line_naming_the_line(rows, message, tmp_path, capsys):
    task = _write(tmp_path / "q.jsonl", rows)
    code, out, err = _run(["run", "--task", f"mc:{task}", "--json"], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    assert json.loads(out) == {"error": lines[0].removeprefix("error: ")}


def test_model_folder_without_tokenizer_is_refused(tmp_path, capsys):
    import shutil

    from llmpath_core import default_model_path

    folder = tmp_path / "no-tok"
    folder.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(default_model_path() / name, folder / name)
    code, _, err = _run(["run", "--model", str(folder), "--task", "mmlu"], capsys)
    assert code == 2
    assert err.strip().splitlines() == [
        f"error: {folder} has no tokenizer (tokenizer.json or "
        "tokenizer.model): save the tokenizer into the model "
        "folder with tokenizer.save_pretrained(...)"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--task", "nope"], "bad task 'nope'"),
        (["run", "--task", "xyz:a.jsonl"], "unknown task kind 'xyz'"),
        (["run", "--task", "mc:{tmp}/missing.jsonl"], "task file not found"),
        (["code", "--samples", "{tmp}/missing.jsonl"], "task file not found"),
        (["code", "--timeout", "0"], "limits must be positive"),
    ],
)
def test_bad_options_exit_2(args, message, tmp_path, capsys):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    code, _, err = _run(args, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, err


def test_code_sample_with_missing_field_names_the_line(tmp_path, capsys):
    path = _write(
        tmp_path / "s.jsonl", [{"task_id": "t", "prompt": "", "completion": "", "entry_point": "f"}]
    )
    code, _, err = _run(["code", "--samples", str(path)], capsys)
    assert code == 2 and "s.jsonl:1: missing field 'test'" in err


def test_annotate_export_and_dashboard_commands(tmp_path, capsys):
    from ch11_evaluation.annotate import AnnotationDB
    from ch11_evaluation.store import ResultsStore

    db = tmp_path / "a.sqlite"
    code, out, _ = _run(["annotate", "--db", str(db), "--export", "--json"], capsys)
    assert code == 0 and json.loads(out)["items"] == 12
    AnnotationDB(db).record("ann", "pair-0", "B")
    code, out, _ = _run(["annotate", "--db", str(db), "--export", "--json"], capsys)
    assert [j["choice"] for j in json.loads(out)["judgments"]] == ["B"]
    store = tmp_path / "runs.sqlite"
    ResultsStore(store).append({"task": "mmlu", "acc": 0.3, "acc_stderr": 0.05, "n": 40})
    html_path = tmp_path / "dash.html"
    code, out, _ = _run(
        ["dashboard", "--store", str(store), "--out", str(html_path), "--json"], capsys
    )
    assert code == 0 and json.loads(out) == {"dashboard": str(html_path), "rows": 1}
    code, _, err = _run(["dashboard", "--store", str(tmp_path / "none.sqlite")], capsys)
    assert code == 2 and "results store not found" in err
