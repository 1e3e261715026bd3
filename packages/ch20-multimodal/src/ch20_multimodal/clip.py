"""A tiny CLIP (Radford et al., 2021) written out: vision and text transformers, contrastive loss.

The blocks follow the layout of Hugging Face's ``CLIPModel`` (pre-LayerNorm encoder layers,
quick-GELU MLP, a class token and ``pre_layrnorm``/``post_layernorm`` in the vision tower, a causal
text tower pooled at the first ``<eos>``, bias-free projections and a learnt ``logit_scale``), with
the same parameter names, so a ``CLIPModel`` state dict loads into it and the outputs agree. The
loss is the symmetric InfoNCE of open_clip's ``ClipLoss``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class CLIPConfig:
    """Sizes of both towers (defaults: the tiny model trained in this chapter)."""

    vocab_size: int = 64
    eos_token_id: int = 3
    image_size: int = 64
    patch_size: int = 16
    channels: int = 3
    hidden_size: int = 64
    intermediate_size: int = 128
    num_layers: int = 2
    num_heads: int = 4
    text_hidden_size: int = 64
    text_intermediate_size: int = 128
    text_num_layers: int = 2
    text_num_heads: int = 4
    max_text_len: int = 32
    projection_dim: int = 64
    layer_norm_eps: float = 1e-5
    logit_scale_init: float = math.log(1 / 0.07)

    def to_dict(self) -> dict:
        """Plain dict (for ``config.json``)."""
        return asdict(self)


class Attention(nn.Module):
    """Multi-head self-attention with biased q/k/v/out projections (``CLIPAttention``)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (
            nn.Linear(dim, dim) for _ in range(4)
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = (
            p(x).view(b, t, self.heads, d // self.heads).transpose(1, 2)
            for p in (self.q_proj, self.k_proj, self.v_proj)
        )
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.out_proj(y.transpose(1, 2).reshape(b, t, d))


class MLP(nn.Module):
    """fc1 -> quick GELU (x * sigmoid(1.702 x)) -> fc2."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.fc1(x)
        return self.fc2(h * torch.sigmoid(1.702 * h))


class EncoderLayer(nn.Module):
    """Pre-LN transformer layer: x + attn(ln1(x)); x + mlp(ln2(x))."""

    def __init__(self, dim: int, hidden: int, heads: int, eps: float) -> None:
        super().__init__()
        self.layer_norm1 = nn.LayerNorm(dim, eps=eps)
        self.self_attn = Attention(dim, heads)
        self.layer_norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = MLP(dim, hidden)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.self_attn(self.layer_norm1(x), mask)
        return x + self.mlp(self.layer_norm2(x))


class Encoder(nn.Module):
    """A stack of :class:`EncoderLayer`; returns every hidden state (input first)."""

    def __init__(self, dim: int, hidden: int, heads: int, n: int, eps: float) -> None:
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(dim, hidden, heads, eps) for _ in range(n))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> list[torch.Tensor]:
        states = [x]
        for layer in self.layers:
            x = layer(x, mask)
            states.append(x)
        return states


class VisionEmbeddings(nn.Module):
    """Patchify with a strided conv (no bias), prepend the class token, add positions."""

    def __init__(self, cfg: CLIPConfig) -> None:
        super().__init__()
        d = cfg.hidden_size
        self.class_embedding = nn.Parameter(torch.randn(d) * 0.02)
        self.patch_embedding = nn.Conv2d(
            cfg.channels, d, cfg.patch_size, stride=cfg.patch_size, bias=False
        )
        self.position_embedding = nn.Embedding((cfg.image_size // cfg.patch_size) ** 2 + 1, d)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        patches = self.patch_embedding(pixels).flatten(2).transpose(1, 2)
        cls = self.class_embedding.expand(pixels.shape[0], 1, -1)
        return torch.cat([cls, patches], dim=1) + self.position_embedding.weight


class VisionTransformer(nn.Module):
    """CLIP's image tower: embeddings -> pre-LN -> encoder; pooled = post-LN(class token)."""

    def __init__(self, cfg: CLIPConfig) -> None:
        super().__init__()
        self.embeddings = VisionEmbeddings(cfg)
        self.pre_layrnorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.encoder = Encoder(
            cfg.hidden_size,
            cfg.intermediate_size,
            cfg.num_heads,
            cfg.num_layers,
            cfg.layer_norm_eps,
        )
        self.post_layernorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(pooled [B, D], hidden states: embeddings then each layer's output [B, 1+P, D])."""
        states = self.encoder(self.pre_layrnorm(self.embeddings(pixels)))
        return self.post_layernorm(states[-1][:, 0]), states


class TextEmbeddings(nn.Module):
    """Token plus learnt position embeddings."""

    def __init__(self, cfg: CLIPConfig) -> None:
        super().__init__()
        self.token_embedding = nn.Embedding(cfg.vocab_size, cfg.text_hidden_size)
        self.position_embedding = nn.Embedding(cfg.max_text_len, cfg.text_hidden_size)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.token_embedding(ids) + self.position_embedding.weight[: ids.shape[1]]


class TextTransformer(nn.Module):
    """CLIP's text tower: causal encoder, final LN, pooled at the first ``eos_token_id``."""

    def __init__(self, cfg: CLIPConfig) -> None:
        super().__init__()
        self.eos_token_id = cfg.eos_token_id
        self.embeddings = TextEmbeddings(cfg)
        d = cfg.text_hidden_size
        self.encoder = Encoder(
            d,
            cfg.text_intermediate_size,
            cfg.text_num_heads,
            cfg.text_num_layers,
            cfg.layer_norm_eps,
        )
        self.final_layer_norm = nn.LayerNorm(d, eps=cfg.layer_norm_eps)

    def forward(
        self, ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Pooled text features [B, D] (before the projection)."""
        t = ids.shape[1]
        allowed = torch.ones(t, t, dtype=torch.bool, device=ids.device).tril()[None, None]
        if attention_mask is not None:
            allowed = allowed & attention_mask[:, None, None, :].bool()
        mask = torch.zeros(allowed.shape, device=ids.device).masked_fill(~allowed, float("-inf"))
        x = self.final_layer_norm(self.encoder(self.embeddings(ids), mask)[-1])
        eos_pos = (ids == self.eos_token_id).int().argmax(dim=-1)
        return x[torch.arange(ids.shape[0], device=ids.device), eos_pos]


class TinyCLIP(nn.Module):
    """Both towers, their projections and ``logit_scale`` (parameter names as ``CLIPModel``)."""

    def __init__(self, cfg: CLIPConfig) -> None:
        super().__init__()
        self.config = cfg
        self.vision_model = VisionTransformer(cfg)
        self.text_model = TextTransformer(cfg)
        self.visual_projection = nn.Linear(cfg.hidden_size, cfg.projection_dim, bias=False)
        self.text_projection = nn.Linear(cfg.text_hidden_size, cfg.projection_dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(cfg.logit_scale_init))

    def encode_image(self, pixels: torch.Tensor) -> torch.Tensor:
        """L2-normalised image embeddings."""
        return F.normalize(self.visual_projection(self.vision_model(pixels)[0]), dim=-1)

    def encode_text(self, ids: torch.Tensor, attention_mask: torch.Tensor | None = None):
        """L2-normalised text embeddings."""
        return F.normalize(self.text_projection(self.text_model(ids, attention_mask)), dim=-1)

    def forward(self, pixels, ids, attention_mask=None) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits_per_image [B_img, B_txt], logits_per_text) as ``CLIPModel`` returns them."""
        img, txt = self.encode_image(pixels), self.encode_text(ids, attention_mask)
        logits_per_text = self.logit_scale.exp() * txt @ img.t()
        return logits_per_text.t(), logits_per_text


def contrastive_loss(
    image_features: torch.Tensor, text_features: torch.Tensor, logit_scale: torch.Tensor
) -> torch.Tensor:
    """Symmetric InfoNCE on normalised features; ``logit_scale`` is already exponentiated.

    Matches ``open_clip.loss.ClipLoss()(image_features, text_features, logit_scale)``: the mean
    of image->text and text->image cross-entropies with the diagonal as targets.
    """
    logits = logit_scale * image_features @ text_features.t()
    targets = torch.arange(logits.shape[0], device=logits.device)
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.t(), targets)) / 2
