"""Forward time of a Mamba block (chunked scan) vs full attention at growing lengths.

Run: ``OMP_NUM_THREADS=1 uv run python packages/ch15-architectures/benchmarks/bench_scaling.py``
-> ``results/scaling.json`` and ``results/scaling.png``.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import torch

from ch15_architectures.scaling import plot_scaling, time_vs_length
from llmpath_core import machine_info, write_json

OUT = Path(__file__).parent / "results"


def main() -> None:
    torch.set_num_threads(1)
    result = time_vs_length([256, 512, 1024, 2048, 4096, 8192], repeats=3)
    plot_scaling(result, OUT / "scaling.png")
    write_json(
        OUT / "scaling.json",
        {
            **result,
            "machine": machine_info(),
            "date": datetime.date.today().isoformat(),
            "note": "one torch thread, measured while the machine was shared with other jobs",
        },
    )
    print(result)


if __name__ == "__main__":
    main()
