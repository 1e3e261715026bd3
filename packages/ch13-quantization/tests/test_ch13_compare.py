"""The method table: paired differences vs fp32 and vs RTN, and the row cache the demo uses."""

from __future__ import annotations

from unittest import mock

import pytest

from ch13_quantization import compare


def _rows(model, tokenizer, cache):
    return compare.compare_methods(
        model,
        tokenizer,
        (("rtn", 3, -1), ("gptq", 3, -1)),
        calib_samples=2,
        eval_chars=3_000,
        cache=cache,
    )


def test_rows_carry_paired_differences_and_are_cached(tiny_llama, tokenizer, tmp_path):
    rows = _rows(tiny_llama, tokenizer, tmp_path)
    fp32, rtn, gptq = rows
    assert [r["method"] for r in rows] == ["fp32", "rtn", "gptq"]
    assert "_eval" not in gptq  # per-window lists are not in the result rows
    assert rtn["ppl_vs_rtn_%"] is None and fp32["ppl_vs_fp32_se_%"] is None
    assert gptq["ppl_vs_rtn_%"] is not None and gptq["ppl_vs_rtn_se_%"] > 0
    # the paired % is exp(Δloss) - 1 of the two rows' perplexities
    assert gptq["ppl_vs_rtn_%"] == pytest.approx(
        100 * (gptq["perplexity"] / rtn["perplexity"] - 1), rel=1e-6, abs=1e-9
    )
    # cached: the same rows again, without quantizing or evaluating anything
    with (
        mock.patch.object(compare, "quantize_model", side_effect=AssertionError("recomputed")),
        mock.patch.object(compare, "evaluation", side_effect=AssertionError("recomputed")),
    ):
        again = _rows(tiny_llama, tokenizer, tmp_path)
    assert again == rows
    # a different model (other weights) misses the cache
    tiny_llama.model.layers[0].mlp.down_proj.weight.data.mul_(2)
    with (
        mock.patch.object(compare, "evaluation", side_effect=RuntimeError("miss")),
        pytest.raises(RuntimeError, match="miss"),
    ):
        _rows(tiny_llama, tokenizer, tmp_path)


def test_display_rows_show_plus_minus():
    rows = [
        {"method": "gptq", "bits": 3, "group": -1, "perplexity": 1.5, "ppl_vs_fp32_%": 0.2,
         "ppl_vs_fp32_se_%": 0.05, "ppl_vs_rtn_%": -0.1, "ppl_vs_rtn_se_%": 0.02,
         "size_%": 18.04, "seconds": 1.23},
    ]  # fmt: skip
    shown = compare.display_rows(rows)[0]
    assert shown["ppl_vs_fp32_%"] == "+0.200 ± 0.050"
    assert shown["ppl_vs_rtn_%"] == "-0.100 ± 0.020"
    assert "ppl_vs_rtn_se_%" not in shown
