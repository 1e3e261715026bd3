"""Shared fixtures for ch13: a small BPE tokenizer and tiny Llama models (random and trained)."""

from __future__ import annotations

import pytest

from llmpath_core.testing import (
    cli_runner,
    torch_threads,
    train_byte_bpe,
    use_offline_env,
)
from llmpath_core.testing import (
    tiny_llama as _tiny_llama,
)

use_offline_env()


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """One intra-op thread: the matmuls are tiny and the CI box is shared."""
    with torch_threads(1):
        yield


@pytest.fixture(scope="session")
def cli():
    """``cli(*args)``: the console script in a subprocess (offline, one thread, no progress)."""
    return cli_runner("ch13_quantization.cli")


@pytest.fixture(scope="session")
def tokenizer():
    """A 300-token byte-level BPE trained on the bundled stories (eos = bos = pad = id 0)."""
    from llmpath_core import load_text

    return train_byte_bpe([load_text("stories", max_chars=30_000)], vocab_size=300)


def make_tiny_llama(seed: int = 0, *, vocab: int = 300, tie: bool = True, hidden: int = 64):
    """Two layers, four heads, context 128, tied embeddings; bos = eos = pad = id 0."""
    return _tiny_llama(seed, vocab=vocab, hidden=hidden, tie=tie, bos=0, eos=0, pad=0)


@pytest.fixture
def tiny_llama():
    return make_tiny_llama()


@pytest.fixture
def make_llama():
    """The factory itself: ``make_llama(seed, vocab=, tie=, hidden=)``."""
    return make_tiny_llama


@pytest.fixture(scope="session")
def trained_tiny(tokenizer, tmp_path_factory):
    """A tiny Llama trained 250 steps on the stories, saved as a HF folder: ``(path, ppl)``."""
    import torch

    from ch13_quantization.model_io import token_windows

    model = make_tiny_llama(1)
    model.train()
    data = token_windows(tokenizer, "stories", split="train", n=None, seq_len=64, max_chars=150_000)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    gen = torch.Generator().manual_seed(0)
    for _ in range(250):
        batch = data[torch.randint(0, len(data), (16,), generator=gen)]
        loss = model(input_ids=batch, labels=batch).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    path = tmp_path_factory.mktemp("ch13") / "tiny-trained"
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
