"""``ch13-quantization``: quantize, eval, compare, analyze, formats, export-gguf, export-onnx,
demo."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from llmpath_core import UserError, artefact_path
from llmpath_core.cli import Run, command, make_app, run_app

app = make_app(
    "ch13-quantization",
    "Quantize any HF causal LM from scratch (RTN, GPTQ, AWQ, SmoothQuant, NF4, QAT, GGUF) and "
    "measure perplexity, size and speed.",
)

MODEL_HELP = "HF model folder or hub id (default: llmpath's default model)"
METHOD_HELP = "rtn, gptq, awq, smoothquant, nf4, int8-dynamic, int8-static or qat"


def _group(value: str) -> int | None:
    if value == "auto":
        return None
    try:
        return int(value)
    except ValueError:
        raise UserError(
            f"--group-size must be an integer, -1, 0 or 'auto' (got {value!r})"
        ) from None


def _seed_torch(seed: int) -> None:
    """The commands run on CPU (no --device); torch is imported lazily, so seed it here."""
    from llmpath_core import seed_everything

    seed_everything(seed, torch=True)


def _alpha(value: str) -> float | None:
    if value == "auto":
        return None
    try:
        alpha = float(value)
    except ValueError:
        alpha = -1.0
    if not 0 <= alpha <= 1:
        raise UserError(f"--alpha must be a number in [0, 1] or 'auto' (got {value!r})")
    return alpha


def _model_name(model: str | None) -> str:
    return "default" if model is None else Path(str(model).rstrip("/")).name


def _size_of(model: str | None) -> int | None:
    from ch13_quantization.model_io import resolve_model_path
    from ch13_quantization.serialize import folder_size

    path = Path(resolve_model_path(model))
    return folder_size(path) if path.exists() else None


@command(app, device=False, out_help="output model folder (default: llmpath cache)")
def quantize(
    run: Run,
    method: str = typer.Option("rtn", help=METHOD_HELP),
    bits: int = typer.Option(4, help="weight bits: 2-8 (8 for int8/smoothquant, 4 for nf4)"),
    group_size: str = typer.Option(
        "auto",
        help="columns per scale: auto, N (must divide in_features), -1 per-channel, 0 tensor",
    ),
    model: str = typer.Option(None, help=MODEL_HELP),
    calibration: str = typer.Option("stories", help="calibration text (train split is used)"),
    calib_samples: int = typer.Option(32, help="calibration windows"),
    skip: list[str] = typer.Option(["lm_head"], "--skip", help="layer names/globs kept in fp"),
    symmetric: bool = typer.Option(False, help="symmetric weight grid (default asymmetric)"),
    act_order: bool = typer.Option(True, help="GPTQ: quantize columns by decreasing Hessian"),
    alpha: str = typer.Option(
        "0.5", help="SmoothQuant migration strength in [0, 1], or 'auto' to sweep it"
    ),
    qat_steps: int = typer.Option(60, help="QAT fine-tuning steps"),
    eval_chars: int = typer.Option(60_000, help="held-out characters for the perplexity check"),
) -> dict:
    """Quantize a model and save it as a folder that `eval --model DIR` reloads."""
    from ch13_quantization.evaluate import perplexity
    from ch13_quantization.model_io import load_model
    from ch13_quantization.pipeline import QuantizeRequest, check_method_bits, quantize_model
    from ch13_quantization.serialize import folder_size, save_quantized

    check_method_bits(method, bits)
    request = QuantizeRequest(
        method=method,
        bits=bits,
        group_size=_group(group_size),
        symmetric=symmetric,
        act_order=act_order,
        alpha=_alpha(alpha),
        qat_steps=qat_steps,
        calibration=calibration,
        calib_samples=calib_samples,
        skip=tuple(skip),
        seed=run.seed,
    )
    lm, tokenizer = load_model(model)
    _seed_torch(run.seed)
    start = time.perf_counter()
    record = quantize_model(lm, tokenizer, request)
    seconds = time.perf_counter() - start
    out = run.out_path(artefact_path("ch13", f"{_model_name(model)}-{method}-{bits}bit"))
    save_quantized(lm, tokenizer, out, method=method, details=record)
    result = {
        **record,
        "out": str(out),
        "size_bytes": folder_size(out),
        "source_size_bytes": _size_of(model),
        "perplexity": perplexity(lm, tokenizer, max_chars=eval_chars),
        "seconds": seconds,
    }
    run.table(
        [{"key": k, "value": v} for k, v in result.items() if not isinstance(v, list)],
        title=f"{method} {bits}-bit -> {out}",
    )
    return result


@command(app, name="eval", out=False, device=False)
def eval_cmd(
    run: Run,
    model: str = typer.Option(None, help=MODEL_HELP + "; quantized folders reload as saved"),
    text: str = typer.Option("stories:validation", help="held-out text"),
    max_chars: int = typer.Option(60_000, help="characters of held-out text"),
    speed: bool = typer.Option(True, help="measure greedy decoding tokens/s"),
) -> dict:
    """Perplexity, size on disk and tokens/s of a model (float or quantized folder)."""
    from ch13_quantization.evaluate import evaluate_model
    from ch13_quantization.model_io import load_model

    lm, tokenizer = load_model(model)

    _seed_torch(run.seed)
    result = evaluate_model(
        lm, tokenizer, size_bytes=_size_of(model), source=text, max_chars=max_chars, speed=speed
    )
    result["model"] = str(model or "default")
    return result


@command(
    app, device=False, out_help="folder for compare.json and compare.png (default: llmpath cache)"
)
def compare(
    run: Run,
    model: str = typer.Option(None, help=MODEL_HELP),
    quick: bool = typer.Option(False, help="only rtn/gptq/awq at 4 bits and int8"),
    calib_samples: int = typer.Option(16, help="calibration windows"),
    qat_steps: int = typer.Option(40, help="QAT fine-tuning steps"),
    eval_chars: int = typer.Option(30_000, help="held-out characters"),
    speed: bool = typer.Option(False, help="also measure tokens/s (slower)"),
) -> dict:
    """The method × bits × group table (perplexity, size, speed) and a perplexity-vs-size plot."""
    from ch13_quantization.compare import (
        FULL,
        QUICK,
        compare_methods,
        display_rows,
        plot_comparison,
    )
    from ch13_quantization.model_io import load_model
    from llmpath_core import write_json

    lm, tokenizer = load_model(model)

    _seed_torch(run.seed)
    rows = compare_methods(
        lm, tokenizer, QUICK if quick else FULL, calib_samples=calib_samples,
        qat_steps=qat_steps, eval_chars=eval_chars, speed=speed, seed=run.seed,
    )  # fmt: skip
    out = run.out_path(artefact_path("ch13", f"compare-{_model_name(model)}"))
    write_json(out / "compare.json", rows)
    plot = plot_comparison(rows, out / "compare.png")
    run.table(display_rows(rows), title=f"{_model_name(model)}: method × bits (plot: {plot})")
    return {"rows": rows, "plot": str(plot)}


@command(app, device=False, out_help="PNG of the distributions (default: llmpath cache)")
def analyze(
    run: Run,
    model: str = typer.Option(None, help=MODEL_HELP),
    bits: int = typer.Option(4, help="bits for the per-layer SQNR"),
    group_size: str = typer.Option("-1", help="group size for the SQNR (-1 per-channel)"),
    calib_samples: int = typer.Option(8, help="calibration windows for the activations"),
) -> dict:
    """Per-layer weight/activation statistics, outliers and SQNR per calibration method."""
    from ch13_quantization.analysis import analyze_model, plot_distributions
    from ch13_quantization.model_io import calibration_data, find_linears, load_model
    from ch13_quantization.pipeline import auto_group_size
    from ch13_quantization.quantizer import QuantSpec

    lm, tokenizer = load_model(model)

    _seed_torch(run.seed)
    g = _group(group_size)
    spec = QuantSpec(bits, auto_group_size(find_linears(lm)) if g is None else g)
    for name, layer in find_linears(lm).items():
        spec.check(name, layer.in_features)
    tokens = calibration_data(lm, tokenizer, n_samples=calib_samples, seed=run.seed)
    rows, inputs = analyze_model(lm, tokens, spec)
    path = plot_distributions(
        lm, inputs, run.out_path(artefact_path("ch13", f"analyze-{_model_name(model)}.png"))
    )
    columns = ["layer", "w_absmax/std", "w_kurtosis", "x_absmax", "x_max/median_ch",
               "x_outlier_ch", "w_sqnr_minmax", "w_sqnr_mse", "out_sqnr_minmax",
               "out_sqnr_percentile", "out_sqnr_mse"]  # fmt: skip
    shown = [{**r, "layer": r["layer"].replace("model.layers.", "")} for r in rows]
    run.table(shown, columns, title=f"{bits}-bit, group {spec.group_size}: per-layer analysis")
    worst = min(rows, key=lambda r: r["out_sqnr_minmax"])
    return {"layers": rows, "plot": str(path), "worst_layer": worst["layer"]}


@command(app, out=False, device=False)
def formats(run: Run, n: int = typer.Option(100_000, help="Gaussian samples to round")) -> dict:
    """Number formats (fp32 ... NF4): grids, ranges and the SQNR of rounding Gaussian weights."""
    import torch

    from ch13_quantization.formats import FORMATS, cast_to_format, format_table
    from ch13_quantization.quantizer import sqnr_db

    x = torch.randn(n, generator=torch.Generator().manual_seed(run.seed)) * 0.02
    rows = format_table()
    for row in rows:
        name = row["format"]
        scaled = name.startswith("fp8")  # per-tensor scale so the values use fp8's range
        scale = float(x.abs().max()) / FORMATS[name].max_value() if scaled else None
        y = cast_to_format(x / scale, name) * scale if scaled else cast_to_format(x, name)
        row["SQNR on N(0, 0.02²) dB"] = sqnr_db(x, y)
    run.table(rows, title="number formats")
    return {"formats": rows}


@command(
    app, name="export-gguf", device=False, out_help="output .gguf file (default: llmpath cache)"
)
def export_gguf_cmd(
    run: Run,
    model: str = typer.Option(None, help=MODEL_HELP),
    type: str = typer.Option("q8_0", "--type", help="q8_0, q4_0, f16 or f32"),
) -> dict:
    """Write a llama.cpp GGUF file (Llama architecture) with Q8_0 or Q4_0 weights."""
    from ch13_quantization.gguf_export import GGUF_TYPES, export_gguf
    from ch13_quantization.model_io import load_model

    if type not in GGUF_TYPES:
        raise UserError(f"unknown GGUF type {type!r}: choose one of {', '.join(GGUF_TYPES)}")
    lm, tokenizer = load_model(model)
    _seed_torch(run.seed)
    out = run.out_path(artefact_path("ch13", f"{_model_name(model)}-{type}.gguf"))
    if out.suffix != ".gguf":
        raise UserError(f"--out must be a .gguf file path (got {out})")
    summary = export_gguf(lm, tokenizer, out, type, name=_model_name(model))
    summary["source_size_bytes"] = _size_of(model)
    return summary


@command(
    app, name="export-onnx", device=False, out_help="output .onnx file (default: llmpath cache)"
)
def export_onnx_cmd(
    run: Run,
    model: str = typer.Option(None, help=MODEL_HELP + " (a float model, not a quantized folder)"),
    int8: bool = typer.Option(False, "--int8", help="onnxruntime dynamic int8 (QInt8 MatMul/Gemm)"),
    text: str = typer.Option("stories:validation", help="held-out text for the perplexity"),
    max_chars: int = typer.Option(60_000, help="characters of held-out text"),
    speed: bool = typer.Option(
        True, help="measure forward tokens/s (batch 4 x 128 tokens, 1 thread)"
    ),
) -> dict:
    """Export the forward pass to ONNX (optionally onnxruntime int8) and measure it vs torch.

    The graph maps input_ids and attention_mask to logits (dynamic batch and sequence, no KV
    cache); perplexity, size and tokens/s are measured with onnxruntime on CPU.
    """
    from ch13_quantization.model_io import QUANT_CONFIG, load_model, resolve_model_path
    from ch13_quantization.onnx_export import check_onnx_out, export_and_evaluate

    suffix = "-int8" if int8 else ""
    out = check_onnx_out(run.out_path(artefact_path("ch13", f"{_model_name(model)}{suffix}.onnx")))
    if (Path(resolve_model_path(model)) / QUANT_CONFIG).is_file():
        raise UserError(
            "export-onnx takes a float model folder; quantized folders are not exported "
            "(use --int8 for onnxruntime's own int8)"
        )
    lm, tokenizer = load_model(model)
    _seed_torch(run.seed)
    result = export_and_evaluate(
        lm, tokenizer, out, int8=int8, source=text, max_chars=max_chars, speed=speed,
        torch_size_bytes=_size_of(model),
    )  # fmt: skip
    result["model"] = str(model or "default")
    run.table(result["rows"], title=f"{'int8' if int8 else 'fp32'} ONNX -> {out}")
    run.log(f"perplexity: {result['eval']}; speed: {result['speed']}")
    return result


@command(app, device=False, out_help="folder for the table and plot (default: llmpath cache)")
def demo(
    run: Run,
    calib_samples: int = typer.Option(8, help="calibration windows"),
    eval_chars: int = typer.Option(8_000, help="held-out characters"),
    no_cache: bool = typer.Option(False, help="recompute every row (ignore the row cache)"),
) -> dict:
    """The headline on the default model: 3-bit RTN vs GPTQ, plus NF4, int8 and 4-bit RTN.

    Rows are cached in the llmpath cache (key: model weights, settings, this package's source),
    so a second run prints at once; the long labs have their own commands (printed at the end).
    """
    from ch13_quantization.compare import (
        DEMO,
        compare_methods,
        display_rows,
        gap_closed,
        plot_comparison,
    )
    from ch13_quantization.model_io import load_model
    from llmpath_core import write_json

    lm, tokenizer = load_model(None)

    _seed_torch(run.seed)
    rows = compare_methods(
        lm, tokenizer, DEMO, calib_samples=calib_samples, eval_chars=eval_chars, seed=run.seed,
        cache=None if no_cache else artefact_path("ch13", "demo-cache"),
    )  # fmt: skip
    out = run.out_path(artefact_path("ch13", "demo"))
    write_json(out / "demo.json", rows)
    plot = plot_comparison(rows, out / "demo.png")
    columns = ["method", "bits", "group", "perplexity", "ppl_vs_fp32_%", "ppl_vs_rtn_%",
               "size_bytes", "size_%", "seconds"]  # fmt: skip
    run.table(display_rows(rows), columns, title=f"default model (plot: {plot})")
    by = {(r["method"], r["bits"], r["group"]): r for r in rows}
    fp32, gptq3, rtn3 = by[("fp32", 32, None)], by[("gptq", 3, -1)], by[("rtn", 3, -1)]
    headline = (
        f"3-bit per-channel: RTN {rtn3['ppl_vs_fp32_%']:+.2f}% ppl, GPTQ "
        f"{gptq3['ppl_vs_fp32_%']:+.2f}% (fp32 {fp32['perplexity']:.3f}); GPTQ vs RTN "
        f"{gptq3['ppl_vs_rtn_%']:+.2f}% ± {gptq3['ppl_vs_rtn_se_%']:.2f}% (paired), at "
        f"{gptq3['size_%']:.0f}% of the fp32 size"
    )
    more = (
        "Longer labs: `compare` (every method × bits × group, AWQ, SmoothQuant, QAT, GGUF; "
        "minutes), `quantize --method smoothquant --alpha auto` (the α sweep), `analyze` "
        "(per-layer outliers), `export-gguf`, `export-onnx`."
    )
    run.show(headline)
    run.show(more)
    return {
        "showed": "RTN vs GPTQ at 3 bits per channel, with NF4, int8 and 4-bit RTN, on the "
        "default model: perplexity (paired vs fp32 and vs RTN) and size on disk",
        "headline": headline,
        "gap_closed_gptq_3bit": gap_closed(rows, "gptq", 3, -1),
        "more": more,
        "rows": rows,
        "plot": str(plot),
    }


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()
