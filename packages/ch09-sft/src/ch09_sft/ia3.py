"""IA3 from scratch: learned per-feature rescaling vectors, in peft's formulation and format.

IA3 ("infused adapter by inhibiting and amplifying inner activations") trains one vector per
target layer, initialised to ones:

- an attention projection (``k_proj``, ``v_proj``) scales its *output*: ``l ⊙ (W x)``, ``l`` of
  shape ``(out, 1)`` as peft stores it;
- a *feed-forward* module (``down_proj``) scales its *input*: ``W (l ⊙ x)``, ``l`` of shape
  ``(1, in)``.

Merging multiplies the weight's rows (output scaling) or columns (input scaling) by ``l``, which
is peft's ``merge_and_unload``. Saved as ``adapter_config.json`` (``peft_type: IA3``) +
``adapter_model.safetensors`` with keys ``base_model.model.<module>.ia3_l``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from llmpath_core import UserError
from llmpath_core.io import atomic_dir

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
PEFT_PREFIX = "base_model.model."


@dataclass
class IA3Config:
    """The subset of peft's ``IA3Config`` implemented here (peft's defaults for Llama)."""

    target_modules: list[str] = field(default_factory=lambda: ["k_proj", "v_proj", "down_proj"])
    feedforward_modules: list[str] = field(default_factory=lambda: ["down_proj"])


class IA3Linear(nn.Module):
    """``l ⊙ W x`` (output scaling) or ``W (l ⊙ x)`` (feed-forward: input scaling)."""

    def __init__(self, base: nn.Linear, is_feedforward: bool):
        super().__init__()
        self.base = base
        for p in base.parameters():
            p.requires_grad_(False)
        self.is_feedforward = is_feedforward
        shape = (1, base.in_features) if is_feedforward else (base.out_features, 1)
        w = base.weight
        self.ia3_l = nn.Parameter(torch.ones(shape, device=w.device, dtype=w.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.ia3_l.flatten()
        if self.is_feedforward:
            return self.base(x * scale)
        return self.base(x) * scale

    @torch.no_grad()
    def merged_linear(self) -> nn.Linear:
        """The plain ``nn.Linear`` equal to this layer (peft's ``merge``: ``W * l``)."""
        self.base.weight.mul_(self.ia3_l)  # (out,1) scales rows, (1,in) scales columns
        if not self.is_feedforward and self.base.bias is not None:
            self.base.bias.mul_(self.ia3_l.flatten())
        return self.base


def _matches(name: str, targets: list[str] | str) -> bool:
    if isinstance(targets, str):
        return re.fullmatch(targets, name) is not None
    return any(name == t or name.endswith("." + t) for t in targets)


def inject_ia3(model: nn.Module, config: IA3Config) -> list[str]:
    """Wrap every matching ``nn.Linear`` in ``IA3Linear`` and freeze all other parameters."""
    bad = [f for f in config.feedforward_modules if f not in config.target_modules]
    if bad and not isinstance(config.feedforward_modules, str):
        raise UserError(f"feedforward modules {bad} must also be target modules")
    names = [
        n
        for n, m in model.named_modules()
        if isinstance(m, nn.Linear) and _matches(n, config.target_modules)
    ]
    if not names:
        raise UserError(f"target modules {config.target_modules} match no linear layer")
    for p in model.parameters():
        p.requires_grad_(False)
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        ff = (
            _matches(name, config.feedforward_modules)
            if isinstance(config.feedforward_modules, str)
            else any(name.endswith(t) for t in config.feedforward_modules)  # peft's suffix rule
        )
        setattr(parent, child, IA3Linear(getattr(parent, child), ff))
    model._llmpath_ia3_config = config  # type: ignore[attr-defined]
    return names


def ia3_modules(model: nn.Module) -> dict[str, IA3Linear]:
    """The injected IA3 layers by module name."""
    return {n: m for n, m in model.named_modules() if isinstance(m, IA3Linear)}


def merge_ia3(model: nn.Module) -> nn.Module:
    """Fold every IA3 vector into its weight and put plain ``nn.Linear`` layers back."""
    for name, module in ia3_modules(model).items():
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, module.merged_linear())
    if hasattr(model, "_llmpath_ia3_config"):
        del model._llmpath_ia3_config
    for p in model.parameters():
        p.requires_grad_(True)
    return model


def save_ia3(model: nn.Module, path: str | Path, *, base_model: str = "") -> Path:
    """Write the adapter in peft's IA3 format (``peft.PeftModel.from_pretrained`` loads it)."""
    from safetensors.torch import save_file

    config: IA3Config = model._llmpath_ia3_config  # type: ignore[attr-defined]
    cfg = {
        "peft_type": "IA3",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": base_model,
        "target_modules": list(config.target_modules),
        "feedforward_modules": list(config.feedforward_modules),
        "fan_in_fan_out": False,
        "inference_mode": True,
        "init_ia3_weights": True,
        "modules_to_save": None,
    }
    weights = {
        f"{PEFT_PREFIX}{n}.ia3_l": m.ia3_l.detach().contiguous().clone()
        for n, m in ia3_modules(model).items()
    }
    with atomic_dir(path) as tmp:
        (tmp / ADAPTER_CONFIG).write_text(json.dumps(cfg, indent=2) + "\n")
        save_file(weights, str(tmp / ADAPTER_WEIGHTS), metadata={"format": "pt"})
    return Path(path)


def load_ia3(model: nn.Module, path: str | Path, raw: dict[str, Any] | None = None) -> nn.Module:
    """Inject and load a peft-format IA3 adapter; ``UserError`` if it does not fit the model."""
    from safetensors.torch import load_file

    raw = raw or json.loads((Path(path) / ADAPTER_CONFIG).read_text())
    targets = raw.get("target_modules") or ["k_proj", "v_proj", "down_proj"]
    ff = raw.get("feedforward_modules") or ["down_proj"]
    config = IA3Config(
        target_modules=targets if isinstance(targets, str) else sorted(targets),
        feedforward_modules=ff if isinstance(ff, str) else sorted(ff),
    )
    weights = load_file(str(Path(path) / ADAPTER_WEIGHTS))
    inject_ia3(model, config)
    layers = ia3_modules(model)
    own = {f"{PEFT_PREFIX}{n}.ia3_l": m.ia3_l for n, m in layers.items()}
    if set(own) != set(weights):
        raise UserError(f"adapter {path} does not fit this base model (its layers differ)")
    with torch.no_grad():
        for key, value in weights.items():
            if own[key].shape != value.shape:
                raise UserError(
                    f"adapter {path} does not fit this base model: {key} is "
                    f"{tuple(value.shape)}, the model needs {tuple(own[key].shape)}"
                )
            own[key].copy_(value)
    return model


__all__ = [
    "IA3Config",
    "IA3Linear",
    "ia3_modules",
    "inject_ia3",
    "load_ia3",
    "merge_ia3",
    "save_ia3",
]
