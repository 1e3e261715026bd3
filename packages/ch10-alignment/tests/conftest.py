"""Shared fixtures for ch10: offline env, one torch thread, the CLI in a subprocess."""

from __future__ import annotations

import pytest

from llmpath_core.testing import cli_runner, torch_threads, use_offline_env

use_offline_env()


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """One intra-op thread: the models are tiny and the CI box is shared."""
    with torch_threads(1):
        yield


@pytest.fixture(scope="session")
def cli():
    """``cli(*args)``: the console script in a subprocess (offline, one thread, no progress)."""
    return cli_runner("ch10_alignment.cli")
