"""`llmpath path`'s engine on stub stages: skip, resume, --from, a failing stage, input changes.

The stub stages are real subprocesses (`python -c ...`) that print a JSON result and write files,
so the command runner, the logs, the records and the atomic artefacts are the real ones.
"""

import json
import subprocess
import sys

import pytest

from llmpath.path import Pipeline, Stage, StageFailed, hash_tree
from llmpath_core.errors import UserError

WRITE = (
    "import json, pathlib, sys; out = pathlib.Path(sys.argv[1]); "
    "src = sys.argv[2]; text = pathlib.Path(src).read_text() if src != '-' else 'seed'; "
    "(out / 'a.txt').write_text(text + '+' + sys.argv[3]); "
    "print('working', file=sys.stderr); "
    "print(json.dumps({'chars': len(text) + 1 + len(sys.argv[3])}))"
)
FAIL = "import sys; print('boom: the stub fails on purpose', file=sys.stderr); sys.exit(3)"


def stub_stages(calls, fail_at=None, tag="x"):
    """Three chained stages; each appends its name to ``calls`` when it really runs."""

    def make(name, source):
        def run(ctx):
            calls.append(name)
            if name == fail_at:
                ctx.run_json([sys.executable, "-c", FAIL])
            src = str(ctx.inputs[source] / "a.txt") if source else "-"
            result = ctx.run_json([sys.executable, "-c", WRITE, ctx.out, src, name + tag])
            return {**result, "headline": f"{result['chars']} chars"}

        return run

    return [
        Stage("one", make("one", None), params={"tag": tag}),
        Stage("two", make("two", "one"), inputs=["one"]),
        Stage("three", make("three", "two"), inputs=["two"]),
    ]


def test_runs_then_skips_finished_stages(tmp_path):
    calls, lines = [], []
    records = Pipeline(tmp_path, stub_stages(calls), progress=lines.append).run()
    assert calls == ["one", "two", "three"]
    assert (tmp_path / "three" / "a.txt").read_text() == "seed+onex+twox+threex"
    assert [r["result"]["chars"] for r in records] == [9, 14, 21]
    rec = json.loads((tmp_path / "records" / "two.json").read_text())
    assert rec["inputs"] == {"one": hash_tree(tmp_path / "one")}
    assert rec["artefact_sha256"] == hash_tree(tmp_path / "two")
    assert rec["wall_s"] > 0 and rec["peak_rss_mb"] > 1  # a Python process is several MB
    assert "working" in (tmp_path / "logs" / "two.log").read_text()
    assert any("[2/3] two: 14 chars" in line for line in lines)

    calls.clear()
    lines.clear()
    Pipeline(tmp_path, stub_stages(calls), progress=lines.append).run()
    assert calls == []
    assert sum("skipped" in line for line in lines) == 3


def test_from_stage_reruns_it_and_later_ones(tmp_path):
    calls = []
    Pipeline(tmp_path, stub_stages(calls), progress=lambda _: None).run()
    calls.clear()
    Pipeline(tmp_path, stub_stages(calls), progress=lambda _: None).run(from_stage="two")
    assert calls == ["two", "three"]
    with pytest.raises(UserError, match="no such stage"):
        Pipeline(tmp_path, stub_stages(calls)).run(from_stage="nope")


def test_changed_params_rerun_the_stage_and_its_dependents(tmp_path):
    calls = []
    Pipeline(tmp_path, stub_stages(calls), progress=lambda _: None).run()
    calls.clear()
    Pipeline(tmp_path, stub_stages(calls, tag="y"), progress=lambda _: None).run()
    assert calls == ["one", "two", "three"]  # one's params changed, so its artefact did too
    assert (tmp_path / "three" / "a.txt").read_text() == "seed+oney+twoy+threey"


def test_a_tampered_artefact_is_rebuilt(tmp_path):
    calls = []
    Pipeline(tmp_path, stub_stages(calls), progress=lambda _: None).run()
    (tmp_path / "two" / "a.txt").write_text("tampered")
    calls.clear()
    Pipeline(tmp_path, stub_stages(calls), progress=lambda _: None).run()
    # two is rebuilt; it comes out as before, so three's inputs are unchanged: content, not time
    assert calls == ["two"]
    assert (tmp_path / "two" / "a.txt").read_text() == "seed+onex+twox"


def test_failure_names_stage_and_log_keeps_earlier_artefacts_then_resumes(tmp_path):
    calls = []
    Pipeline(tmp_path, stub_stages(calls), progress=lambda _: None).run()
    good_two = (tmp_path / "two" / "a.txt").read_text()
    calls.clear()
    with pytest.raises(StageFailed) as info:
        Pipeline(tmp_path, stub_stages(calls, fail_at="two"), progress=lambda _: None).run(
            from_stage="two"
        )
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("stage two failed")
    assert str(tmp_path / "logs" / "two.log") in message
    assert "boom" in (tmp_path / "logs" / "two.log").read_text()
    assert (tmp_path / "one" / "a.txt").read_text() == "seed+onex"  # untouched
    assert (tmp_path / "two" / "a.txt").read_text() == good_two  # the old artefact survives
    assert not list(tmp_path.glob(".two.*"))  # no half-written temp folder left
    calls.clear()
    Pipeline(tmp_path, stub_stages(calls), progress=lambda _: None).run()
    assert calls == []  # two's key is unchanged and its old artefact intact


def test_cli_failure_is_one_line_and_exit_2(tmp_path):
    """`llmpath path --stub-fail`: the real CLI, a stage that fails → one line, exit code 2."""
    out = tmp_path / "p"
    proc = subprocess.run(
        [sys.executable, "-m", "llmpath.cli", "path", "--preset", "stub", "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
        env={**__import__("os").environ, "LLMPATH_PATH_STUB_FAIL": "two"},
    )
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert "stage two failed" in last and "two.log" in last
    assert "Traceback" not in proc.stderr
    assert (out / "one").is_dir() and not (out / "two").exists()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "llmpath.cli",
            "path",
            "--preset",
            "stub",
            "--out",
            str(out),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert [s["stage"] for s in result["stages"]] == ["one", "two", "three"]
    assert result["stages"][0]["skipped"] is True and result["stages"][1]["skipped"] is False
    assert (out / "report.md").is_file() and (out / "report.json").is_file()
