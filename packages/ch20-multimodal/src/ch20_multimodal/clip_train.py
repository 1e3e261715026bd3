"""Train the tiny CLIP on generated scenes; measure zero-shot classification and retrieval.

Training pairs are (rendered scene, caption) from the training compositions; evaluation uses
scenes whose composition was held out. Zero-shot classification embeds the 12 prompts
"1 <colour> <shape>" and picks the nearest for single-object images; retrieval ranks held-out
images for each caption (recall@k).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from ch20_multimodal.clip import CLIPConfig, TinyCLIP, contrastive_loss
from ch20_multimodal.scenes import COLOURS, SHAPES, Scene, render, sample_scenes, to_array
from ch20_multimodal.vocab import WordTokenizer


def pixels_of(scenes: list[Scene]) -> torch.Tensor:
    """Rendered scenes as a float tensor [N, 3, 64, 64] in [-1, 1]."""
    return torch.from_numpy(np.stack([to_array(render(s)) for s in scenes]))


def encode_texts(tok: WordTokenizer, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """``<bos> words <eos>`` right-padded: (ids, attention mask)."""
    rows = [[tok.bos_id, *tok.encode(t), tok.eos_id] for t in texts]
    width = max(map(len, rows))
    ids = torch.full((len(rows), width), tok.pad_id, dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row)
    return ids, (ids != tok.pad_id).long()


@dataclass
class CLIPTrainResult:
    """The trained model and its loss curve."""

    model: TinyCLIP
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0


def train_clip(
    steps: int = 300, batch_size: int = 128, lr: float = 2e-3, seed: int = 0, pool: int = 4000
) -> CLIPTrainResult:
    """Train :class:`TinyCLIP` with :func:`contrastive_loss` on training-composition scenes."""
    torch.manual_seed(seed)
    tok = WordTokenizer()
    model = TinyCLIP(CLIPConfig(vocab_size=len(tok), eos_token_id=tok.eos_id))
    scenes = sample_scenes(pool, seed=seed, held_out=False)
    pixels = pixels_of(scenes)
    ids, mask = encode_texts(tok, [s.caption() for s in scenes])
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps, pct_start=0.1)
    gen = torch.Generator().manual_seed(seed)
    result = CLIPTrainResult(model)
    start = time.perf_counter()
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, pool, (batch_size,), generator=gen)
        img = model.encode_image(pixels[idx])
        txt = model.encode_text(ids[idx], mask[idx])
        loss = contrastive_loss(img, txt, model.logit_scale.exp().clamp(max=100))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        result.losses.append(loss.item())
    model.eval()
    result.seconds = time.perf_counter() - start
    return result


@torch.no_grad()
def zero_shot(model: TinyCLIP, n: int = 600, seed: int = 1) -> dict[str, float]:
    """Zero-shot accuracy on single-object images among the 12 "1 <colour> <shape>" prompts."""
    tok = WordTokenizer()
    classes = [(c, s) for c in COLOURS for s in SHAPES]
    ids, mask = encode_texts(tok, [f"1 {c} {s}" for c, s in classes])
    text = model.encode_text(ids, mask)
    scenes = sample_scenes(n, seed=seed + 10_000, min_objects=1, max_objects=1)
    pred = (model.encode_image(pixels_of(scenes)) @ text.t()).argmax(-1).tolist()
    truth = [(s.objects[0].colour, s.objects[0].shape) for s in scenes]
    guess = [classes[i] for i in pred]
    return {
        "colour_accuracy": float(
            np.mean([g[0] == t[0] for g, t in zip(guess, truth, strict=True)])
        ),
        "shape_accuracy": float(np.mean([g[1] == t[1] for g, t in zip(guess, truth, strict=True)])),
        "class_accuracy": float(np.mean([g == t for g, t in zip(guess, truth, strict=True)])),
        "chance_class_accuracy": 1 / len(classes),
        "n": n,
    }


@torch.no_grad()
def retrieval(model: TinyCLIP, n: int = 200, seed: int = 2, ks=(1, 5)) -> dict[str, float]:
    """Text->image recall@k over ``n`` held-out-composition scenes (a caption's own image)."""
    tok = WordTokenizer()
    scenes = sample_scenes(n, seed=seed + 20_000, held_out=True)
    ids, mask = encode_texts(tok, [s.caption() for s in scenes])
    sims = model.encode_text(ids, mask) @ model.encode_image(pixels_of(scenes)).t()
    captions = [s.caption() for s in scenes]
    ranked = sims.argsort(dim=-1, descending=True)
    out: dict[str, float] = {"n": n}
    for k in ks:
        # an image with the very same caption counts as a hit too
        hits = [any(captions[j] == captions[i] for j in ranked[i, :k].tolist()) for i in range(n)]
        out[f"recall@{k}"] = float(np.mean(hits))
        out[f"chance_recall@{k}"] = k / n
    return out
