"""ONNX on onnxruntime (fp32 and dynamic int8) vs torch fp32: forward speed on the default model.

One full forward of a fixed ``[batch, seq]`` batch of token ids (no KV cache: prefill-style
throughput), one thread each, interleaved runs in one process (``llmpath_core.compare``).
``speedup`` is the ``vs`` path's time / ``ours``: above 1 means ``ours`` is faster. It also
measures how often the int8 graph picks the same next token as torch on 4 windows of 256 tokens
of held-out text (``stories:validation``), and the largest logit difference there.

    uv run python packages/ch13-quantization/benchmarks/bench_onnx.py

Writes ``benchmarks/results/onnx-cpu-2core.json`` (rows, agreement, machine, date).
"""

from __future__ import annotations

import tempfile
import time
import warnings
from pathlib import Path

import torch

from ch13_quantization.onnx_export import OnnxCausalLM, export_onnx, quantize_int8
from llmpath_core import compare, machine_info, print_table
from llmpath_core.data import load_text
from llmpath_core.io import write_json
from llmpath_core.models import load_default_model

OUT = Path(__file__).parent / "results" / "onnx-cpu-2core.json"

SHAPES = [(1, 32), (4, 128), (8, 256)]
PAIRS = [
    ("onnxruntime fp32", "torch fp32"),
    ("onnxruntime int8", "torch fp32"),
    ("onnxruntime int8", "onnxruntime fp32"),
]


def heldout_agreement(model, session: OnnxCausalLM, tokenizer, batch: int = 4, seq: int = 256):
    """Share of positions where the ONNX graph's argmax equals torch's, on held-out windows."""
    ids = tokenizer(load_text("stories:validation", max_chars=20_000))["input_ids"]
    ids = torch.tensor(ids[: batch * seq]).reshape(batch, seq)
    with torch.no_grad():
        ref = model(input_ids=ids, use_cache=False).logits
    got = torch.from_numpy(session.logits(ids.numpy()))
    return {
        "text": "stories:validation",
        "batch": batch,
        "seq": seq,
        "argmax_agreement": float((got.argmax(-1) == ref.argmax(-1)).float().mean()),
        "max_abs_logit_diff": float((got - ref).abs().max()),
        "max_abs_logit": float(ref.abs().max()),
    }


def main() -> None:
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    model, tokenizer = load_default_model()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_onnx(model, Path(tmp) / "default.onnx")
        int8 = Path(tmp) / "default-int8.onnx"
        quantize_int8(fp32, int8)
        sessions = {
            "onnxruntime fp32": OnnxCausalLM(fp32, model.config, threads=1),
            "onnxruntime int8": OnnxCausalLM(int8, model.config, threads=1),
        }
        agreement = heldout_agreement(model, sessions["onnxruntime int8"], tokenizer)
        sizes = {"onnx fp32": fp32.stat().st_size, "onnx int8": int8.stat().st_size}
        for batch, seq in SHAPES:
            ids = torch.randint(0, model.config.vocab_size, (batch, seq),
                                generator=torch.Generator().manual_seed(0))  # fmt: skip
            arr = ids.numpy()

            def torch_fp32(ids=ids) -> None:
                with torch.no_grad():
                    model(input_ids=ids, use_cache=False)

            paths = {
                "torch fp32": torch_fp32,
                "onnxruntime fp32": lambda arr=arr: sessions["onnxruntime fp32"].logits(arr),
                "onnxruntime int8": lambda arr=arr: sessions["onnxruntime int8"].logits(arr),
            }
            for ours, anchor in PAIRS:
                c = compare(f"{batch}x{seq}", paths[ours], paths[anchor], names=(ours, anchor),
                            repeats=7)  # fmt: skip
                tokens = batch * seq
                rows.append({"batch x seq": c.task, "ours": ours, "vs": anchor,
                             "ours tok/s": tokens / c.ours.median,
                             "vs tok/s": tokens / c.anchor.median,
                             "speedup": c.speedup})  # fmt: skip
    print_table(rows, title="ONNX (onnxruntime) vs torch fp32 forward, default model, 1 thread")
    print(f"int8 vs torch on held-out text: {agreement}")
    write_json(
        OUT,
        {
            "rows": rows,
            "int8_vs_torch_heldout": agreement,
            "onnx_size_bytes": sizes,
            "machine": machine_info(),
            "date": time.strftime("%Y-%m-%d"),
        },
    )


if __name__ == "__main__":
    main()
