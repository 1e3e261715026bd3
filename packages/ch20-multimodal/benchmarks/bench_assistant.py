"""The vision-language lab end to end: tiny CLIP, VQA assistant, diffusion guidance sweep.

Trains the CLIP and the LLaVA-style assistant exactly as ``ch20-multimodal vqa`` does on first use
(into a temporary ``LLMPATH_HOME``), then trains the tiny diffusion model and sweeps guidance
scales and a negative prompt, scoring samples with the CLIP (CLIP-score and a Fréchet distance on
CLIP image features against real renders). Seeds: ``--seeds 0 1`` repeats the VQA/CLIP training.

Run: ``uv run python packages/ch20-multimodal/benchmarks/bench_assistant.py [--seeds 0]``
(writes ``benchmarks/results/assistant-cpu.json``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import torch

from llmpath_core.bench import machine_info
from llmpath_core.io import write_json

OUT = Path(__file__).parent / "results" / "assistant-cpu.json"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--diffusion-steps", type=int, default=600)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    torch.set_num_threads(1)
    os.environ["LLMPATH_HOME"] = tempfile.mkdtemp(prefix="ch20-bench-")

    from ch20_multimodal.clip_train import pixels_of
    from ch20_multimodal.diffusion import (
        clip_frechet_distance,
        clip_score,
        sample,
        train_diffusion,
    )
    from ch20_multimodal.scenes import sample_scenes
    from ch20_multimodal.vqa import load_or_train

    runs = []
    for seed in args.seeds:
        start = time.process_time()
        clip, _, info = load_or_train(seed=seed)
        info["cpu_seconds"] = round(time.process_time() - start, 1)
        runs.append(info)
        print(seed, info["zero_shot"], info["vqa"], flush=True)

    clip, _, _ = load_or_train(seed=args.seeds[0])
    start = time.process_time()
    diff = train_diffusion(clip, steps=args.diffusion_steps, seed=0)
    diff_cpu = time.process_time() - start
    prompts = ["1 red circle", "1 blue square", "1 green triangle", "1 yellow circle"] * 8
    real = pixels_of(sample_scenes(256, seed=99, min_objects=1, max_objects=1))
    sweep = []
    for guidance, negative in [(0.0, ""), (1.0, ""), (3.0, ""), (5.0, ""), (3.0, "1 red circle")]:
        images = sample(diff.model, clip, prompts, guidance, negative, steps=25, seed=1)
        sweep.append(
            {
                "guidance": guidance,
                "negative": negative,
                "clip_score": round(clip_score(clip, images, prompts), 4),
                "clip_frechet": round(clip_frechet_distance(clip, images, real), 4),
            }
        )
        print(sweep[-1], flush=True)
    step_sweep = []
    for steps in (5, 10, 25, 50):
        images = sample(diff.model, clip, prompts, 3.0, steps=steps, seed=1)
        step_sweep.append(
            {"ddim_steps": steps, "clip_score": round(clip_score(clip, images, prompts), 4)}
        )

    def agg(key, sub):
        values = [r[key][sub] for r in runs]
        se = statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else None
        return {"mean": round(statistics.fmean(values), 4), "se": se, "n": len(values)}

    write_json(
        args.out,
        {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine_info(),
            "note": "measured while the machine was shared with other jobs; one torch thread",
            "runs": runs,
            "summary": {
                "zero_shot_colour": agg("zero_shot", "colour_accuracy"),
                "zero_shot_shape": agg("zero_shot", "shape_accuracy"),
                "recall@1": agg("retrieval", "recall@1"),
                "vqa_exact_match": agg("vqa", "exact_match"),
                "vqa_majority_baseline": agg("vqa", "majority_baseline"),
            },
            "diffusion": {
                "train_steps": args.diffusion_steps,
                "train_cpu_seconds": round(diff_cpu, 1),
                "final_loss": round(statistics.fmean(diff.losses[-50:]), 4),
                "guidance_sweep": sweep,
                "ddim_step_sweep": step_sweep,
            },
        },
    )


if __name__ == "__main__":
    main()
