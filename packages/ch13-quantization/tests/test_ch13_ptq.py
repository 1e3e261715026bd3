"""Packed QuantLinear, RTN over a whole model, save/load, int8 dynamic vs torch.ao, W8A8."""

from __future__ import annotations

import copy

import pytest
import torch

from ch13_quantization.model_io import find_linears
from ch13_quantization.qlinear import QuantLinear, pack_bits, unpack_bits
from ch13_quantization.rtn import int8_dynamic_quantize, rtn_quantize, w8a8_quantize
from ch13_quantization.serialize import folder_size, load_quantized, save_quantized


@pytest.mark.parametrize("bits", [2, 3, 4, 5, 8])
def test_pack_unpack_round_trip_and_size(bits):
    codes = torch.randint(0, 2**bits, (1001,), dtype=torch.uint8)
    packed = pack_bits(codes, bits)
    assert packed.numel() == -(-1001 * bits // 8)
    assert torch.equal(unpack_bits(packed, bits, 1001), codes)


def test_rtn_model_replaces_layers_and_reloads_identically(tiny_llama, tokenizer, tmp_path):
    ids = torch.tensor([tokenizer("The little dog ran home.")["input_ids"]])
    model = copy.deepcopy(tiny_llama)
    rtn_quantize(model, bits=4, group_size=16)
    layers = [m for m in model.modules() if isinstance(m, QuantLinear)]
    assert len(layers) == 2 * 7  # q k v o gate up down per block; lm_head skipped
    assert model.lm_head.weight is model.model.embed_tokens.weight  # still tied
    for name, ref in find_linears(tiny_llama).items():
        q = model.get_submodule(name)
        assert (q.effective_weight() - ref.weight).abs().max() < 0.6 * q.scales.float().max()

    save_quantized(model, tokenizer, tmp_path / "q4", method="rtn")
    tiny_llama.save_pretrained(tmp_path / "fp32")
    loaded, _ = load_quantized(tmp_path / "q4")
    with torch.no_grad():
        assert torch.equal(loaded(input_ids=ids).logits, model(input_ids=ids).logits)
    # the quantized layers: 4 bits + an fp16 scale and a 4-bit zero per 16 weights
    tensors = [t for m in layers for t in m.state_dict().values()]
    linear_bytes = sum(t.numel() * t.element_size() for t in tensors)
    linear_fp32 = sum(m.weight.numel() * 4 for m in find_linears(tiny_llama).values())
    assert linear_bytes / linear_fp32 == pytest.approx((4 + 16 / 16 + 4 / 16) / 32, rel=0.01)
    assert folder_size(tmp_path / "q4") < 0.4 * folder_size(tmp_path / "fp32")


def test_quantized_tied_lm_head_is_untied_and_reloads(tiny_llama, tokenizer, tmp_path):
    ids = torch.tensor([tokenizer("A cat sat.")["input_ids"]])
    model = copy.deepcopy(tiny_llama)
    rtn_quantize(model, bits=8, group_size=16, skip=())
    assert isinstance(model.lm_head, QuantLinear)
    assert model.config.tie_word_embeddings is False
    save_quantized(model, tokenizer, tmp_path / "q", method="rtn")
    loaded, _ = load_quantized(tmp_path / "q")
    assert isinstance(loaded.lm_head, QuantLinear)
    with torch.no_grad():
        assert torch.equal(loaded(input_ids=ids).logits, model(input_ids=ids).logits)
        # the embeddings were not quantized
        assert torch.equal(loaded.model.embed_tokens.weight, tiny_llama.model.embed_tokens.weight)


def test_int8_dynamic_matches_torch_ao_quantize_dynamic():
    """fbgemm's scheme: per-channel symmetric int8 weights (scale absmax/127.5), activations
    per tensor on the 7-bit unsigned grid (reduce_range). Same codes; outputs equal to 1e-5."""
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 48), torch.nn.ReLU(), torch.nn.Linear(48, 32))
    x = torch.randn(16, 64) * 2
    ref = quantize_dynamic(copy.deepcopy(model), {torch.nn.Linear: per_channel_dynamic_qconfig})
    ours = int8_dynamic_quantize(copy.deepcopy(model), skip=())
    for i in (0, 2):
        torch_codes = ref[i].weight().int_repr().int()
        assert torch.equal(ours[i].codes().int() - 128, torch_codes)
    with torch.no_grad():
        fp, a, b = model(x), ref(x), ours(x)
    assert (a - b).abs().max() < 1e-5
    assert (a - fp).abs().max() > 1e-3  # while both really are quantized


def test_w8a8_static_with_calibration_is_close_to_fp32(tiny_llama, tokenizer):
    from ch13_quantization.model_io import calibration_data

    tokens = calibration_data(tiny_llama, tokenizer, n_samples=4, seq_len=64)
    model = w8a8_quantize(copy.deepcopy(tiny_llama), tokens)
    layer = model.model.layers[0].self_attn.q_proj
    assert layer.act == "static" and float(layer.act_scale) > 0
    with torch.no_grad():
        ref = tiny_llama(input_ids=tokens[:2]).logits
        got = model(input_ids=tokens[:2]).logits
    assert (got - ref).norm() / ref.norm() < 0.02
