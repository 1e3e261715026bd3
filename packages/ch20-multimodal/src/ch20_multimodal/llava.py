"""A LLaVA-style vision-language model (Liu et al., 2023): image encoder -> projector -> LM.

The CLIP vision tower encodes the image into patch features; a two-layer MLP projector maps them
into the language model's embedding space; the projected features replace the ``<image>``
placeholder tokens of the prompt, and the causal LM continues the text. This is the computation of
``transformers.LlavaForConditionalGeneration`` (hidden state ``vision_feature_layer``, class token
dropped under the ``"default"`` strategy, ``masked_scatter`` into the embeddings), written out with
this chapter's CLIP tower and projector and any ``transformers`` causal LM as the language side, so
a Hugging Face Llava folder (CLIP vision + Llama text) loads into it with equal logits.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ch20_multimodal.clip import CLIPConfig, VisionTransformer
from llmpath_core import UserError


class LlavaProjector(nn.Module):
    """``linear_1 -> GELU -> linear_2`` from vision width to text width (LLaVA-1.5's MLP)."""

    def __init__(self, vision_dim: int, text_dim: int, bias: bool = True) -> None:
        super().__init__()
        self.linear_1 = nn.Linear(vision_dim, text_dim, bias=bias)
        self.act = nn.GELU()
        self.linear_2 = nn.Linear(text_dim, text_dim, bias=bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear_2(self.act(self.linear_1(features)))


@dataclass
class LlavaSettings:
    """How image features enter the prompt (names as in ``LlavaConfig``)."""

    image_token_id: int
    vision_feature_layer: int = -2
    vision_feature_select_strategy: str = "default"  # "default" drops the class token; "full"


class TinyLlava(nn.Module):
    """Vision tower + projector + causal LM, fused by replacing ``<image>`` token embeddings."""

    def __init__(self, vision: CLIPConfig, language_model: nn.Module, settings: LlavaSettings):
        super().__init__()
        self.vision_config = vision
        self.settings = settings
        self.vision_tower = VisionTransformer(vision)
        text_dim = language_model.get_input_embeddings().embedding_dim
        self.multi_modal_projector = LlavaProjector(vision.hidden_size, text_dim)
        self.language_model = language_model

    @property
    def num_image_tokens(self) -> int:
        """How many ``<image>`` placeholders one image fills."""
        patches = (self.vision_config.image_size // self.vision_config.patch_size) ** 2
        return patches + (self.settings.vision_feature_select_strategy == "full")

    def image_features(self, pixels: torch.Tensor) -> torch.Tensor:
        """Projected image features [B, num_image_tokens, text_dim]."""
        states = self.vision_tower(pixels)[1][self.settings.vision_feature_layer]
        if self.settings.vision_feature_select_strategy == "default":
            states = states[:, 1:]
        return self.multi_modal_projector(states)

    def forward(
        self,
        input_ids: torch.Tensor,
        pixel_values: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Next-token logits [B, T, vocab]; the prompt holds ``num_image_tokens`` ``<image>``s."""
        is_image = input_ids == self.settings.image_token_id
        embeds = self.language_model.get_input_embeddings()(input_ids.masked_fill(is_image, 0))
        features = self.image_features(pixel_values).to(embeds.dtype)
        if int(is_image.sum()) != features.shape[0] * features.shape[1]:
            raise UserError(
                f"the prompt holds {int(is_image.sum())} <image> tokens but the images give "
                f"{features.shape[0] * features.shape[1]} features"
            )
        embeds = embeds.masked_scatter(is_image[..., None].expand_as(embeds), features)
        out = self.language_model(inputs_embeds=embeds, attention_mask=attention_mask)
        return out.logits

    @torch.no_grad()
    def generate(
        self, input_ids: torch.Tensor, pixel_values: torch.Tensor, eos_id: int, max_new: int = 4
    ) -> list[int]:
        """Greedy continuation of one prompt (batch of 1) until ``eos_id``; returns new ids."""
        ids, new = input_ids, []
        for _ in range(max_new):
            nxt = int(self.forward(ids, pixel_values)[0, -1].argmax())
            if nxt == eos_id:
                break
            new.append(nxt)
            ids = torch.cat([ids, torch.tensor([[nxt]])], dim=1)
        return new

    # --- Hugging Face interop -----------------------------------------------------------------

    @classmethod
    def from_hf(cls, hf_model: nn.Module) -> TinyLlava:
        """Copy a ``LlavaForConditionalGeneration`` (CLIP vision tower, Llama text) into ours."""
        from transformers import LlamaForCausalLM

        cfg = hf_model.config
        vc, tc = cfg.vision_config, cfg.text_config
        if vc.model_type != "clip_vision_model" or tc.model_type != "llama":
            raise UserError(
                f"only CLIP-vision + Llama Llava models load here, not {vc.model_type} + "
                f"{tc.model_type}"
            )
        if isinstance(cfg.vision_feature_layer, list):
            raise UserError("a list of vision_feature_layer values is not supported")
        vision = CLIPConfig(
            image_size=vc.image_size,
            patch_size=vc.patch_size,
            channels=vc.num_channels,
            hidden_size=vc.hidden_size,
            intermediate_size=vc.intermediate_size,
            num_layers=vc.num_hidden_layers,
            num_heads=vc.num_attention_heads,
            layer_norm_eps=vc.layer_norm_eps,
        )
        lm = LlamaForCausalLM(tc)
        model = cls(
            vision,
            lm,
            LlavaSettings(
                cfg.image_token_id, cfg.vision_feature_layer, cfg.vision_feature_select_strategy
            ),
        )
        state = {}
        for key, value in hf_model.state_dict().items():
            if key.startswith("model.vision_tower."):
                state["vision_tower." + key.removeprefix("model.vision_tower.")] = value
            elif key.startswith("model.multi_modal_projector."):
                state[key.removeprefix("model.")] = value
            elif key.startswith("model.language_model."):
                state["language_model.model." + key.removeprefix("model.language_model.")] = value
            elif key.startswith("lm_head."):
                state["language_model." + key] = value
        state = {k: v for k, v in state.items() if "position_ids" not in k}
        model.load_state_dict(state, strict=not lm.config.tie_word_embeddings)
        return model.eval()

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> TinyLlava:
        """Load a Hugging Face ``LlavaForConditionalGeneration`` folder."""
        from transformers import LlavaForConditionalGeneration

        folder = Path(folder)
        if not (folder / "config.json").is_file():
            raise UserError(f"{folder} is not a model folder (no config.json)")
        return cls.from_hf(LlavaForConditionalGeneration.from_pretrained(folder))

    def to_hf(self) -> nn.Module:
        """The same weights as a ``LlavaForConditionalGeneration`` (for ``save_pretrained``)."""
        from transformers import CLIPVisionConfig, LlavaConfig, LlavaForConditionalGeneration

        v = self.vision_config
        cfg = LlavaConfig(
            vision_config=CLIPVisionConfig(
                hidden_size=v.hidden_size,
                intermediate_size=v.intermediate_size,
                num_hidden_layers=v.num_layers,
                num_attention_heads=v.num_heads,
                image_size=v.image_size,
                patch_size=v.patch_size,
                num_channels=v.channels,
                layer_norm_eps=v.layer_norm_eps,
                hidden_act="quick_gelu",
            ),
            text_config=self.language_model.config,
            image_token_index=self.settings.image_token_id,
            vision_feature_layer=self.settings.vision_feature_layer,
            vision_feature_select_strategy=self.settings.vision_feature_select_strategy,
            projector_hidden_act="gelu",
            image_seq_length=self.num_image_tokens,
        )
        hf = LlavaForConditionalGeneration(cfg)
        state = {}
        for key, value in self.state_dict().items():
            if key.startswith("vision_tower.") or key.startswith("multi_modal_projector."):
                state["model." + key] = value
            elif key.startswith("language_model.model."):
                state["model.language_model." + key.removeprefix("language_model.model.")] = value
            elif key.startswith("language_model.lm_head."):
                state[key.removeprefix("language_model.")] = value
        hf.load_state_dict(state, strict=False)
        return hf.eval()
