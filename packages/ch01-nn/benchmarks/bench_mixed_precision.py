"""16-bit training vs float32, NumPy (ours) and torch (autocast + GradScaler), one process.

Runs ``ch01-nn mixed-precision``'s lab (15 epochs per run on digits): test accuracy, the
difference from float32 in points, bytes of weights + activations, time, skipped steps, and
the gradient-underflow count. Writes ``benchmarks/results/mixed_precision.json``.

    uv run python packages/ch01-nn/benchmarks/bench_mixed_precision.py
"""

from __future__ import annotations

from pathlib import Path

from ch01_nn.data import load_digits_split
from ch01_nn.labs import mixed_precision_lab
from llmpath_core import machine_info, print_table, write_json

NOTE = "a loaded 2-core CPU box shared with other jobs"
OUT = Path(__file__).parent / "results" / "mixed_precision.json"


def main() -> None:
    result = mixed_precision_lab(load_digits_split(), dtypes=["float16", "bfloat16"], epochs=15)
    cols = ["backend", "dtype", "loss_scaling", "test_accuracy", "accuracy_delta_points",
            "skipped_steps", "bytes_weights_activations", "memory_ratio", "time_ratio"]  # fmt: skip
    print_table(result["numpy"] + result["torch"], cols, title="16-bit vs float32")
    print_table([result["underflow"]], title="gradient entries lost to underflow")
    write_json(OUT, {"machine": machine_info(), "note": NOTE,
                     **result})  # fmt: skip


if __name__ == "__main__":
    main()
