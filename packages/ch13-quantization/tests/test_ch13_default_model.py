"""On llmpath's default model (slow: GPTQ over the whole model; LLMPATH_SLOW=1 to run).

The default model barely notices 4-bit quantization (RTN with groups of 16 changes its
perplexity by under 0.05%), so the comparison is made where there is a gap to close: 3-bit
per-channel weights.
"""

from __future__ import annotations

import copy

import pytest


@pytest.mark.slow
def test_gptq_beats_rtn_at_3_bits_on_the_default_model():
    from ch13_quantization.evaluate import perplexity
    from ch13_quantization.gptq import gptq_quantize
    from ch13_quantization.model_io import calibration_data, load_model
    from ch13_quantization.rtn import rtn_quantize

    model, tokenizer = load_model(None)
    fp = perplexity(model, tokenizer, max_chars=15_000)
    tokens = calibration_data(model, tokenizer, n_samples=16)
    rtn = perplexity(rtn_quantize(copy.deepcopy(model), 3, -1), tokenizer, max_chars=15_000)
    gptq = perplexity(
        gptq_quantize(copy.deepcopy(model), tokens, 3, -1), tokenizer, max_chars=15_000
    )
    assert rtn > fp
    assert gptq < rtn  # measured costs with standard errors: benchmarks/results/method-table-*
