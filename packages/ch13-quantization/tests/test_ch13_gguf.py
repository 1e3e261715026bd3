"""GGUF export: Q8_0/Q4_0 blocks equal gguf's quantizer; the file reads back everywhere."""

from __future__ import annotations

import gguf
import numpy as np
import pytest
import torch

from ch13_quantization.gguf_export import (
    QUANTIZERS,
    export_gguf,
    gguf_roundtrip,
    permute_rope,
    unpermute_rope,
)

TYPES = {"q8_0": gguf.GGMLQuantizationType.Q8_0, "q4_0": gguf.GGMLQuantizationType.Q4_0}


@pytest.mark.parametrize("qtype", ["q8_0", "q4_0"])
def test_block_quantizers_match_gguf_bytes(qtype):
    torch.manual_seed(0)
    x = torch.randn(16, 96) * torch.logspace(-3, 1, 96)  # blocks of very different scales
    x[0, :32] = 0.0  # an all-zero block (d = 0)
    quantize, dequantize = QUANTIZERS[qtype]
    ours = quantize(x)
    ref = gguf.quants.quantize(x.numpy(), TYPES[qtype])
    assert np.array_equal(ours, ref)  # byte for byte, including the fp16 scales
    assert np.array_equal(
        dequantize(ours, x.shape).numpy(), gguf.quants.dequantize(ref, TYPES[qtype])
    )


def test_rope_permutation_round_trips():
    w = torch.randn(64, 32)
    assert torch.equal(unpermute_rope(permute_rope(w, 4), 4), w)


@pytest.mark.parametrize("qtype", ["q8_0", "q4_0"])
def test_gguf_file_reads_back(qtype, tokenizer, make_llama, tmp_path):
    from transformers import LlamaForCausalLM

    model = make_llama(3, hidden=64)
    path = tmp_path / f"tiny-{qtype}.gguf"
    summary = export_gguf(model, tokenizer, path, qtype, name="tiny")
    reader = gguf.GGUFReader(path)

    def field(key):
        f = reader.fields[key]
        value = f.parts[f.data[0]]
        return bytes(value).decode() if f.types[0] == gguf.GGUFValueType.STRING else value[0]

    assert field("general.architecture") == "llama"
    assert field("llama.block_count") == 2
    assert field("llama.embedding_length") == 64
    assert field("llama.attention.head_count") == 4
    assert field("llama.rope.dimension_count") == 16
    assert field("tokenizer.ggml.model") == "gpt2"
    assert len(reader.fields["tokenizer.ggml.tokens"].data) == 300
    by_name = {t.name: t for t in reader.tensors}
    assert len(by_name) == summary["tensors"] == 1 + 1 + 2 * 9  # embd, norm, 9 per block
    assert "output.weight" not in by_name  # tied embeddings: llama.cpp reuses token_embd

    # every 2-D tensor is in the requested type; dequantizing its blocks with our code gives
    # exactly the weights of our own round-trip model
    ours = gguf_roundtrip(model, qtype).state_dict()
    q = by_name["blk.1.attn_q.weight"]
    assert q.tensor_type == TYPES[qtype]
    w = unpermute_rope(QUANTIZERS[qtype][1](np.array(q.data), (64, 64)), 4)
    assert torch.equal(w, ours["model.layers.1.self_attn.q_proj.weight"])
    down = by_name["blk.0.ffn_down.weight"]
    assert torch.equal(
        QUANTIZERS[qtype][1](np.array(down.data), (64, 128)),
        ours["model.layers.0.mlp.down_proj.weight"],
    )
    assert by_name["blk.0.attn_norm.weight"].tensor_type == gguf.GGMLQuantizationType.F32

    # transformers' own GGUF loader (independent code) rebuilds the same model
    loaded = LlamaForCausalLM.from_pretrained(tmp_path, gguf_file=path.name).eval()
    ids = torch.tensor([tokenizer("Once upon a time, a cat")["input_ids"]])
    with torch.no_grad():
        ref = gguf_roundtrip(model, qtype)(input_ids=ids).logits
        got = loaded(input_ids=ids).logits
    assert torch.allclose(got, ref, atol=1e-4)
