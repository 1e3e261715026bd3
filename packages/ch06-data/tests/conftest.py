"""Shared fixtures for ch06: offline environment, a private LLMPATH_HOME, CLI helpers."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from llmpath_core.testing import cli_runner, torch_threads, use_offline_env

use_offline_env()


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """Tiny models run fastest on one thread, and the CI machine's cores are shared."""
    with torch_threads(1):
        yield


@pytest.fixture(autouse=True)
def private_home(tmp_path, monkeypatch):
    monkeypatch.setenv("LLMPATH_HOME", str(tmp_path / "home"))


@pytest.fixture(scope="session")
def cli():
    """``cli(*args)``: the console script in a subprocess."""
    return cli_runner("ch06_data.cli")


@pytest.fixture
def run_in_process(capsys):
    """``run_in_process(*args) -> (exit code, stdout JSON or None, stderr)``, in this process."""
    from ch06_data.cli import app
    from llmpath_core.cli import run_app

    def call(*args: str):
        out = io.StringIO()
        code = 0
        with contextlib.redirect_stdout(out):
            try:
                run_app(app, list(args))
            except SystemExit as exc:
                code = exc.code or 0
        err = capsys.readouterr().err
        text = out.getvalue().strip()
        return code, (json.loads(text.splitlines()[-1]) if text else None), err

    return call
