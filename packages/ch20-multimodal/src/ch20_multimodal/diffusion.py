"""A tiny text-to-image diffusion model with classifier-free guidance and negative prompts.

A small conditional U-Net predicts the noise ``eps(x_t, t, c)`` of 32 x 32 scene images, where
``c`` is the frozen tiny-CLIP text embedding of the caption (Stable Diffusion's recipe, in
miniature). Captions are dropped (``c = 0``) for 20% of training examples, so the same network
also predicts the unconditional noise. Sampling uses classifier-free guidance (Ho & Salimans,
2022): ``eps = eps_neg + w (eps_cond - eps_neg)``, where ``eps_neg`` is the unconditional
prediction or, with a negative prompt, the prediction for that prompt. Quality is scored with the
chapter's CLIP: CLIP-score (cosine of image and prompt embeddings) and a Fréchet distance between
CLIP image embeddings of generated and real scenes (FID's formula on CLIP features).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ch20_multimodal.clip import TinyCLIP
from ch20_multimodal.clip_train import encode_texts, pixels_of
from ch20_multimodal.scenes import sample_scenes
from ch20_multimodal.schedulers import DDIMScheduler, DDPMScheduler
from ch20_multimodal.vocab import WordTokenizer

SIZE = 32


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of integer timesteps [B] -> [B, dim]."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000) * torch.arange(half, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([args.sin(), args.cos()], dim=-1)


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, with a FiLM scale/shift from the time+text embedding."""

    def __init__(self, cin: int, cout: int, emb: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(8, cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.film = nn.Linear(emb, 2 * cout)
        self.norm2, self.conv2 = nn.GroupNorm(8, cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.film(e)[:, :, None, None].chunk(2, dim=1)
        h = self.conv2(F.silu(self.norm2(h) * (1 + scale) + shift))
        return self.skip(x) + h


class TinyUNet(nn.Module):
    """32x32 -> 16x16 -> 8x8 and back, skip connections, conditioned on (t, text embedding)."""

    def __init__(self, cond_dim: int = 64, ch: int = 32, emb: int = 128) -> None:
        super().__init__()
        self.emb_dim = emb
        self.time = nn.Sequential(nn.Linear(emb, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.cond = nn.Linear(cond_dim, emb)
        self.inp = nn.Conv2d(3, ch, 3, padding=1)
        self.down1, self.down2 = ResBlock(ch, ch, emb), ResBlock(ch, 2 * ch, emb)
        self.mid = ResBlock(2 * ch, 2 * ch, emb)
        self.up2, self.up1 = ResBlock(4 * ch, ch, emb), ResBlock(2 * ch, ch, emb)
        self.out = nn.Sequential(nn.GroupNorm(8, ch), nn.SiLU(), nn.Conv2d(ch, 3, 3, padding=1))

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        e = self.time(timestep_embedding(t, self.emb_dim)) + self.cond(cond)
        h1 = self.down1(self.inp(x), e)  # 32
        h2 = self.down2(F.avg_pool2d(h1, 2), e)  # 16
        m = self.mid(F.avg_pool2d(h2, 2), e)  # 8
        u2 = self.up2(torch.cat([F.interpolate(m, scale_factor=2.0), h2], 1), e)  # 16
        u1 = self.up1(torch.cat([F.interpolate(u2, scale_factor=2.0), h1], 1), e)  # 32
        return self.out(u1)


@torch.no_grad()
def text_condition(clip: TinyCLIP, prompts: list[str]) -> torch.Tensor:
    """Frozen CLIP text embeddings [N, 64] (the empty prompt "" maps to the null condition 0)."""
    tok = WordTokenizer()
    out = torch.zeros(len(prompts), clip.config.projection_dim)
    real = [i for i, p in enumerate(prompts) if p]
    if real:
        ids, mask = encode_texts(tok, [prompts[i] for i in real])
        out[real] = clip.encode_text(ids, mask)
    return out


@dataclass
class DiffusionResult:
    """The trained denoiser, its loss curve and wall time."""

    model: TinyUNet
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0


def train_diffusion(
    clip: TinyCLIP,
    steps: int = 800,
    batch_size: int = 32,
    lr: float = 2e-3,
    p_uncond: float = 0.2,
    seed: int = 0,
    pool: int = 2000,
) -> DiffusionResult:
    """Train :class:`TinyUNet` on one- and two-object scenes with the eps-prediction loss."""
    torch.manual_seed(seed)
    scenes = sample_scenes(pool, seed=seed + 2, min_objects=1, max_objects=2)
    images = F.avg_pool2d(pixels_of(scenes), 2)
    conds = text_condition(clip, [s.caption() for s in scenes])
    model, sched = TinyUNet(clip.config.projection_dim), DDPMScheduler()
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    lr_sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps, pct_start=0.1)
    gen = torch.Generator().manual_seed(seed)
    result = DiffusionResult(model)
    start = time.perf_counter()
    for _ in range(steps):
        idx = torch.randint(0, pool, (batch_size,), generator=gen)
        x0, c = images[idx], conds[idx].clone()
        c[torch.rand(batch_size, generator=gen) < p_uncond] = 0
        t = torch.randint(0, sched.num_train_timesteps, (batch_size,), generator=gen)
        noise = torch.randn(x0.shape, generator=gen)
        loss = F.mse_loss(model(sched.add_noise(x0, noise, t), t, c), noise)
        opt.zero_grad()
        loss.backward()
        opt.step()
        lr_sched.step()
        result.losses.append(loss.item())
    model.eval()
    result.seconds = time.perf_counter() - start
    return result


@torch.no_grad()
def sample(
    model: TinyUNet,
    clip: TinyCLIP,
    prompts: list[str],
    guidance: float = 3.0,
    negative: str = "",
    steps: int = 25,
    seed: int = 0,
) -> torch.Tensor:
    """DDIM samples [N, 3, 32, 32] in [-1, 1] with classifier-free guidance."""
    sched = DDIMScheduler()
    sched.set_timesteps(steps)
    cond = text_condition(clip, prompts)
    neg = text_condition(clip, [negative] * len(prompts))
    x = torch.randn(len(prompts), 3, SIZE, SIZE, generator=torch.Generator().manual_seed(seed))
    for t in sched.timesteps:
        tt = torch.full((len(prompts),), int(t))
        if guidance == 1.0:
            eps = model(x, tt, cond)
        else:
            both = model(torch.cat([x, x]), torch.cat([tt, tt]), torch.cat([cond, neg]))
            eps_c, eps_n = both.chunk(2)
            eps = eps_n + guidance * (eps_c - eps_n)
        x = sched.step(eps, t, x)
    return x.clamp(-1, 1)


def upsample(images: torch.Tensor) -> torch.Tensor:
    """32x32 samples to the CLIP's 64x64 input."""
    return F.interpolate(images, scale_factor=2.0, mode="nearest")


@torch.no_grad()
def clip_score(clip: TinyCLIP, images: torch.Tensor, prompts: list[str]) -> float:
    """Mean cosine between CLIP image embeddings and their prompts' text embeddings."""
    img = clip.encode_image(upsample(images))
    return float((img * text_condition(clip, prompts)).sum(-1).mean())


@torch.no_grad()
def clip_frechet_distance(clip: TinyCLIP, images: torch.Tensor, real: torch.Tensor) -> float:
    """FID's Fréchet distance, on CLIP image embeddings instead of Inception features."""
    a = clip.encode_image(upsample(images)).double()
    b = clip.encode_image(real).double()
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)
    vals, vecs = torch.linalg.eigh(cov_a)
    root_a = vecs @ torch.diag(vals.clamp(min=0).sqrt()) @ vecs.T
    cross = torch.linalg.eigvalsh(root_a @ cov_b @ root_a).clamp(min=0).sqrt().sum()
    return float(((mu_a - mu_b) ** 2).sum() + cov_a.trace() + cov_b.trace() - 2 * cross)
