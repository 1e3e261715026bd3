"""Our CLIP, LLaVA projector, contrastive loss and schedulers against the real libraries."""

from __future__ import annotations

import pytest
import torch

from ch20_multimodal.clip import CLIPConfig, TinyCLIP, contrastive_loss
from ch20_multimodal.llava import LlavaProjector, TinyLlava
from ch20_multimodal.schedulers import DDIMScheduler, DDPMScheduler


def _hf_clip():
    from transformers import CLIPConfig as HFConfig
    from transformers import CLIPModel

    torch.manual_seed(0)
    cfg = HFConfig(
        text_config=dict(
            vocab_size=40, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
            num_attention_heads=4, max_position_embeddings=32, eos_token_id=3, bos_token_id=1,
            pad_token_id=0, hidden_act="quick_gelu",
        ),
        vision_config=dict(
            hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            image_size=64, patch_size=16, hidden_act="quick_gelu",
        ),
        projection_dim=64,
    )  # fmt: skip
    return CLIPModel(cfg).eval()


def test_clip_towers_match_transformers_clipmodel():
    """Copied weights, same inputs (one padded caption): logits within 1e-5."""
    hf = _hf_clip()
    ours = TinyCLIP(CLIPConfig(vocab_size=40, eos_token_id=3)).eval()
    state = {k: v for k, v in hf.state_dict().items() if "position_ids" not in k}
    ours.load_state_dict(state, strict=True)
    torch.manual_seed(1)
    pixels = torch.randn(3, 3, 64, 64)
    ids = torch.randint(4, 40, (3, 10))
    ids[:, 7] = 3
    ids[0, 8:] = 0
    mask = (ids != 0).long()
    with torch.no_grad():
        ref = hf(input_ids=ids, pixel_values=pixels, attention_mask=mask)
        per_image, per_text = ours(pixels, ids, mask)
        ref_vision = hf.vision_model(pixel_values=pixels, output_hidden_states=True)
        _, states = ours.vision_model(pixels)
    assert torch.allclose(per_image, ref.logits_per_image, atol=1e-5, rtol=0)
    assert torch.allclose(per_text, ref.logits_per_text, atol=1e-5, rtol=0)
    for a, b in zip(states, ref_vision.hidden_states, strict=True):
        assert torch.allclose(a, b, atol=1e-5, rtol=0)


@pytest.mark.parametrize("scale", [1.0, 14.3, 100.0])
def test_contrastive_loss_matches_open_clip(scale):
    from open_clip.loss import ClipLoss

    torch.manual_seed(0)
    img = torch.nn.functional.normalize(torch.randn(16, 32), dim=-1)
    txt = torch.nn.functional.normalize(img + 0.5 * torch.randn(16, 32), dim=-1)
    ref = ClipLoss()(img, txt, torch.tensor(scale))
    ours = contrastive_loss(img, txt, torch.tensor(scale))
    assert abs(ours.item() - ref.item()) <= 1e-6
    # the loss falls when pairs align: a wrong-target implementation would not
    assert contrastive_loss(img, img, torch.tensor(scale)) < ours


def _hf_llava(strategy="default", layer=-2):
    from transformers import (
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
    )

    torch.manual_seed(0)
    cfg = LlavaConfig(
        vision_config=CLIPVisionConfig(
            hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4,
            image_size=32, patch_size=8,
        ),
        text_config=LlamaConfig(
            vocab_size=60, hidden_size=48, intermediate_size=96, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2,
        ),
        image_token_index=59,
        vision_feature_select_strategy=strategy,
        vision_feature_layer=layer,
    )  # fmt: skip
    return LlavaForConditionalGeneration(cfg).eval()


def test_projector_matches_llava_multimodal_projector():
    hf = _hf_llava()
    ours = LlavaProjector(32, 48)
    ours.load_state_dict(hf.model.multi_modal_projector.state_dict())
    x = torch.randn(2, 16, 32)
    with torch.no_grad():
        assert torch.allclose(ours(x), hf.model.multi_modal_projector(x), atol=1e-6, rtol=0)


@pytest.mark.parametrize(("strategy", "layer"), [("default", -2), ("full", -1)])
def test_tinyllava_matches_llava_for_conditional_generation(tmp_path, strategy, layer):
    """From a saved HF Llava folder, our model gives its logits (≤ 1e-5), and back again."""
    hf = _hf_llava(strategy, layer)
    hf.save_pretrained(tmp_path / "llava")
    ours = TinyLlava.from_pretrained(tmp_path / "llava")
    n = ours.num_image_tokens
    assert n == 16 + (strategy == "full")
    ids = torch.tensor([[1, *[59] * n, 5, 6, 7], [1, *[59] * n, 8, 9, 10]])
    pixels = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ref = hf(input_ids=ids, pixel_values=pixels).logits
        assert torch.allclose(ours(ids, pixels), ref, atol=1e-5, rtol=0)
        back = ours.to_hf()(input_ids=ids, pixel_values=pixels).logits
        assert torch.allclose(back, ref, atol=1e-5, rtol=0)


@pytest.mark.parametrize("kind", ["ddpm", "ddim", "ddim-eta"])
def test_scheduler_steps_match_diffusers(kind):
    """A full 50-step trajectory with random eps: every step within 1e-6 of diffusers'."""
    import diffusers

    ours, ref = {
        "ddpm": (DDPMScheduler(), diffusers.DDPMScheduler()),
        "ddim": (DDIMScheduler(), diffusers.DDIMScheduler()),
        "ddim-eta": (DDIMScheduler(), diffusers.DDIMScheduler()),
    }[kind]
    extra = {"eta": 0.7} if kind == "ddim-eta" else {}
    ours.set_timesteps(50)
    ref.set_timesteps(50)
    assert ours.timesteps.tolist() == ref.timesteps.tolist()
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, 8)
    x0 = torch.randn(2, 3, 8, 8)
    noise = torch.randn(2, 3, 8, 8)
    t = torch.tensor([10, 900])
    assert torch.allclose(ours.add_noise(x0, noise, t), ref.add_noise(x0, noise, t), atol=1e-6)
    for step in ref.timesteps:
        eps = torch.randn(2, 3, 8, 8)
        a = ours.step(eps, step, x, generator=torch.Generator().manual_seed(int(step)), **extra)
        b = ref.step(
            eps, step, x, generator=torch.Generator().manual_seed(int(step)), **extra
        ).prev_sample
        assert torch.allclose(a, b, atol=1e-6, rtol=0), int(step)
        x = b
