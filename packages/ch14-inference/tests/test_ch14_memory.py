"""KV memory accounting: bytes per token, int8 KV, and paged vs contiguous waste on a workload."""

from __future__ import annotations

import torch

from ch14_inference import EngineConfig, PagedLlama
from ch14_inference.labs import run_policy
from ch14_inference.memory import (
    KVShape,
    dequantize_int8,
    int8_kv_effect,
    kv_bytes_per_token,
    kv_table,
    quantize_int8,
    waste_from_log,
)
from ch14_inference.workload import make_workload


def test_kv_bytes_per_token_for_mha_gqa_mqa_and_int8(gqa_model):
    llama7b = KVShape(layers=32, heads=32, kv_heads=32, head_dim=128)
    assert kv_bytes_per_token(llama7b, "fp16") == 524288  # the well-known 0.5 MiB per token
    rows = {
        (r["attention"].split()[0], r["dtype"]): r["bytes_per_token"]
        for r in kv_table(llama7b, 4096)
    }
    assert rows[("GQA", "fp16")] == rows[("MHA", "fp16")] / 4
    assert rows[("MQA", "fp16")] == rows[("MHA", "fp16")] / 32
    assert rows[("MHA", "int8")] == 524288 / 2 + 2 * 32 * 32 * 2  # int8 + one fp16 scale per head
    # the engine's own cache has exactly the size the formula gives
    model = PagedLlama(gqa_model)
    cache = model.new_cache(num_blocks=3, block_size=4)
    shape = KVShape(2, 4, 2, 16)
    assert cache.numel() * cache.element_size() == 12 * kv_bytes_per_token(shape, "fp32")
    assert model.kv_bytes_per_token() == kv_bytes_per_token(shape, "fp32")


def test_int8_roundtrip_error_and_effect_on_the_model(gqa_model):
    x = torch.randn(64, 4, 16)
    q, scale = quantize_int8(x)
    err = (dequantize_int8(q, scale) - x).abs()
    assert (err <= scale.float() / 2 + 1e-6).all()  # at most half a quantisation step
    effect = int8_kv_effect(PagedLlama(gqa_model), list(range(1, 49)))
    assert effect["mean_kl_nats"] < 1e-3
    assert effect["argmax_changed"] <= 0.05


def test_paged_waste_is_under_5_percent_where_contiguous_wastes_most(gqa_model):
    g = torch.Generator().manual_seed(0)
    corpus = torch.randint(0, 97, (2000,), generator=g).tolist()
    workload = make_workload(24, 0.0, corpus, (4, 40), (2, 60), seed=0)
    model = PagedLlama(gqa_model)
    config = EngineConfig(block_size=2, num_blocks=2000, max_num_seqs=8, record_memory=True)
    _, engine = run_policy(model, workload, "continuous", config)
    for m in engine.memory_log:  # at most one partly filled block per running sequence
        assert m["slots_allocated"] - m["tokens_used"] <= m["running"] * (config.block_size - 1)
    waste = waste_from_log(engine.memory_log, model.max_positions)
    assert waste["paged_waste"] <= 0.05
    assert waste["contiguous_waste"] >= 0.5


def test_int8_kv_engine_uses_a_quarter_of_fp32_and_keeps_greedy_outputs(gqa_model):
    from ch14_inference import LLMEngine, SamplingParams

    g = torch.Generator().manual_seed(0)
    prompts = [torch.randint(0, 97, (n,), generator=g).tolist() for n in (5, 17, 33)]
    params = SamplingParams(max_tokens=24)
    exact = LLMEngine(gqa_model, config=EngineConfig(block_size=4, num_blocks=64))
    int8 = LLMEngine(gqa_model, config=EngineConfig(block_size=4, num_blocks=64, kv_dtype="int8"))
    ref = [o.outputs[0].token_ids for o in exact.generate(prompts, params)]
    got = [o.outputs[0].token_ids for o in int8.generate(prompts, params)]
    assert got == ref  # on this model int8 KV changes no greedy token
    fp32_bytes = exact.cache.numel() * exact.cache.element_size()
    int8_bytes = int8.cache.values.numel() + int8.cache.scales.numel() * 2
    assert int8_bytes == 64 * 4 * int8.model.kv_bytes_per_token("int8")
    assert int8_bytes / fp32_bytes == (16 + 2) / (16 * 4)  # head_dim 16: int8 + one fp16 scale
