"""The Hugging Face CLIPModel folder path (`HFClip`, `products --clip-model`) on a tiny random
CLIP written with save_pretrained (no hub): our embeddings are exactly transformers' own."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory):
    """A random 2-layer CLIPModel, a character-level CLIPTokenizer and a 32-pixel processor."""
    from transformers import (
        CLIPConfig,
        CLIPImageProcessor,
        CLIPModel,
        CLIPProcessor,
        CLIPTokenizer,
    )

    folder = tmp_path_factory.mktemp("tiny-clip")
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in "abcdefghijklmnopqrstuvwxyz":
        vocab[c] = len(vocab)
        vocab[c + "</w>"] = len(vocab)
    vocab["re</w>"] = len(vocab)  # one merge, so the BPE path is used too
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\nr e</w>\n")
    tokenizer = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    images = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    small = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2)
    config = CLIPConfig(
        text_config=dict(
            vocab_size=len(vocab),
            max_position_embeddings=40,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
            **small,
        ),
        vision_config=dict(image_size=32, patch_size=8, **small),
        projection_dim=16,
    )
    torch.manual_seed(0)
    CLIPModel(config).save_pretrained(folder)
    CLIPProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(folder)
    return folder


def test_hfclip_equals_transformers_clip(clip_folder):
    from PIL import Image
    from transformers import CLIPModel, CLIPProcessor

    from ch04_embeddings.products import HFClip, catalogue

    ours = HFClip(str(clip_folder))
    products, images = catalogue(1, seed=0)
    images, captions = images[:6], [p.caption for p in products[:6]]
    # the reference: transformers' full CLIPModel forward, whose *_embeds are normalised
    model = CLIPModel.from_pretrained(clip_folder).eval()
    processor = CLIPProcessor.from_pretrained(clip_folder)
    pics = [Image.fromarray((im.transpose(1, 2, 0) * 255).astype(np.uint8)) for im in images]
    with torch.no_grad():
        ref = model(**processor(text=captions, images=pics, return_tensors="pt", padding=True))
    got_t = ours.encode_texts(captions)
    got_i = ours.encode_images(torch.from_numpy(images))
    assert got_t.shape == (6, 16) and got_i.shape == (6, 16)
    assert torch.allclose(got_t, ref.text_embeds, atol=1e-6)
    assert torch.allclose(got_i, ref.image_embeds, atol=1e-6)
    assert (got_t[0] - got_t[1]).abs().max() > 1e-3  # different captions, different vectors


def test_products_command_with_a_clip_folder(clip_folder, capsys):
    from ch04_embeddings.cli import app
    from llmpath_core.cli import run_app

    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        run_app(
            app,
            [
                "products",
                "a red striped mug",
                "--k",
                "3",
                "--clip-model",
                str(clip_folder),
                "--json",
            ],
        )
    out = capsys.readouterr()
    assert info.value.code == 0, out.err
    result = json.loads(out.out)
    assert len(result["hits"]) == 3 and result["first_loss"] is None  # no training: CLIP as is
    assert 0.0 <= result["recall_at_5"] <= 1.0
