"""Shared fixtures for ch02: offline env, one torch thread, the console script in process."""

from __future__ import annotations

import pytest

from llmpath_core.testing import torch_threads, use_offline_env

use_offline_env()


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """One intra-op thread: the models are tiny and the CI box is shared."""
    with torch_threads(1):
        yield


@pytest.fixture
def cli_in_process(capsys):
    """``cli_in_process(*args) -> (code, stdout, stderr)`` through ``run_app``, in this process."""
    from ch02_classic_lm.cli import app
    from llmpath_core.cli import run_app

    def call(*args: str):
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            run_app(app, list(args))
        out = capsys.readouterr()
        return exit_info.value.code, out.out, out.err

    return call
