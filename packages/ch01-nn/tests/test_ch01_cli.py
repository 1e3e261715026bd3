"""The console script: the contract commands' JSON, and one-line exit-2 errors."""

from __future__ import annotations

import json

import pytest

from ch01_nn.cli import app
from llmpath_core.cli import run_app


def cli_in_process(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        run_app(app, list(args))
    out = capsys.readouterr()
    return exit_info.value.code, out.out, out.err


def test_gradcheck_contract_command(cli):
    """Checked as written: a subprocess of the real console script entry point."""
    proc = cli("gradcheck", "--layers", "7,13,5", "--activation", "gelu", "--loss",
               "cross-entropy", "--json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["max_rel_diff"] <= 1e-10 and result["max_abs_diff"] <= 1e-12
    assert [p["shape"] for p in result["parameters"]] == [[13, 7], [13], [5, 13], [5]]


def test_train_json_in_process(capsys, tmp_path):
    code, out, err = cli_in_process(
        capsys, "train", "--optimizer", "adamw", "--epochs", "4", "--out",
        str(tmp_path / "w.npz"), "--json",
    )  # fmt: skip
    assert code == 0, err
    result = json.loads(out)
    assert {"test_accuracy", "train_loss", "epochs"} <= set(result)
    assert result["epochs"] == 4 and result["test_accuracy"] > 0.9
    assert (tmp_path / "w.npz").is_file()


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--optimizer", "adagrad"], "unknown optimizer"),
        (["train", "--layers", "64,32,7"], "do not chain"),
        (
            ["train", "--optimizer", "sgd", "--lr", "1e30", "--epochs", "1", "--schedule", "none"],
            "non-finite",
        ),
        (["gradcheck", "--layers", "7"], "at least two"),
        (["gradcheck", "--layers", "7,x,5"], "comma-separated"),
        (["gradcheck", "--activation", "swish"], "unknown activation"),
        (["optimizers", "--surfaces", "himmelblau"], "unknown surface"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, args, message):
    code, out, err = cli_in_process(capsys, *args, "--json")
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert "error" in json.loads(out)


def test_corrupt_idx_exits_2(capsys, tmp_path):
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03garbage")
    code, _, err = cli_in_process(capsys, "train", "--data", str(tmp_path), "--json")
    assert code == 2 and "corrupt IDX file" in err


@pytest.mark.slow
def test_demo_reports_showed_and_headline(capsys, tmp_path, monkeypatch):
    """The demo's shape on a shortened run (the full demo is the README's recorded output)."""
    import ch01_nn.labs as labs

    real_train, real_opt, real_reg = labs.train_lab, labs.optimizers_lab, labs.regularization_lab
    monkeypatch.setattr(labs, "train_lab", lambda **kw: real_train(epochs=2, **kw))
    monkeypatch.setattr(labs, "optimizers_lab",
        lambda out, **kw: real_opt(out, **{**kw, "steps": 100, "gif": False}))  # fmt: skip
    monkeypatch.setattr(labs, "regularization_lab",
        lambda data, out, **kw: real_reg(data, out, **{**kw, "epochs": 3}))  # fmt: skip
    code, out, err = cli_in_process(capsys, "demo", "--out", str(tmp_path), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["showed"] and result["headline"].startswith("digits test accuracy")
    assert result["gradcheck"]["max_rel_diff"] <= 1e-10
    assert {p.name for p in tmp_path.iterdir()} >= {"gradient_health.png", "regularization.png"}
