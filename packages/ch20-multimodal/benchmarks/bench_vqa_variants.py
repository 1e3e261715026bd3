"""VQA training variants on the same cached tiny CLIP: what buys grounding on held-out scenes?

Loads the CLIP that ``vqa``/``bench_assistant.py`` trained (``LLMPATH_HOME`` must hold it), then
trains the assistant with one variant (vision tower frozen or fine-tuned, steps, batch) and records
exact match per question kind against the majority baseline.

Run: ``LLMPATH_HOME=... uv run python packages/ch20-multimodal/benchmarks/bench_vqa_variants.py
--name frozen-1500 --steps 1500 --batch-size 32 --vision-lr-scale 0``
(adds an entry to ``benchmarks/results/vqa-variants.json``).
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import torch

from ch20_multimodal.vqa import cache_dir, evaluate_vqa, load_clip, train_vqa
from llmpath_core.bench import machine_info
from llmpath_core.io import write_json

OUT = Path(__file__).parent / "results" / "vqa-variants.json"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", required=True)
    parser.add_argument("--steps", type=int, default=700)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--vision-lr-scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--clip-seed", type=int, default=0, help="which cached CLIP to start from")
    parser.add_argument("--questions-per-image", type=int, default=1)
    parser.add_argument("--caption-fraction", type=float, default=0.0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    clip = load_clip(cache_dir(args.clip_seed) / "tiny_clip.pt")
    start = time.process_time()
    result = train_vqa(
        clip,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        vision_lr_scale=args.vision_lr_scale,
        questions_per_image=args.questions_per_image,
        caption_fraction=args.caption_fraction,
    )
    entry = {
        "config": vars(args),
        "cpu_seconds": round(time.process_time() - start, 1),
        "final_loss": round(sum(result.losses[-50:]) / 50, 4),
        "vqa": evaluate_vqa(result.model),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    data = json.loads(OUT.read_text()) if OUT.is_file() else {"variants": {}}
    data["machine"] = machine_info()
    data["variants"][args.name] = entry
    write_json(OUT, data)
    print(entry, flush=True)


if __name__ == "__main__":
    main()
