"""Our NF4 held to bitsandbytes (CPU backend): code book, packed codes, dequantized weights."""

from __future__ import annotations

import pytest
import torch

from ch09_sft.lora import LoRAConfig, count_parameters, inject_lora
from ch09_sft.nf4 import NF4Linear, dequantize_nf4, nf4_code_book, quantize_lora_bases, quantize_nf4
from llmpath_core.testing import tiny_llama

TOL = 1e-6


def test_code_book_equals_bitsandbytes_table():
    F = pytest.importorskip("bitsandbytes.functional")
    theirs = F.get_4bit_type("nf4", device="cpu")
    assert (nf4_code_book() - theirs).abs().max() <= TOL


def test_quantize_dequantize_equals_bitsandbytes():
    F = pytest.importorskip("bitsandbytes.functional")
    w = torch.randn(96, 64, generator=torch.Generator().manual_seed(0)) * 0.05
    packed, absmax = quantize_nf4(w)
    q, state = F.quantize_4bit(w, blocksize=64, quant_type="nf4", compress_statistics=False)
    assert (absmax - state.absmax).abs().max() <= TOL
    ours = dequantize_nf4(packed, absmax, w.shape)
    theirs = F.dequantize_4bit(q, state)
    assert (ours - theirs).abs().max() <= TOL
    assert torch.equal(packed, q.reshape(-1))  # same nibbles, same order
    # 4-bit error is real but bounded: at most half the widest code gap times the block max
    assert 1e-4 < float((ours - w).abs().max()) < 0.2 * float(w.abs().max())


def test_qlora_layer_keeps_outputs_and_trains():
    model = tiny_llama(0)
    inject_lora(model, LoRAConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    ids = torch.randint(0, 300, (2, 10), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        before = model(ids).logits
    trainable = count_parameters(model)[0]
    assert quantize_lora_bases(model) == 4
    assert count_parameters(model)[0] == trainable
    layer = model.model.layers[0].self_attn.q_proj.base
    assert isinstance(layer, NF4Linear)
    assert layer.storage_bytes() < 0.2 * layer.weight.numel() * 4  # ~0.53 vs 4 bytes per weight
    with torch.no_grad():
        after = model(ids).logits
    assert 0 < float((after - before).abs().max()) < 0.5  # quantized, not broken
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    losses = []
    for _ in range(4):
        loss = model(input_ids=ids, labels=ids).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < losses[0]
