"""Tensor parallelism: 2 processes over gloo give the single-process logits within 1e-5."""

from __future__ import annotations

import pytest

from ch14_inference import PagedLlama
from ch14_inference.tensor_parallel import reference_logits, run_tensor_parallel, shard


@pytest.mark.parametrize(
    "shape",
    [
        # each case spawns 2 processes that import torch (~15 s on a busy 2-core machine)
        pytest.param({"heads": 4, "kv_heads": 2}, id="gqa-even", marks=pytest.mark.slow),
        pytest.param({"heads": 5, "kv_heads": 5, "hidden": 80}, id="mha-5-heads-split-3+2"),
    ],
)
def test_two_process_tensor_parallel_equals_single_process(make_llama, shape):
    model = PagedLlama(make_llama(seed=4, **shape))
    prompt = list(range(3, 20))
    single = reference_logits(model, prompt, steps=4)
    parallel = run_tensor_parallel(model, prompt, steps=4, world=2)
    assert parallel.shape == single.shape
    assert (parallel - single).abs().max().item() <= 1e-5


def test_shards_partition_the_weights(gqa_model):
    model = PagedLlama(gqa_model)
    a, b = shard(model, 0, 2), shard(model, 1, 2)
    for full, x, y in zip(model.layers, a.layers, b.layers, strict=True):
        assert x["qkv"].shape[0] + y["qkv"].shape[0] == full["qkv"].shape[0]
        assert x["down"].shape[1] + y["down"].shape[1] == full["down"].shape[1]
    with pytest.raises(ValueError, match="cannot be split"):
        shard(model, 0, 4)  # 2 KV heads over 4 ranks
