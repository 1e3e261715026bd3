"""Our Mamba LM (each scan) vs transformers' MambaForCausalLM torch path, same weights.

Tokens per second of a forward pass at two lengths; the anchor's logits are compared too.
Run: ``OMP_NUM_THREADS=1 uv run python
packages/ch15-architectures/benchmarks/bench_mamba_vs_transformers.py``
-> ``results/mamba-vs-transformers.json``.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
import transformers

from ch15_architectures.mamba import SCANS, MambaConfig, MambaLM
from llmpath_core import compare, machine_info, write_json

OUT = Path(__file__).parent / "results" / "mamba-vs-transformers.json"


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    hf_config = transformers.MambaConfig(
        vocab_size=4096, hidden_size=64, num_hidden_layers=2, state_size=16
    )
    hf = transformers.MambaForCausalLM(hf_config).eval()
    rows = []
    for length in (256, 1024):
        ids = torch.randint(0, 4096, (1, length))
        with torch.no_grad():
            ref = hf(input_ids=ids).logits
        for scan in SCANS:
            ours = MambaLM(
                MambaConfig(hidden_size=64, num_hidden_layers=2, state_size=16, scan=scan)
            ).eval()
            ours.load_state_dict(hf.state_dict())
            with torch.no_grad():
                diff = float((ours(ids).logits - ref).abs().max())
                c = compare(
                    f"mamba forward {length} tokens ({scan})",
                    lambda ours=ours, ids=ids: ours(ids),
                    lambda ids=ids: hf(input_ids=ids),
                    names=(f"ours-{scan}", "transformers"),
                    repeats=3,
                )
            rows.append(
                {
                    "length": length,
                    "scan": scan,
                    "ours_s": c.ours.median,
                    "transformers_s": c.anchor.median,
                    "ours_tokens_per_s": length / c.ours.median,
                    "transformers_tokens_per_s": length / c.anchor.median,
                    "tokens_per_s_ratio": c.speedup,
                    "max_abs_diff": diff,
                }
            )
            print(rows[-1], flush=True)
    write_json(
        OUT,
        {
            "rows": rows,
            "machine": machine_info(),
            "date": datetime.date.today().isoformat(),
            "anchor": f"transformers {transformers.__version__} MambaForCausalLM "
            "(torch path: mamba_ssm not installed)",
            "note": "one torch thread, measured while the machine was shared",
        },
    )


if __name__ == "__main__":
    main()
