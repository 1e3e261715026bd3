"""Shared fixtures for ch15: offline env, one torch thread, tiny reference model folders."""

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
    return cli_runner("ch15_architectures.cli")


@pytest.fixture(scope="session")
def hf_folders(tmp_path_factory):
    """Tiny random MambaForCausalLM / RwkvForCausalLM / MixtralForCausalLM folders."""
    from ch15_architectures.parity import SUPPORTED, save_tiny_reference

    root = tmp_path_factory.mktemp("hf")
    return {arch: save_tiny_reference(arch, root / arch, seed=1) for arch in SUPPORTED}
