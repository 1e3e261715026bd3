"""Shared fixtures: tiny random Llama models (and a byte-level tokenizer) built from configs."""

from __future__ import annotations

import pytest

from llmpath_core.testing import (
    byte_tokenizer,
    cli_runner,
    torch_threads,
    use_offline_env,
)
from llmpath_core.testing import tiny_llama as _tiny_llama

use_offline_env()


def tiny_llama(
    seed=0, vocab=97, hidden=64, layers=2, heads=4, kv_heads=2, ctx=128, eos=None, head_scale=8.0
):
    """Untied, GQA by default; the head scaled so that greedy argmax has no ties in fp32."""
    return _tiny_llama(
        seed, vocab=vocab, hidden=hidden, layers=layers, heads=heads, kv_heads=kv_heads, ctx=ctx,
        eos=eos, head_scale=head_scale,
    )  # fmt: skip


@pytest.fixture(scope="session")
def gqa_model():
    return tiny_llama(seed=0)


@pytest.fixture(scope="session")
def text_model_dir(tmp_path_factory):
    """A saved HF folder (config, safetensors, tokenizer.json) with eos = id 0, context 96."""
    path = tmp_path_factory.mktemp("ch14-model")
    model = tiny_llama(seed=1, vocab=257, hidden=48, layers=2, heads=4, kv_heads=1, ctx=96, eos=0)
    model.save_pretrained(path)
    byte_tokenizer().save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def draft_model_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("ch14-draft")
    model = tiny_llama(seed=2, vocab=257, hidden=32, layers=1, heads=2, kv_heads=2, ctx=96, eos=0)
    model.save_pretrained(path)
    byte_tokenizer().save_pretrained(path)
    return path


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models run fastest on one thread, and the CI machine's cores are shared."""
    with torch_threads(1):
        yield


@pytest.fixture(scope="session")
def cli():
    """``cli(*args)``: the console script in a subprocess (offline, one thread, no progress)."""
    return cli_runner("ch14_inference.cli")


@pytest.fixture(scope="session")
def make_llama():
    """The :func:`tiny_llama` builder, for tests that need models of their own shape."""
    return tiny_llama
