"""AWQ, SmoothQuant and QAT: each does what its paper says on a controlled example."""

from __future__ import annotations

import copy

import torch

from ch13_quantization.awq import capture_inputs, search_scale
from ch13_quantization.qlinear import quantize_activation
from ch13_quantization.quantizer import QuantSpec, fake_quantize


def _outlier_inputs(n=1024, d=64, seed=0):
    x = torch.randn(n, d, generator=torch.Generator().manual_seed(seed))
    x[:, [3, 17]] *= 30  # two outlier channels
    return x


def test_awq_scale_search_protects_salient_channels():
    x = _outlier_inputs()
    w = torch.randn(32, 64, generator=torch.Generator().manual_seed(1)) * 0.05
    spec = QuantSpec(3, 16)
    s, alpha, ratio = search_scale(x, [w], spec)
    assert alpha > 0 and ratio < 0.7  # output error well below plain RTN (α = 0)
    assert s[3] > 5 * s.median() and s[17] > 5 * s.median()  # outlier channels scaled up
    err_awq = (x @ (w - fake_quantize(w * s, spec) / s).T).pow(2).mean()
    err_rtn = (x @ (w - fake_quantize(w, spec)).T).pow(2).mean()
    assert err_awq < 0.7 * err_rtn


def test_layers_sharing_an_input_are_grouped(tiny_llama, tokenizer):
    from ch13_quantization.model_io import calibration_data, find_linears

    tokens = calibration_data(tiny_llama, tokenizer, n_samples=2, seq_len=32)
    names = [n for n in find_linears(tiny_llama) if ".layers.0." in n]
    _inputs, groups = capture_inputs(tiny_llama, tokens, names)
    short = sorted(sorted(n.rsplit(".", 1)[-1] for n in g) for g in groups)
    assert short == [["down_proj"], ["gate_proj", "up_proj"], ["k_proj", "q_proj", "v_proj"],
                     ["o_proj"]]  # fmt: skip


def test_smoothquant_makes_per_tensor_int8_activations_work():
    """Per-tensor static int8 on inputs with outlier channels: smoothing cuts the error."""
    x = _outlier_inputs(seed=4)
    w = torch.randn(48, 64, generator=torch.Generator().manual_seed(5)) * 0.05
    ref = x @ w.T

    def w8a8(s):
        xs = x / s
        xq = quantize_activation(xs, "static", xs.abs().max() / 127)
        wq = fake_quantize(w * s, QuantSpec(8, -1, symmetric=True))
        return ((xq @ wq.T - ref).pow(2).mean() / ref.pow(2).mean()).item()

    plain = w8a8(torch.ones(64))
    alpha = 0.5
    s = x.abs().amax(0).pow(alpha) / w.abs().amax(0).pow(1 - alpha)
    assert w8a8(s) < 0.3 * plain
    # the smoothing itself is exact in float
    assert torch.allclose((x / s) @ (w * s).T, ref, atol=1e-4)


def test_qat_beats_ptq_at_4_bits_from_the_same_start(trained_tiny):
    """Same trained model, same 4-bit per-channel grid: QAT (40 distillation steps) ends with
    lower held-out perplexity than round-to-nearest."""
    from ch13_quantization.evaluate import perplexity
    from ch13_quantization.model_io import calibration_data, load_model
    from ch13_quantization.qat import qat_quantize
    from ch13_quantization.rtn import rtn_quantize

    model, tokenizer = load_model(trained_tiny)
    fp = perplexity(model, tokenizer, max_chars=20_000, seq_len=64)
    ptq = rtn_quantize(copy.deepcopy(model), bits=4, group_size=-1)
    tokens = calibration_data(model, tokenizer, n_samples=64, seq_len=64)
    torch.manual_seed(0)
    qat = qat_quantize(copy.deepcopy(model), tokens, bits=4, group_size=-1, steps=40, lr=3e-4)
    ppl_ptq = perplexity(ptq, tokenizer, max_chars=20_000, seq_len=64)
    ppl_qat = perplexity(qat, tokenizer, max_chars=20_000, seq_len=64)
    assert ppl_ptq > fp * 1.02  # 4-bit RTN really hurts this model
    assert ppl_qat < ppl_ptq - 0.5 * (ppl_ptq - fp)  # QAT recovers half the gap (measured 85%)


def test_alpha_sweep_reports_each_alpha_near_the_float_loss(tiny_llama, tokenizer):
    from ch13_quantization.model_io import calibration_data
    from ch13_quantization.smoothquant import alpha_sweep, calibration_loss

    tokens = calibration_data(tiny_llama, tokenizer, n_samples=4, seq_len=32)
    rows = alpha_sweep(tiny_llama, tokens, alphas=(0.0, 0.5))
    assert [r["alpha"] for r in rows] == [0.0, 0.5]
    fp = calibration_loss(tiny_llama, tokens[2:])
    for row in rows:  # W8A8 on a random tiny model: within 1% of the float loss
        assert abs(row["loss"] - fp) < 0.01 * fp
