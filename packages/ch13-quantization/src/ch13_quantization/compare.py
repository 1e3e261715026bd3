"""The method × bits table: quantize one model every way, measure perplexity, size and speed.

Each row starts from a fresh copy of the float model, uses the same calibration windows, is
saved to a temporary folder (so "size" is bytes on disk of the real artefact) and evaluated on
the same held-out text, window by window. Because every row sees the same windows, a method is
compared with fp32 and with RTN at the same bits and group size by a *paired* difference
(``llmpath_core.models.paired_difference``): the per-window loss differences, whose standard
error is far smaller than that of either perplexity alone. ``ppl_vs_rtn_%`` is
``100 (exp(Δloss) - 1)`` and ``ppl_vs_rtn_se_%`` its standard error (``100 exp(Δloss) · se``).
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

from ch13_quantization.evaluate import evaluation, tokens_per_second
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
# the demo: the chapter's headline (3-bit per-channel, where GPTQ has a gap to close) and the
# cheap formats; AWQ, SmoothQuant, QAT, GGUF, 2 bits and groups are in `compare`
DEMO = (
    ("rtn", 3, -1), ("gptq", 3, -1), ("rtn", 4, None), ("nf4", 4, 64), ("int8-dynamic", 8, -1),
)  # fmt: skip
QUICK = (("rtn", 8, None), ("rtn", 4, None), ("gptq", 4, None), ("awq", 4, None),
         ("int8-dynamic", 8, -1))  # fmt: skip


def _fingerprint(model: nn.Module, tokenizer, settings: dict[str, Any]) -> str:
    """A key for cached rows: the model's weights, the tokenizer, the settings and this code."""
    import hashlib
    import json

    h = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    h.update(json.dumps(tokenizer.get_vocab(), sort_keys=True).encode())
    h.update(json.dumps(settings, sort_keys=True, default=str).encode())
    for source in sorted(Path(__file__).parent.glob("*.py")):  # any code change invalidates
        h.update(source.read_bytes())
    return h.hexdigest()[:24]


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
    cache: str | Path | None = None,
) -> list[dict[str, Any]]:
    """One row per ``(method, bits, group size)``, after an ``fp32`` baseline row.

    ``cache``: a folder where each row (with its per-window evaluation) is kept under a key made
    of the model's weights, the tokenizer, every setting and the source of this package; a row
    found there is not recomputed (quantization and evaluation are deterministic for a seed).
    ``seconds`` of a cached row is the time it took when it was computed.
    """
    from ch13_quantization.gguf_export import export_gguf, gguf_roundtrip
    from llmpath_core import write_json

    settings = dict(calibration=calibration, calib_samples=calib_samples, eval_source=eval_source,
                    eval_chars=eval_chars, qat_steps=qat_steps, speed=speed, skip=list(skip),
                    seed=seed)  # fmt: skip
    cache_dir = Path(cache) / _fingerprint(model, tokenizer, settings) if cache else None

    def cached(key: str) -> dict[str, Any] | None:
        import json

        path = cache_dir / f"{key}.json" if cache_dir else None
        return json.loads(path.read_text()) if path and path.exists() else None

    def store(key: str, row: dict[str, Any]) -> None:
        if cache_dir:
            cache_dir.mkdir(parents=True, exist_ok=True)
            write_json(cache_dir / f"{key}.json", row)

    rows = []
    with tempfile.TemporaryDirectory(prefix="ch13-compare-") as tmp:
        if (row := cached("fp32")) is not None:
            rows.append(row)
        else:
            rows.append(_float_row(model, tokenizer, Path(tmp), eval_source, eval_chars, speed))
            store("fp32", rows[-1])
        base_ppl, base_size = rows[0]["perplexity"], rows[0]["size_bytes"]
        todo = []
        for config in configs:
            row = cached("-".join(map(str, config)))
            rows.append(row)
            if row is None:
                todo.append((len(rows) - 1, config))
        tokens = None
        if todo:
            tokens = calibration_data(
                model, tokenizer, calibration, n_samples=calib_samples, seed=seed
            )
        for index, (method, bits, group_size) in track(todo, description="methods"):
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
            result = evaluation(quantized, tokenizer, eval_source, max_chars=eval_chars)
            ppl = float(result["perplexity"])
            rows[index] = {
                "method": method,
                "bits": bits,
                "group": group,
                "perplexity": ppl,
                "ppl_vs_fp32_%": 100 * (ppl / base_ppl - 1),
                "size_bytes": size,
                "size_%": 100 * size / base_size,
                "tokens_per_s": tokens_per_second(quantized, tokenizer) if speed else None,
                "seconds": seconds,
                "_eval": result,
            }
            store(f"{method}-{bits}-{group_size}", rows[index])
    return add_paired_differences(rows)


def _float_row(model, tokenizer, tmp: Path, eval_source, eval_chars, speed) -> dict[str, Any]:
    base_eval = evaluation(model, tokenizer, eval_source, max_chars=eval_chars)
    return {
        "method": "fp32",
        "bits": 32,
        "group": None,
        "perplexity": float(base_eval["perplexity"]),
        "ppl_vs_fp32_%": 0.0,
        "size_bytes": _float_size(model, tokenizer, tmp / "fp32"),
        "size_%": 100.0,
        "tokens_per_s": tokens_per_second(model, tokenizer) if speed else None,
        "seconds": 0.0,
        "_eval": base_eval,
    }


def _paired_ppl(a: dict[str, Any], b: dict[str, Any]) -> tuple[float, float]:
    """``b`` vs ``a`` in perplexity, in %: ``(100 (exp(Δloss) - 1), its standard error)``."""
    import math

    from llmpath_core.models import paired_difference

    d = paired_difference(a, b)
    ratio = math.exp(d["loss_diff"])
    return 100 * (ratio - 1), 100 * ratio * d["loss_diff_stderr"]


def add_paired_differences(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with ``ppl_vs_fp32_se_%`` and, where an RTN row with the same bits and group exists,
    ``ppl_vs_rtn_%`` / ``ppl_vs_rtn_se_%``; the per-window evaluations (``_eval``) are dropped.

    A row's evaluation must be an ``evaluate_lm`` result with per-window losses on the same
    text and windows as the others (:func:`compare_methods` ensures it).
    """
    evals = {(r["method"], r["bits"], r["group"]): r.get("_eval") for r in rows}
    base = evals.get(("fp32", 32, None))
    out = []
    for row in rows:
        row = {k: v for k, v in row.items() if k != "_eval"}
        mine = evals[(row["method"], row["bits"], row["group"])]
        rtn = evals.get(("rtn", row["bits"], row["group"]))
        row["ppl_vs_fp32_se_%"] = None
        row["ppl_vs_rtn_%"] = row["ppl_vs_rtn_se_%"] = None
        if mine is not None and base is not None and row["method"] != "fp32":
            _, row["ppl_vs_fp32_se_%"] = _paired_ppl(base, mine)
        if mine is not None and rtn is not None and row["method"] != "rtn":
            row["ppl_vs_rtn_%"], row["ppl_vs_rtn_se_%"] = _paired_ppl(rtn, mine)
        out.append(row)
    return out


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


def _pm(value: float | None, se: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:+.3f}" + (f" ± {se:.3f}" if se is not None else "")


def display_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows for a table: perplexity to 4 decimals, changes in % with a sign and a paired
    standard error (``ppl_vs_fp32_%``, ``ppl_vs_rtn_%``)."""
    shown = []
    for r in rows:
        row = {k: v for k, v in r.items() if not k.endswith("_se_%")}
        row["perplexity"] = f"{r['perplexity']:.4f}"
        row["ppl_vs_fp32_%"] = _pm(r["ppl_vs_fp32_%"], r.get("ppl_vs_fp32_se_%"))
        row["ppl_vs_rtn_%"] = _pm(r.get("ppl_vs_rtn_%"), r.get("ppl_vs_rtn_se_%"))
        row["size_%"] = round(r["size_%"], 1)
        row["seconds"] = round(r["seconds"], 1)
        shown.append(row)
    return shown


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
    "add_paired_differences",
    "compare_methods",
    "display_rows",
    "gap_closed",
    "plot_comparison",
]
