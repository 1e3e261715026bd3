"""Shared fixtures for ch12: offline env, one torch thread, the bundled policy."""

from __future__ import annotations

import pytest

from llmpath_core.testing import cli_runner, torch_threads, use_offline_env

use_offline_env()


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """One intra-op thread: the models are tiny and the CI box is shared."""
    with torch_threads(1):
        yield


@pytest.fixture(autouse=True)
def home(tmp_path_factory, monkeypatch):
    """Artefacts (cached reward heads) go to a per-session folder, never the user's cache."""
    monkeypatch.setenv("LLMPATH_HOME", str(tmp_path_factory.getbasetemp() / "llmpath-home"))


@pytest.fixture(scope="session")
def cli():
    """``cli(*args)``: the console script in a subprocess (offline, one thread, no progress)."""
    return cli_runner("ch12_reasoning.cli")


@pytest.fixture(scope="session")
def policy():
    """The bundled policy and its tokenizer."""
    from ch12_reasoning.policy import load_policy

    return load_policy()
