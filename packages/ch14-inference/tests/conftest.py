"""Shared fixtures: tiny random Llama models (and a byte-level tokenizer) built from configs."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def byte_tokenizer():
    """A byte-level tokenizer with no merges: id 0 is ``<|endoftext|>``, ids 1..256 the bytes."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {"<|endoftext|>": 0, **{c: i + 1 for i, c in enumerate(alphabet)}}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>"
    )


def tiny_llama(
    seed=0, vocab=97, hidden=64, layers=2, heads=4, kv_heads=2, ctx=128, eos=None, head_scale=8.0
):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=ctx,
        eos_token_id=eos,
        bos_token_id=None,
        pad_token_id=None,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(cfg).eval()
    # random init gives near-uniform logits; a larger scale makes argmax ties impossible in fp32
    with torch.no_grad():
        model.lm_head.weight.mul_(head_scale)
    return model


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
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def make_llama():
    """The :func:`tiny_llama` builder, for tests that need models of their own shape."""
    return tiny_llama
