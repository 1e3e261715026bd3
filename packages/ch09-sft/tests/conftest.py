"""Shared fixtures for ch09: offline env, one torch thread, a tiny llama, the console script."""

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
    return cli_runner("ch09_sft.cli")


@pytest.fixture(scope="session")
def peft():
    """peft, with its gptqmodel probe answered "not available".

    The workspace has ``gptqmodel`` installed without ``optimum``; peft's probe then raises
    ImportError while wrapping *any* linear layer. GPTQ layers play no part in these tests.
    """
    import importlib
    import sys

    peft = pytest.importorskip("peft")
    importlib.import_module("peft.tuners.lora")  # loads the dispatch modules that hold the probe

    for name, module in list(sys.modules.items()):
        if name.startswith("peft") and hasattr(module, "is_gptqmodel_available"):
            module.is_gptqmodel_available = lambda: False
    return peft
