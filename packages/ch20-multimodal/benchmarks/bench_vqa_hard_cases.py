"""Where the trained assistant still fails: counts of present pairs and repeated objects.

The held-out exact match (``evaluate_vqa``) samples questions the way training does, so most count
questions ask about an absent colour-shape pair (answer 0). This asks, on held-out-composition
scenes, (a) ``how many <colour> <shape>s?`` for a pair that *is* present, split by the true count,
and (b) ``what colour is the <shape>?`` split by whether the scene holds a repeated colour-shape
pair. Loads the cached assistant (``LLMPATH_HOME`` must hold it).

Run: ``LLMPATH_HOME=... uv run python packages/ch20-multimodal/benchmarks/bench_vqa_hard_cases.py``
(writes ``benchmarks/results/vqa-hard-cases.json``).
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from ch20_multimodal.scenes import sample_scenes
from ch20_multimodal.vqa import answer, load_or_train, scene_to_pixels
from llmpath_core.bench import machine_info
from llmpath_core.io import write_json

OUT = Path(__file__).parent / "results" / "vqa-hard-cases.json"


def _summary(hits: dict[str, list[bool]]) -> dict:
    return {
        k: {
            "accuracy": round(float(np.mean(v)), 3),
            "se": round(float(np.sqrt(np.mean(v) * (1 - np.mean(v)) / len(v))), 3),
            "n": len(v),
        }
        for k, v in sorted(hits.items())
    }


def main() -> None:
    torch.set_num_threads(1)
    _, model, _ = load_or_train(seed=0)
    rng = random.Random(0)
    scenes = sample_scenes(600, seed=50_000, held_out=True)
    counts: dict[str, list[bool]] = defaultdict(list)
    colours: dict[str, list[bool]] = defaultdict(list)
    answers_for_two: dict[str, int] = defaultdict(int)
    for scene in scenes:
        pixels = scene_to_pixels(scene)
        o = rng.choice(scene.objects)
        n = scene.count(o.colour, o.shape)
        said = answer(model, pixels, f"how many {o.colour} {o.shape}s?")
        counts[f"true count {min(n, 3)}{'+' if n >= 3 else ''}"].append(said == str(n))
        if n == 2:
            answers_for_two[said] += 1
        unique = [u for u in scene.objects if scene.count(shape=u.shape) == 1]
        if unique:
            u = rng.choice(unique)
            repeated = any(c > 1 for *_, c in scene.composition())
            said = answer(model, pixels, f"what colour is the {u.shape}?")
            colours["scene with a repeated pair" if repeated else "no repeated pair"].append(
                said == u.colour
            )
    data = {
        "count_of_a_present_pair": _summary(counts),
        "answers_when_true_count_is_2": dict(answers_for_two),
        "colour_of_the_unique_shape": _summary(colours),
        "scenes": len(scenes),
        "machine": machine_info(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    write_json(OUT, data)
    print(data, flush=True)


if __name__ == "__main__":
    main()
