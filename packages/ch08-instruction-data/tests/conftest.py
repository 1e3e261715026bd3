"""Shared fixtures for ch08: offline env, one torch thread, the default tokenizer."""

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
    return cli_runner("ch08_instruction_data.cli")


@pytest.fixture(scope="session")
def default_tokenizer():
    """llmpath's default tokenizer (byte-level BPE, 4096 tokens, no chat tokens)."""
    from transformers import AutoTokenizer

    from llmpath_core import default_model_path

    return AutoTokenizer.from_pretrained(default_model_path(), local_files_only=True)
