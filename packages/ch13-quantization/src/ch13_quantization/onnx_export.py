"""ONNX export of a causal LM's forward pass and onnxruntime's dynamic int8 quantization.

The graph is ``input_ids [batch, seq] (+ attention_mask) -> logits [batch, seq, vocab]`` with no
KV cache, traced with the TorchScript exporter (``torch.onnx.export(..., dynamo=False)``) and
dynamic batch and sequence axes. ``--int8`` then runs ``onnxruntime.quantization.quantize_dynamic``:
int8 weights for every MatMul/Gemm (per-tensor scales), activations quantized at run time.

Files are written atomically: the exporter and the quantizer write into a private temporary
folder, the graph is re-serialized as one self-contained protobuf (the weights inline; fine below
2 GB), and that file is moved onto ``--out`` only when everything succeeded.

:class:`OnnxCausalLM` makes an ``onnxruntime.InferenceSession`` look enough like a
``transformers`` model (``model(input_ids=...).logits``, ``.config``) for llmpath's one
perplexity definition (``llmpath_core.models.evaluate_lm``) to run on it unchanged.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from torch import nn

from llmpath_core import UserError, atomic_write

OPSET = 17
MAX_PROTO_BYTES = 2_000_000_000  # protobuf's 2 GB limit: larger models need external data
SPEED_BATCH, SPEED_SEQ = 4, 128
SPEED_THREADS = (
    1  # one thread each for torch and onnxruntime: the CPU is shared, 2 threads are noisy
)


class LogitsOnly(nn.Module):
    """``(input_ids, attention_mask) -> logits`` with the KV cache off: a clean graph to trace."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
        return out.logits


def check_onnx_out(out: str | os.PathLike) -> Path:
    """Fail before any work if ``out`` cannot become an ``.onnx`` file."""
    path = Path(out).expanduser()
    if path.suffix != ".onnx":
        raise UserError(f"--out must be a .onnx file path (got {path})")
    if path.is_dir():
        raise UserError(f"--out {path} is a folder; give a .onnx file path")
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise UserError(f"cannot write {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"cannot write {path}: {parent} is not writable")
    return path


def _write_self_contained(src: Path, dst: Path) -> int:
    """Load ``src`` (and any external data next to it) and write it atomically as one file."""
    import onnx

    proto = onnx.load(str(src), load_external_data=True)
    data = proto.SerializeToString()
    if len(data) > MAX_PROTO_BYTES:
        raise UserError(
            f"the ONNX graph is {len(data) / 1e9:.1f} GB, over protobuf's 2 GB single-file limit"
        )
    with atomic_write(dst, "wb") as handle:
        handle.write(data)
    return len(data)


def _export_to(model: nn.Module, path: Path, opset: int = OPSET) -> None:
    vocab = int(model.config.vocab_size)
    ids = torch.randint(0, vocab, (2, 8), generator=torch.Generator().manual_seed(0))
    mask = torch.ones_like(ids)
    dynamic = {name: {0: "batch", 1: "sequence"} for name in ("input_ids", "attention_mask")}
    dynamic["logits"] = {0: "batch", 1: "sequence"}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about Python control flow on shapes
        torch.onnx.export(
            LogitsOnly(model).eval(),
            (ids, mask),
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=["logits"],
            dynamic_axes=dynamic,
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )


@contextlib.contextmanager
def _quiet_root_logger():
    """onnxruntime's quantizer logs a pre-processing hint on the root logger; keep stderr clean."""
    logger = logging.getLogger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def quantize_int8(src: str | os.PathLike, dst: str | os.PathLike, workdir: Path | None = None):
    """``onnxruntime.quantization.quantize_dynamic``: QInt8 weights for MatMul and Gemm."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="ch13-onnx-q-", dir=workdir) as tmp:
        staged = Path(tmp) / "model.int8.onnx"
        with _quiet_root_logger():
            quantize_dynamic(
                str(src),
                str(staged),
                weight_type=QuantType.QInt8,
                op_types_to_quantize=["MatMul", "Gemm"],
            )
        return _write_self_contained(staged, Path(dst))


def export_onnx(
    model: nn.Module, out: str | os.PathLike, *, int8: bool = False, keep_fp32: Path | None = None
) -> Path:
    """Export ``model``'s forward (logits) to ``out``; with ``int8`` the quantized graph.

    ``keep_fp32`` (a path) also keeps the fp32 graph there (used to compare the two).
    """
    out = check_onnx_out(out)
    model = model.eval()
    with tempfile.TemporaryDirectory(prefix="ch13-onnx-") as tmp:
        fp32 = Path(tmp) / "model.onnx"
        _export_to(model, fp32)
        if keep_fp32 is not None:
            _write_self_contained(fp32, keep_fp32)
        if int8:
            quantize_int8(fp32, out, workdir=Path(tmp))
        else:
            _write_self_contained(fp32, out)
    return out


def ort_session(path: str | os.PathLike, threads: int | None = None):
    """An ``onnxruntime.InferenceSession`` on CPU with ``threads`` intra-op threads."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OnnxCausalLM:
    """An ONNX causal LM behind the small part of the ``transformers`` API that evaluation uses."""

    def __init__(self, path: str | os.PathLike, config, threads: int | None = None) -> None:
        self.path = Path(path)
        self.config = config
        self.session = ort_session(path, threads)
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.training = False
        self._device_probe = nn.Parameter(torch.empty(0), requires_grad=False)

    def parameters(self):
        yield self._device_probe  # evaluate_lm asks for the device: CPU

    def eval(self) -> OnnxCausalLM:
        return self

    def train(self, mode: bool = True) -> OnnxCausalLM:
        return self

    def logits(self, input_ids, attention_mask=None) -> np.ndarray:
        ids = np.ascontiguousarray(np.asarray(input_ids, dtype=np.int64))
        feed = {"input_ids": ids}
        if "attention_mask" in self.input_names:
            mask = np.ones_like(ids) if attention_mask is None else np.asarray(attention_mask)
            feed["attention_mask"] = np.ascontiguousarray(mask, dtype=np.int64)
        return self.session.run(["logits"], feed)[0]

    def __call__(self, input_ids, attention_mask=None, **_ignored) -> SimpleNamespace:
        if isinstance(input_ids, torch.Tensor):
            input_ids = input_ids.cpu().numpy()
        if isinstance(attention_mask, torch.Tensor):
            attention_mask = attention_mask.cpu().numpy()
        return SimpleNamespace(logits=torch.from_numpy(self.logits(input_ids, attention_mask)))


def onnx_perplexity(
    lm: OnnxCausalLM, tokenizer, source: str, *, max_chars: int | None, seq_len: int
) -> float:
    from llmpath_core.models import evaluate_lm

    result = evaluate_lm(lm, tokenizer, source, seq_len=seq_len, max_chars=max_chars)
    return float(result["perplexity"])


def forward_tokens_per_second(
    forward, vocab: int, *, batch: int = SPEED_BATCH, seq: int = SPEED_SEQ, repeats: int = 5
) -> float:
    """Tokens through one full forward per second: fixed ``[batch, seq]`` input, best of
    ``repeats`` after one warm-up (prefill-style throughput, not decoding)."""
    ids = torch.randint(0, vocab, (batch, seq), generator=torch.Generator().manual_seed(0))
    forward(ids)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        forward(ids)
        best = min(best, time.perf_counter() - start)
    return batch * seq / best


def max_logit_diff(
    model: nn.Module, lm: OnnxCausalLM, *, batch: int = 2, seq: int = 32, seed: int = 0
) -> float:
    """Max |logits_onnx - logits_torch| on a random ``[batch, seq]`` input."""
    vocab = int(model.config.vocab_size)
    ids = torch.randint(0, vocab, (batch, seq), generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        ref = model(input_ids=ids, use_cache=False).logits
    return float((lm(ids).logits - ref).abs().max())


def export_and_evaluate(
    model: nn.Module,
    tokenizer,
    out: str | os.PathLike,
    *,
    int8: bool = False,
    source: str = "stories:validation",
    max_chars: int | None = 60_000,
    speed: bool = True,
    torch_size_bytes: int | None = None,
) -> dict:
    """Export (and quantize), then measure torch fp32, ONNX fp32 (and ONNX int8) side by side."""
    from ch13_quantization.evaluate import perplexity
    from ch13_quantization.model_io import context_length

    out = check_onnx_out(out)
    seq_len = context_length(model)
    vocab = int(model.config.vocab_size)
    speed_seq = min(SPEED_SEQ, seq_len)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ch13-onnx-eval-") as tmp:
        fp32_path = Path(tmp) / "model.fp32.onnx"
        export_onnx(model, out, int8=int8, keep_fp32=fp32_path if int8 else None)
        seconds = time.perf_counter() - start
        candidates = [("onnx fp32", fp32_path if int8 else out)]
        if int8:
            candidates.append(("onnx int8", out))
        rows = [
            {
                "format": "torch fp32",
                "perplexity": perplexity(model, tokenizer, source, max_chars=max_chars),
                "size_bytes": torch_size_bytes,
                "tokens_per_s": None,
                "max_abs_diff": 0.0,
            }
        ]
        if speed:

            def torch_forward(ids: torch.Tensor) -> None:
                threads = torch.get_num_threads()
                torch.set_num_threads(SPEED_THREADS)
                try:
                    with torch.no_grad():
                        model(input_ids=ids, use_cache=False)
                finally:
                    torch.set_num_threads(threads)

            rows[0]["tokens_per_s"] = forward_tokens_per_second(torch_forward, vocab, seq=speed_seq)
        for name, path in candidates:
            lm = OnnxCausalLM(path, model.config, threads=SPEED_THREADS)
            rows.append(
                {
                    "format": name,
                    "perplexity": onnx_perplexity(
                        lm, tokenizer, source, max_chars=max_chars, seq_len=seq_len
                    ),
                    "size_bytes": Path(path).stat().st_size,
                    "tokens_per_s": forward_tokens_per_second(lm.logits, vocab, seq=speed_seq)
                    if speed
                    else None,
                    "max_abs_diff": max_logit_diff(model, lm),
                }
            )
    base = rows[0]["perplexity"]
    for row in rows:
        row["ppl_vs_torch_%"] = 100 * (row["perplexity"] / base - 1)
    final = rows[-1]
    return {
        "out": str(out),
        "int8": int8,
        "opset": OPSET,
        "inputs": ["input_ids", "attention_mask"],
        "size_bytes": final["size_bytes"],
        "perplexity": final["perplexity"],
        "export_seconds": seconds,
        "eval": f"{source}, first {max_chars} characters, windows of {seq_len} tokens",
        "speed": f"forward tokens/s, batch {SPEED_BATCH} x {speed_seq} tokens, best of 5, "
        f"{SPEED_THREADS} thread",
        "rows": rows,
    }


__all__ = [
    "LogitsOnly",
    "OnnxCausalLM",
    "check_onnx_out",
    "export_and_evaluate",
    "export_onnx",
    "forward_tokens_per_second",
    "max_logit_diff",
    "onnx_perplexity",
    "ort_session",
    "quantize_int8",
]
