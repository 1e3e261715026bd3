"""Shared fixtures: tiny random transformers models saved once per session."""

from __future__ import annotations

import pytest

from llmpath_core.testing import cli_runner, torch_threads, use_offline_env

use_offline_env()


@pytest.fixture(scope="session")
def tiny_hf_models(tmp_path_factory):
    from ch05_transformer.parity import build_tiny_hf_models

    return build_tiny_hf_models(tmp_path_factory.mktemp("ch05-hf"), seed=0)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models run fastest on one thread, and the CI machine's cores are shared."""
    with torch_threads(1):
        yield


@pytest.fixture(scope="session")
def cli():
    """``cli(*args)``: the console script in a subprocess (offline, one thread, no progress)."""
    return cli_runner("ch05_transformer.cli")
