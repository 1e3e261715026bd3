"""ONNX on onnxruntime (fp32 and dynamic int8) vs torch fp32: forward speed on the default model.

One full forward of a fixed ``[batch, seq]`` batch of token ids (no KV cache: prefill-style
throughput), one thread each, interleaved runs in one process (``llmpath_core.compare``).
``speedup`` is the ``vs`` path's time / ``ours``: above 1 means ``ours`` is faster.

    uv run python packages/ch13-quantization/benchmarks/bench_onnx.py
"""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path

import torch

from ch13_quantization.onnx_export import OnnxCausalLM, export_onnx, quantize_int8
from llmpath_core import compare, machine_info, print_table
from llmpath_core.models import load_default_model

SHAPES = [(1, 32), (4, 128), (8, 256)]
PAIRS = [
    ("onnxruntime fp32", "torch fp32"),
    ("onnxruntime int8", "torch fp32"),
    ("onnxruntime int8", "onnxruntime fp32"),
]


def main() -> None:
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    model, _ = load_default_model()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_onnx(model, Path(tmp) / "default.onnx")
        int8 = Path(tmp) / "default-int8.onnx"
        quantize_int8(fp32, int8)
        sessions = {
            "onnxruntime fp32": OnnxCausalLM(fp32, model.config, threads=1),
            "onnxruntime int8": OnnxCausalLM(int8, model.config, threads=1),
        }
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
    print(json.dumps({"machine": machine_info(), "rows": rows}))


if __name__ == "__main__":
    main()
