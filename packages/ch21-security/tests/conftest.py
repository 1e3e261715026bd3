"""Shared fixtures for ch21: offline env, one torch thread, the built-in target and the proxy."""

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
    return cli_runner("ch21_security.cli")


@pytest.fixture(scope="session")
def servers():
    """The built-in target and the guardrail proxy in front of it, on free localhost ports."""
    from ch21_security.proxy import GuardrailConfig, start_proxy
    from ch21_security.target import CANARY, SECRET, TargetModel, start_target

    with start_target(target=TargetModel(max_new_tokens=12)) as target:
        proxy, guard = start_proxy(target.url, GuardrailConfig(secrets=[SECRET], canaries=[CANARY]))
        with proxy:
            yield {"target": target.url, "proxy": proxy.url, "guard": guard}


def load_presidio_ref():
    """tests/presidio_ref.py as a module (the importlib import mode has no sibling imports)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "ch21_presidio_ref", Path(__file__).with_name("presidio_ref.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def presidio():
    """presidio-analyzer's pattern recognizers, called offline without an NLP engine."""
    pytest.importorskip("presidio_analyzer")
    return load_presidio_ref().PresidioPatterns()
