"""The CLIP-style dual encoder learns text -> image retrieval on the rendered catalogue."""

from __future__ import annotations

import pytest
import torch

from ch04_embeddings.products import (
    ProductSearch,
    catalogue,
    clip_loss,
    text_to_image_recall,
    train_dual_encoder,
)


def test_clip_loss_is_symmetric_infonce():
    g = torch.Generator().manual_seed(0)
    img = torch.nn.functional.normalize(torch.randn(5, 8, generator=g), dim=-1)
    # perfectly matched pairs at a high temperature: the loss approaches 0; shuffled: it does not
    assert float(clip_loss(img, img, torch.tensor(100.0))) < 1e-3
    assert float(clip_loss(img, img[[1, 2, 3, 4, 0]], torch.tensor(100.0))) > 1.0


@pytest.mark.slow  # ~1 minute of CNN training on 2 cores; `products` and the demo run it too
def test_dual_encoder_learns_cross_modal_search():
    products, images = catalogue(1, seed=0)
    test_products, test_images = catalogue(1, seed=1)  # new renders of every product
    model, losses = train_dual_encoder(products, images, epochs=12)
    assert losses[-1] < losses[0]
    recall = text_to_image_recall(model, test_products, test_images, 5)
    assert recall >= 0.5  # chance: 5 / 192
    search = ProductSearch(model, test_products, test_images)
    hits = search.by_text("a red striped mug", 10)
    assert any(p.colour == "red" for p, _ in hits[:3])
    assert all(p.id != test_products[0].id for p, _ in search.similar(0, 3))
