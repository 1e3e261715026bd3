"""The student for a small device: ONNX export and onnxruntime's dynamic int8 quantization.

The graph is ``(input_ids, attention_mask) [batch, seq] -> logits`` without a KV cache,
traced by the TorchScript exporter (``torch.onnx.export(..., dynamo=False)``, which needs no
onnxscript). onnxruntime runs it, and the check is the largest logit difference against the
torch model on the same ids.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from llmpath_core import atomic_write


class _LogitsOnly(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        # an explicit mask keeps transformers' packed-sequence check (aten::diff) out of the graph
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
        return out.logits


def export_onnx(model, out_dir: str | Path, *, int8: bool = True, opset: int = 17) -> dict:
    """Write ``student.onnx`` (and ``student.int8.onnx``) into ``out_dir``; check with onnxruntime.

    Returns the file sizes and the max |logit difference| of each graph against torch.
    """
    import onnx
    import onnxruntime as ort

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    vocab = int(model.config.vocab_size)
    ids = torch.randint(0, vocab, (2, 16), generator=torch.Generator().manual_seed(0))
    result: dict = {}
    with tempfile.TemporaryDirectory(prefix="ch16-onnx-") as tmp:
        staged = Path(tmp) / "student.onnx"
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _LogitsOnly(model).eval(),
                (ids, torch.ones_like(ids)),
                str(staged),
                input_names=["input_ids", "attention_mask"],
                output_names=["logits"],
                dynamic_axes={
                    "input_ids": {0: "batch", 1: "sequence"},
                    "attention_mask": {0: "batch", 1: "sequence"},
                    "logits": {0: "batch", 1: "sequence"},
                },
                opset_version=opset,
                do_constant_folding=True,
                dynamo=False,
            )
        graphs = {"fp32": staged}
        if int8:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            graphs["int8"] = Path(tmp) / "student.int8.onnx"
            quantize_dynamic(
                str(staged),
                str(graphs["int8"]),
                weight_type=QuantType.QInt8,
                op_types_to_quantize=["MatMul", "Gemm"],
            )
        with torch.no_grad():
            reference = model(input_ids=ids).logits.numpy()
        for name, path in graphs.items():
            data = onnx.load(str(path), load_external_data=True).SerializeToString()
            final = out_dir / ("student.onnx" if name == "fp32" else "student.int8.onnx")
            with atomic_write(final, "wb") as handle:
                handle.write(data)
            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            session = ort.InferenceSession(str(final), options, providers=["CPUExecutionProvider"])
            feed = {"input_ids": ids.numpy(), "attention_mask": np.ones_like(ids.numpy())}
            logits = session.run(["logits"], feed)[0]
            result[name] = {
                "path": str(final),
                "bytes": len(data),
                "max_abs_logit_diff": float(np.abs(logits - reference).max()),
            }
    return result


__all__ = ["export_onnx"]
