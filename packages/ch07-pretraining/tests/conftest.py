"""Shared fixtures for ch07: one tiny prepared corpus for the whole session."""

from __future__ import annotations

import pytest

from ch07_pretraining import TrainConfig, prepare_corpus
from llmpath_core.testing import cli_runner, torch_threads, use_offline_env

use_offline_env()


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    """The bundled stories (60 k characters) packed with a 300-token byte-level BPE."""
    path = tmp_path_factory.mktemp("ch07") / "data"
    prepare_corpus("stories", path, vocab_size=300, max_chars=60_000)
    return path


@pytest.fixture
def tiny_config(tiny_data):
    """A ~40 k-parameter Llama on 32-token windows: a step takes a few milliseconds."""

    def make(**overrides) -> TrainConfig:
        values = dict(
            data=str(tiny_data),
            depth=1,
            seq_len=32,
            batch_size=8,
            max_steps=20,
            warmup_steps=3,
            eval_every=10,
            eval_batches=2,
            checkpoint_every=5,
            sample_tokens=8,
        )
        values.update(overrides)
        return TrainConfig(**values)

    return make


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """One intra-op thread: tiny matmuls gain nothing from more, and the CI box is shared."""
    with torch_threads(1):
        yield


@pytest.fixture(scope="session")
def cli():
    """``cli(*args)``: the console script in a subprocess (offline, one thread, no progress)."""
    return cli_runner("ch07_pretraining.cli")
