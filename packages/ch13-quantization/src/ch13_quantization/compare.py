"""The method × bits table: quantize one model every way, measure perplexity, size and speed.

Each row starts from a fresh copy of the float model, uses the same calibration windows, is
saved to a temporary folder (so "size" is bytes on disk of the real artefact) and evaluated on
the same held-out text.
"""

from __future__ import annotations

import copy
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ch13_quantization.evaluate import perplexity, tokens_per_second
from ch13_quantization.model_io import DEFAULT_SKIP, calibration_data
from ch13_quantization.pipeline import QuantizeRequest, quantize_model
from ch13_quantization.serialize import folder_size, save_quantized
from llmpath_core import track

# (method, bits, group size): None = auto (the largest of 128/64/32/16 dividing every layer),
# -1 = per-channel. Groups make 4 and 3 bits easy; per-channel 3-bit and grouped 2-bit are where
# error compensation (GPTQ) and scale search (AWQ) have something to fix.
FULL = (
    ("rtn", 8, None), ("rtn", 4, None), ("gptq", 4, None), ("awq", 4, None),
    ("rtn", 3, None), ("gptq", 3, None),
    ("rtn", 4, -1), ("gptq", 4, -1), ("awq", 4, -1),
    ("rtn", 3, -1), ("gptq", 3, -1), ("awq", 3, -1), ("qat", 3, -1),
    ("rtn", 2, None), ("gptq", 2, None), ("awq", 2, None),
    ("int8-dynamic", 8, -1), ("int8-static", 8, -1), ("smoothquant", 8, -1),
    ("nf4", 4, 64), ("gguf-q8_0", 8, 32), ("gguf-q4_0", 4, 32),
)  # fmt: skip
DEMO = (
    ("rtn", 8, None), ("rtn", 4, None), ("gptq", 4, None),
    ("rtn", 3, -1), ("gptq", 3, -1), ("awq", 3, -1),
    ("rtn", 2, None), ("gptq", 2, None),
    ("int8-dynamic", 8, -1), ("smoothquant", 8, -1), ("nf4", 4, 64), ("gguf-q4_0", 4, 32),
)  # fmt: skip
QUICK = (("rtn", 8, None), ("rtn", 4, None), ("gptq", 4, None), ("awq", 4, None),
         ("int8-dynamic", 8, -1))  # fmt: skip


def _float_size(model: nn.Module, tokenizer, folder: Path) -> int:
    model.save_pretrained(folder)
    return folder_size(folder)


def compare_methods(
    model: nn.Module,
    tokenizer,
    configs: Sequence[tuple[str, int, int | None]] = FULL,
    *,
    calibration: str = "stories",
    calib_samples: int = 32,
    eval_source: str = "stories:validation",
    eval_chars: int | None = 60_000,
    qat_steps: int = 60,
    speed: bool = False,
    skip: Sequence[str] = DEFAULT_SKIP,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """One row per ``(method, bits, group size)``, after an ``fp32`` baseline row."""
    from ch13_quantization.gguf_export import export_gguf, gguf_roundtrip

    tokens = calibration_data(model, tokenizer, calibration, n_samples=calib_samples, seed=seed)
    rows = []
    with tempfile.TemporaryDirectory(prefix="ch13-compare-") as tmp:
        base_ppl = perplexity(model, tokenizer, eval_source, max_chars=eval_chars)
        base_size = _float_size(model, tokenizer, Path(tmp) / "fp32")
        rows.append(
            {
                "method": "fp32",
                "bits": 32,
                "group": None,
                "perplexity": base_ppl,
                "ppl_vs_fp32_%": 0.0,
                "size_bytes": base_size,
                "size_%": 100.0,
                "tokens_per_s": tokens_per_second(model, tokenizer) if speed else None,
                "seconds": 0.0,
            }
        )
        for method, bits, group_size in track(configs, description="methods"):
            start = time.perf_counter()
            folder = Path(tmp) / f"{method}-{bits}-{group_size}"
            if method.startswith("gguf-"):
                qtype = method.split("-", 1)[1]
                quantized = gguf_roundtrip(model, qtype)
                size = export_gguf(model, tokenizer, folder.with_suffix(".gguf"), qtype)[
                    "size_bytes"
                ]
                group = 32
            else:
                quantized = copy.deepcopy(model)
                request = QuantizeRequest(
                    method=method,
                    bits=bits,
                    group_size=group_size,
                    calib_samples=calib_samples,
                    qat_steps=qat_steps,
                    skip=skip,
                    seed=seed,
                )
                torch.manual_seed(seed)
                record = quantize_model(quantized, tokenizer, request, tokens=tokens)
                save_quantized(quantized, tokenizer, folder, method=method, details=record)
                size = folder_size(folder)
                group = record["group_size"]
            seconds = time.perf_counter() - start
            ppl = perplexity(quantized, tokenizer, eval_source, max_chars=eval_chars)
            rows.append(
                {
                    "method": method,
                    "bits": bits,
                    "group": group,
                    "perplexity": ppl,
                    "ppl_vs_fp32_%": 100 * (ppl / base_ppl - 1),
                    "size_bytes": size,
                    "size_%": 100 * size / base_size,
                    "tokens_per_s": tokens_per_second(quantized, tokenizer) if speed else None,
                    "seconds": seconds,
                }
            )
    return rows


def gap_closed(
    rows: Sequence[dict[str, Any]], method: str, bits: int, group: int | None
) -> float | None:
    """Fraction of the fp32 → RTN perplexity gap that ``method`` closes at ``bits``/``group``."""
    ppl = {(r["method"], r["bits"], r["group"]): r["perplexity"] for r in rows}
    base = ppl.get(("fp32", 32, None))
    rtn, ours = ppl.get(("rtn", bits, group)), ppl.get((method, bits, group))
    if None in (base, rtn, ours) or rtn <= base:
        return None
    return (rtn - ours) / (rtn - base)


def display_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows for a table: perplexity to 4 decimals and its change in % with a sign."""
    return [
        {**r, "perplexity": f"{r['perplexity']:.4f}", "ppl_vs_fp32_%": f"{r['ppl_vs_fp32_%']:+.3f}",
         "size_%": round(r["size_%"], 1), "seconds": round(r["seconds"], 1)}
        for r in rows
    ]  # fmt: skip


def plot_comparison(rows: Sequence[dict[str, Any]], path) -> Path:
    """Perplexity against size on disk, one point per row."""
    from matplotlib.figure import Figure

    from llmpath_core.report import save_figure

    fig = Figure(figsize=(8, 5), dpi=110)
    ax = fig.add_subplot()
    for row in rows:
        ax.scatter(row["size_bytes"] / 1e6, row["perplexity"], s=25)
        group = f" g{row['group']}" if row["group"] not in (None, -1) else ""
        ax.annotate(
            f"{row['method']} {row['bits']}b{group}",
            (row["size_bytes"] / 1e6, row["perplexity"]),
            fontsize=7,
            xytext=(3, 3),
            textcoords="offset points",
        )
    ax.set_xlabel("size on disk (MB)")
    ax.set_ylabel("perplexity (held-out)")
    ax.set_title("quantization trade-off: perplexity vs size")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)


__all__ = [
    "DEMO",
    "FULL",
    "QUICK",
    "compare_methods",
    "display_rows",
    "gap_closed",
    "plot_comparison",
]
