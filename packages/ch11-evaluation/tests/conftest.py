"""Shared fixtures for ch11: offline env, one torch thread, the default model as an HFCausalLM."""

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
    return cli_runner("ch11_evaluation.cli")


@pytest.fixture(scope="session")
def default_lm():
    """llmpath's default model (3.4M-parameter Llama) wrapped for the harness."""
    from ch11_evaluation.lm import HFCausalLM

    return HFCausalLM.from_folder()
