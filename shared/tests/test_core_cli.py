import json

import pytest
import typer

from llmpath_core.cli import Run, command, make_app, run_app
from llmpath_core.device import resolve_device
from llmpath_core.errors import UserError

app = make_app("example", "An example chapter CLI.")
calls: list[Run] = []


@command(app)
def work(run: Run, steps: int = typer.Option(3, help="steps")) -> dict:
    """Do some work."""
    calls.append(run)
    print("a stray print from a library")
    run.log("a log line")
    if steps < 0:
        raise UserError("steps must be >= 0\nsecond line never shown")
    if steps == 13:
        raise RuntimeError("a bug")
    return {"steps": steps, "device": str(run.device), "seed": run.seed}


@command(app, device=False, out=False)
def read(run: Run, path: str = typer.Argument(..., help="a file")) -> dict:
    """Read a file."""
    with open(path) as handle:
        return {"chars": len(handle.read())}


@command(app, device=False, out=False)
def partial(run: Run) -> dict:
    """Report a result but fail the exit code."""
    run.fail(3)
    return {"done": 1}


def invoke(capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        run_app(app, list(args))
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def test_json_prints_exactly_one_object_and_logs_go_to_stderr(capsys):
    code, out, err = invoke(capsys, "work", "--steps", "5", "--seed", "7", "--json")
    assert code == 0
    assert json.loads(out) == {"steps": 5, "device": str(resolve_device("auto")), "seed": 7}
    assert out.count("\n") == 1
    assert "a stray print from a library" in err and "a log line" in err


def test_human_output_is_a_table_on_stdout(capsys):
    code, out, _ = invoke(capsys, "work", "--device", "cpu")
    assert code == 0
    assert "steps" in out and "3" in out
    assert "a stray print from a library" in out  # not in --json mode, prints stay on stdout


def test_user_error_is_one_line_and_exit_2(capsys):
    code, _out, err = invoke(capsys, "work", "--steps", "-1")
    assert code == 2
    error_lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert error_lines == ["error: steps must be >= 0"]
    assert "Traceback" not in err


def test_user_error_under_json_gives_error_object(capsys):
    code, out, _ = invoke(capsys, "work", "--steps", "-1", "--json")
    assert code == 2
    assert json.loads(out) == {"error": "steps must be >= 0"}


def test_debug_shows_the_traceback(capsys):
    code, _, err = invoke(capsys, "work", "--steps", "-1", "--debug")
    assert code == 2
    assert "Traceback" in err and err.rstrip().endswith("error: steps must be >= 0")


def test_missing_file_is_a_user_error(capsys, tmp_path):
    code, _, err = invoke(capsys, "read", str(tmp_path / "nope.txt"))
    assert code == 2
    assert err.strip() == f"error: No such file or directory: {tmp_path / 'nope.txt'}"


def test_usage_errors_are_one_line_and_exit_2(capsys):
    code, out, err = invoke(capsys, "work", "--steps", "many")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ")
    code, _, err = invoke(capsys, "read")
    assert code == 2 and "Missing argument" in err


def test_impossible_device_is_a_user_error(capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code, _, err = invoke(capsys, "work", "--device", "cuda")
    assert code == 2 and "CUDA is not available" in err


def test_bugs_keep_their_traceback(capsys):
    with pytest.raises(RuntimeError, match="a bug"):
        run_app(app, ["work", "--steps", "13"])


def test_command_seeds_before_running(capsys):
    import torch

    invoke(capsys, "work", "--seed", "11")
    a = torch.rand(2)
    invoke(capsys, "work", "--seed", "11")
    b = torch.rand(2)
    assert torch.equal(a, b)


def test_fail_sets_exit_code_after_printing_result(capsys):
    code, out, _ = invoke(capsys, "partial", "--json")
    assert code == 3 and json.loads(out) == {"done": 1}


def test_no_arguments_prints_help(capsys):
    code, out, _ = invoke(capsys)
    assert code == 0 and "work" in out and "read" in out


def test_commands_without_a_device_do_not_import_torch(tmp_path):
    import subprocess
    import sys

    script = tmp_path / "fast.py"
    script.write_text(
        "import sys\n"
        "from llmpath_core.cli import Run, command, make_app, run_app\n"
        "app = make_app('fast', 'fast')\n"
        "@command(app, device=False, out=False)\n"
        "def hello(run: Run) -> dict:\n"
        "    return {'torch_imported': 'torch' in sys.modules}\n"
        "run_app(app)\n"
    )
    proc = subprocess.run(
        [sys.executable, str(script), "hello", "--json"], capture_output=True, text=True, check=True
    )
    assert json.loads(proc.stdout) == {"torch_imported": False}
