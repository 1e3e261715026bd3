"""Cross-modal product search: a rendered catalogue and a small CLIP-style dual encoder.

**Catalogue**: every product is a picture drawn with PIL (a category silhouette, a colour, a
pattern, the category's name printed as a label) and a caption (``"a red striped mug"``).

**Dual encoder** (CLIP, Radford et al. 2021, in miniature): a small CNN maps an image and a
bag-of-words encoder maps a caption into the same 64-d space; training pulls each matching
(image, caption) pair together and pushes the batch's other pairs apart with the symmetric
InfoNCE loss ``(CE(s * I T^T) + CE(s * T I^T)) / 2`` and a learned temperature ``s``.
Search runs through FAISS (``IndexFlatIP``): text -> image (find products from a description),
image -> image ("similar products"). Any Hugging Face ``CLIPModel`` folder can replace the small
encoder (:class:`HFClip`).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

CATEGORIES = ("shirt", "mug", "lamp", "bag", "hat", "vase")
COLOURS = {
    "red": (210, 40, 40),
    "green": (40, 160, 60),
    "blue": (40, 80, 210),
    "yellow": (230, 200, 40),
    "purple": (140, 60, 170),
    "orange": (240, 130, 30),
    "black": (30, 30, 30),
    "pink": (240, 130, 180),
}
PATTERNS = ("plain", "striped", "dotted", "checked")
SIZE = 48


@dataclass
class Product:
    """One catalogue item."""

    id: str
    category: str
    colour: str
    pattern: str

    @property
    def caption(self) -> str:
        return f"a {self.colour} {self.pattern} {self.category}"


def _silhouette(draw, category: str, box: tuple[float, float, float, float], fill) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    if category == "shirt":
        draw.polygon(
            [
                (x0, y0 + h * 0.25),
                (x0 + w * 0.3, y0),
                (x0 + w * 0.7, y0),
                (x1, y0 + h * 0.25),
                (x0 + w * 0.8, y0 + h * 0.4),
                (x0 + w * 0.8, y1),
                (x0 + w * 0.2, y1),
                (x0 + w * 0.2, y0 + h * 0.4),
            ],
            fill=fill,
        )
    elif category == "mug":
        draw.rectangle([x0, y0 + h * 0.15, x0 + w * 0.7, y1], fill=fill)
        draw.ellipse([x0 + w * 0.55, y0 + h * 0.35, x1, y0 + h * 0.75], outline=fill, width=3)
    elif category == "lamp":
        draw.polygon(
            [(x0 + w * 0.25, y0), (x0 + w * 0.75, y0), (x1, y0 + h * 0.5), (x0, y0 + h * 0.5)],
            fill=fill,
        )
        draw.rectangle([x0 + w * 0.45, y0 + h * 0.5, x0 + w * 0.55, y1 - 3], fill=fill)
        draw.rectangle([x0 + w * 0.2, y1 - 4, x0 + w * 0.8, y1], fill=fill)
    elif category == "bag":
        draw.rectangle([x0, y0 + h * 0.35, x1, y1], fill=fill)
        draw.arc([x0 + w * 0.2, y0, x0 + w * 0.8, y0 + h * 0.7], 180, 360, fill=fill, width=3)
    elif category == "hat":
        draw.ellipse([x0, y0 + h * 0.6, x1, y1], fill=fill)
        draw.rectangle([x0 + w * 0.25, y0 + h * 0.1, x0 + w * 0.75, y0 + h * 0.75], fill=fill)
    else:  # vase
        draw.polygon(
            [
                (x0 + w * 0.35, y0),
                (x0 + w * 0.65, y0),
                (x0 + w * 0.6, y0 + h * 0.2),
                (x1, y0 + h * 0.6),
                (x0 + w * 0.7, y1),
                (x0 + w * 0.3, y1),
                (x0, y0 + h * 0.6),
                (x0 + w * 0.4, y0 + h * 0.2),
            ],
            fill=fill,
        )


def render(product: Product, rng: random.Random):
    """A ``SIZE`` x ``SIZE`` RGB picture of ``product`` (position and size jittered by ``rng``)."""
    from PIL import Image, ImageDraw

    colour = COLOURS[product.colour]
    mask = Image.new("L", (SIZE, SIZE), 0)
    s = rng.uniform(0.62, 0.8) * SIZE
    x0, y0 = rng.uniform(2, SIZE - s - 2), rng.uniform(2, SIZE - s - 10)
    _silhouette(ImageDraw.Draw(mask), product.category, (x0, y0, x0 + s, y0 + s), 255)
    texture = Image.new("RGB", (SIZE, SIZE), colour)
    td = ImageDraw.Draw(texture)
    light = tuple(min(255, c + 110) for c in colour)
    if product.pattern == "striped":
        for x in range(0, SIZE, 6):
            td.rectangle([x, 0, x + 2, SIZE], fill=light)
    elif product.pattern == "dotted":
        for x in range(2, SIZE, 7):
            for y in range(2, SIZE, 7):
                td.ellipse([x, y, x + 3, y + 3], fill=light)
    elif product.pattern == "checked":
        for x in range(0, SIZE, 8):
            for y in range(0, SIZE, 8):
                if (x + y) // 8 % 2:
                    td.rectangle([x, y, x + 7, y + 7], fill=light)
    image = Image.new("RGB", (SIZE, SIZE), (245, 245, 240))
    image.paste(texture, (0, 0), mask)
    ImageDraw.Draw(image).text((2, SIZE - 10), product.category, fill=(90, 90, 90))
    return image


def catalogue(copies: int = 1, seed: int = 0) -> tuple[list[Product], np.ndarray]:
    """Every (category, colour, pattern) ``copies`` times: products and ``(n, 3, SIZE, SIZE)``."""
    rng = random.Random(seed)
    products, images = [], []
    for c in CATEGORIES:
        for col in COLOURS:
            for p in PATTERNS:
                for i in range(copies):
                    prod = Product(f"{c}-{col}-{p}-{seed}-{i}", c, col, p)
                    products.append(prod)
                    images.append(np.asarray(render(prod, rng), dtype=np.float32) / 255.0)
    return products, np.stack(images).transpose(0, 3, 1, 2).copy()


def tokenize(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


class DualEncoder(nn.Module):
    """A small CNN for images and a bag-of-words encoder for text, both into ``dim`` units."""

    def __init__(self, vocab: list[str], dim: int = 64) -> None:
        super().__init__()
        self.vocab = {w: i + 1 for i, w in enumerate(vocab)}  # 0 = unknown word
        self.image = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(64, dim),
        )
        self.words = nn.EmbeddingBag(len(self.vocab) + 1, dim, mode="mean")
        self.text_proj = nn.Sequential(nn.ReLU(), nn.Linear(dim, dim))
        self.log_scale = nn.Parameter(torch.tensor(np.log(10.0), dtype=torch.float32))

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.image(images), dim=-1)

    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        ids, offsets = [], []
        for t in texts:
            offsets.append(len(ids))
            ids.extend(self.vocab.get(w, 0) for w in tokenize(t) or ["?"])
        bag = self.words(torch.tensor(ids), torch.tensor(offsets))
        return F.normalize(bag + self.text_proj(bag), dim=-1)


def clip_loss(img: torch.Tensor, txt: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE over a batch of matching (image, text) rows."""
    logits = scale * img @ txt.T
    target = torch.arange(len(img))
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def train_dual_encoder(
    products: list[Product],
    images: np.ndarray,
    epochs: int = 20,
    batch_size: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
) -> tuple[DualEncoder, list[float]]:
    """Train a :class:`DualEncoder` on the catalogue's (image, caption) pairs."""
    torch.manual_seed(seed)
    vocab = sorted({w for p in products for w in tokenize(p.caption)})
    model = DualEncoder(vocab)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    x = torch.from_numpy(images)
    gen = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(epochs):
        order = torch.randperm(len(products), generator=gen)
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            img = model.encode_images(x[idx])
            txt = model.encode_texts([products[i].caption for i in idx.tolist()])
            loss = clip_loss(img, txt, model.log_scale.exp().clamp(max=100))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
    model.eval()
    return model, losses


class ProductSearch:
    """FAISS search over product image embeddings: by text or by another product's image."""

    def __init__(self, model, products: list[Product], images: np.ndarray) -> None:
        import faiss

        self.model, self.products = model, products
        with torch.no_grad():
            self.vectors = _np(model.encode_images(torch.from_numpy(images)))
        self.index = faiss.IndexFlatIP(self.vectors.shape[1])
        self.index.add(self.vectors)

    def by_text(self, query: str, k: int = 5) -> list[tuple[Product, float]]:
        with torch.no_grad():
            q = _np(self.model.encode_texts([query]))
        scores, ids = self.index.search(q, k)
        return [(self.products[i], float(s)) for s, i in zip(scores[0], ids[0], strict=True)]

    def similar(self, position: int, k: int = 5) -> list[tuple[Product, float]]:
        """Products whose pictures are nearest to product ``position``'s (itself left out)."""
        scores, ids = self.index.search(self.vectors[position : position + 1], k + 1)
        return [
            (self.products[i], float(s))
            for s, i in zip(scores[0], ids[0], strict=True)
            if i != position
        ][:k]


def _np(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().cpu().numpy(), dtype=np.float32)


def text_to_image_recall(model, products: list[Product], images: np.ndarray, k: int = 5) -> float:
    """For each caption, is a picture with exactly that caption among the ``k`` nearest images?"""
    with torch.no_grad():
        img = _np(model.encode_images(torch.from_numpy(images)))
        captions = sorted({p.caption for p in products})
        txt = _np(model.encode_texts(captions))
    top = np.argsort(-(txt @ img.T), axis=1)[:, :k]
    return float(
        np.mean(
            [
                any(products[j].caption == c for j in row)
                for c, row in zip(captions, top, strict=True)
            ]
        )
    )


class HFClip:
    """Any Hugging Face ``CLIPModel`` folder behind the same two methods as :class:`DualEncoder`."""

    def __init__(self, folder: str) -> None:
        from transformers import CLIPModel, CLIPProcessor

        self.model = CLIPModel.from_pretrained(folder).eval()
        self.processor = CLIPProcessor.from_pretrained(folder)

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        from PIL import Image

        pics = [
            Image.fromarray((im.permute(1, 2, 0).numpy() * 255).astype(np.uint8)) for im in images
        ]
        inputs = self.processor(images=pics, return_tensors="pt")
        with torch.no_grad():
            return F.normalize(_projected(self.model.get_image_features(**inputs)), dim=-1)

    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        inputs = self.processor(text=texts, return_tensors="pt", padding=True)
        with torch.no_grad():
            return F.normalize(_projected(self.model.get_text_features(**inputs)), dim=-1)


def _projected(out) -> torch.Tensor:
    """``get_*_features`` return the projected embeddings: a tensor in transformers 4, a
    ``BaseModelOutputWithPooling`` whose ``pooler_output`` holds them in transformers 5."""
    return out if isinstance(out, torch.Tensor) else out.pooler_output


__all__ = [
    "CATEGORIES",
    "COLOURS",
    "PATTERNS",
    "DualEncoder",
    "HFClip",
    "Product",
    "ProductSearch",
    "catalogue",
    "clip_loss",
    "render",
    "text_to_image_recall",
    "train_dual_encoder",
]
