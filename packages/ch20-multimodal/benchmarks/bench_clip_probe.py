"""Does the tiny CLIP's image encoder carry what VQA needs? A linear probe per patch.

The 64 x 64 scenes are a 4 x 4 grid of 16 px cells and the vision tower's patches are 16 px, so
each patch token sees one cell. A linear classifier on one patch token's features (each hidden
state: embeddings, layer 1, layer 2) predicts that cell's content among 13 classes (empty, or one
of 4 colours x 3 shapes); trained on patches of training-composition scenes, scored on held-out
compositions. Also records that the VQA loss sends gradient into the projector and the vision
tower (the wiring check). Loads the cached CLIP (``LLMPATH_HOME`` must hold it).

Run: ``LLMPATH_HOME=... uv run python packages/ch20-multimodal/benchmarks/bench_clip_probe.py``
(writes ``benchmarks/results/clip-probe.json``).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import torch
import torch.nn.functional as F

from ch20_multimodal.clip_train import pixels_of
from ch20_multimodal.scenes import COLOURS, GRID, SHAPES, Scene, sample_scenes
from ch20_multimodal.vocab import WordTokenizer
from ch20_multimodal.vqa import _sequences, build_vqa_model, cache_dir, load_clip
from llmpath_core.bench import machine_info
from llmpath_core.io import write_json

OUT = Path(__file__).parent / "results" / "clip-probe.json"


def cell_labels(scenes: list[Scene]) -> torch.Tensor:
    """[N * 16] class per cell: 0 empty, else 1 + colour * 3 + shape."""
    y = torch.zeros(len(scenes), GRID * GRID, dtype=torch.long)
    for i, scene in enumerate(scenes):
        for o in scene.objects:
            y[i, o.cell[0] * GRID + o.cell[1]] = (
                1 + list(COLOURS).index(o.colour) * len(SHAPES) + SHAPES.index(o.shape)
            )
    return y.flatten()


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    clip = load_clip(cache_dir(0) / "tiny_clip.pt")
    train, test = sample_scenes(1500, seed=5, held_out=False), sample_scenes(300, 6, held_out=True)
    with torch.no_grad():
        s_train = clip.vision_model(pixels_of(train))[1]
        s_test = clip.vision_model(pixels_of(test))[1]
    y_train, y_test = cell_labels(train), cell_labels(test)
    layers = {}
    for layer, (a, b) in enumerate(zip(s_train, s_test, strict=True)):
        x_train, x_test = a[:, 1:].reshape(-1, a.shape[-1]), b[:, 1:].reshape(-1, b.shape[-1])
        mu, sd = x_train.mean(0), x_train.std(0) + 1e-6
        x_train, x_test = (x_train - mu) / sd, (x_test - mu) / sd
        probe = torch.nn.Linear(x_train.shape[1], 13)
        opt = torch.optim.Adam(probe.parameters(), 1e-2)
        for _ in range(300):
            loss = F.cross_entropy(probe(x_train), y_train)
            opt.zero_grad()
            loss.backward()
            opt.step()
        pred = probe(x_test).argmax(-1)
        occupied = y_test > 0
        layers[f"hidden_state_{layer}"] = {
            "accuracy_all_cells": round(float((pred == y_test).float().mean()), 4),
            "accuracy_occupied_cells": round(
                float((pred[occupied] == y_test[occupied]).float().mean()), 4
            ),
        }
    tok = WordTokenizer()
    model = build_vqa_model(clip, 0)
    scenes = sample_scenes(64, seed=1, held_out=False)
    ids, mask, labels = _sequences(model, tok, scenes, random.Random(0), 1, 0.0)
    logits = model(ids, pixels_of(scenes), mask)
    F.cross_entropy(logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten()).backward()
    feats = model.image_features(pixels_of(scenes[:8])).detach()
    data = {
        "probe": {
            "task": "13-way cell content (empty or colour x shape) from one patch token",
            "chance_occupied": round(1 / 12, 4),
            "n_test_cells": int(y_test.numel()),
            "n_test_occupied": int((y_test > 0).sum()),
            "layers": layers,
        },
        "wiring": {
            "projector_grad_norm": round(
                float(model.multi_modal_projector.linear_1.weight.grad.norm()), 4
            ),
            "vision_patch_embedding_grad_norm": round(
                float(model.vision_tower.embeddings.patch_embedding.weight.grad.norm()), 4
            ),
            "image_feature_std": round(float(feats.std()), 4),
            "token_embedding_std": round(
                float(model.language_model.get_input_embeddings().weight.std()), 4
            ),
        },
        "machine": machine_info(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    write_json(OUT, data)
    print(data, flush=True)


if __name__ == "__main__":
    main()
