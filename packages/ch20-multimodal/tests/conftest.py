"""Shared fixtures for ch20: offline env, one torch thread, binaries that some tests need."""

from __future__ import annotations

import shutil

import pytest

from llmpath_core.testing import cli_runner, torch_threads, use_offline_env

use_offline_env()

needs_tesseract = pytest.mark.skipif(
    shutil.which("tesseract") is None,
    reason="tesseract not installed (apt-get install tesseract-ocr)",
)
needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng not installed (apt-get install espeak-ng)"
)


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """One intra-op thread: the models are tiny and the CI box is shared."""
    with torch_threads(1):
        yield


@pytest.fixture(autouse=True)
def home(tmp_path_factory, monkeypatch):
    """Artefacts (the cached assistant, default outputs) go to a per-session temp folder."""
    monkeypatch.setenv("LLMPATH_HOME", str(tmp_path_factory.getbasetemp() / "llmpath-home"))


@pytest.fixture(scope="session")
def cli():
    """``cli(*args)``: the console script in a subprocess (offline, one thread, no progress)."""
    return cli_runner("ch20_multimodal.cli")
