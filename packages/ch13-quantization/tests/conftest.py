"""Shared fixtures for ch13: a small BPE tokenizer and tiny Llama models (random and trained)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """One intra-op thread: the matmuls are tiny and the CI box is shared."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tokenizer():
    """A 300-token byte-level BPE trained on the bundled stories (eos = bos = pad = id 0)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from llmpath_core import load_text

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([load_text("stories", max_chars=30_000)], trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|endoftext|>",
        bos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
    )


def make_tiny_llama(seed: int = 0, *, vocab: int = 300, tie: bool = True, hidden: int = 64):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=128,
        tie_word_embeddings=tie,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=0,
    )
    return LlamaForCausalLM(config).eval()


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
