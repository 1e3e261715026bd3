"""The demo's load cache: same tensors and tokens as a fresh load; a changed model is a new key."""

from __future__ import annotations

import shutil

import torch

from ch14_inference import EngineConfig, LLMEngine, SamplingParams, load_model
from ch14_inference.model_cache import CachedTokenizer, files_key, load_cached


def test_cached_model_decodes_exactly_like_a_fresh_load(text_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("LLMPATH_HOME", str(tmp_path / "home"))
    fresh, hf_tok = load_model(str(text_model_dir))
    load_cached(str(text_model_dir))  # miss: loads through transformers, writes
    cached, tok = load_cached(str(text_model_dir))  # hit: torch + tokenizers only
    assert isinstance(tok, CachedTokenizer) and cached.hf_model is None
    assert len(list((tmp_path / "home" / "ch14" / "model-cache").glob("*.pt"))) == 1
    text = "Once upon a time, a dog ran."
    assert tok.encode(text) == hf_tok.encode(text)
    assert tok.eos_token_id == hf_tok.eos_token_id == 0
    ids = torch.tensor(tok.encode(text))
    a = fresh.forward_contiguous(ids, 0, fresh.new_stream_cache(len(ids)), all_logits=True)
    b = cached.forward_contiguous(ids, 0, cached.new_stream_cache(len(ids)), all_logits=True)
    assert torch.equal(a, b)
    params = SamplingParams(max_tokens=12)
    outs = [
        LLMEngine(m, t, EngineConfig(block_size=4, num_blocks=64)).generate([text], params)[0]
        for m, t in ((fresh, hf_tok), (cached, tok))
    ]
    assert outs[0].outputs[0].token_ids == outs[1].outputs[0].token_ids
    assert outs[0].outputs[0].text == outs[1].outputs[0].text


def test_a_changed_model_file_is_a_new_cache_key(text_model_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(text_model_dir, copy)
    before = files_key(copy)
    assert before == files_key(text_model_dir)
    config = copy / "config.json"
    config.write_text(config.read_text().replace('"rms_norm_eps"', '"rms_norm_eps" ', 1))
    assert files_key(copy) != before
