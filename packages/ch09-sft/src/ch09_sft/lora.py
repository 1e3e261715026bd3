"""LoRA and DoRA from scratch: inject, merge/unmerge, save and load in peft's on-disk format.

``LoRALinear`` wraps an ``nn.Linear`` ``W`` and adds ``(alpha / r) * B @ A`` (``A``: r x in,
kaiming-uniform like peft; ``B``: out x r, zeros, so the model is unchanged at init). With
``use_dora`` it is DoRA: the output is rescaled per output row by ``m / ||W + s B A||`` with a
learned magnitude ``m`` initialised to the norm (peft's formulation, the norm detached).

Adapters are written as ``adapter_config.json`` + ``adapter_model.safetensors`` with peft's key
names (``base_model.model.<module>.lora_A.weight``), so ``peft.PeftModel.from_pretrained`` loads
ours and :func:`load_adapter` loads peft's.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
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
class LoRAConfig:
    """The subset of peft's ``LoraConfig`` this module implements (same names, same meaning)."""

    r: int = 8
    lora_alpha: float = 16.0
    target_modules: list[str] = field(default_factory=lambda: ["q_proj", "v_proj"])
    lora_dropout: float = 0.0
    use_dora: bool = False

    @property
    def scaling(self) -> float:
        """``alpha / r`` (peft's default, not rsLoRA)."""
        return self.lora_alpha / self.r


class LoRALinear(nn.Module):
    """``base(x) + (alpha/r) * B(A(dropout(x)))``; DoRA rescales rows by ``m / ||W + sBA||``."""

    def __init__(
        self, base: nn.Linear, r: int, alpha: float, dropout: float = 0.0, *, use_dora=False
    ):
        super().__init__()
        if r < 1 or r > min(base.in_features, base.out_features):
            raise UserError(
                f"LoRA rank {r} must be in [1, {min(base.in_features, base.out_features)}] "
                f"for a {base.in_features}->{base.out_features} layer"
            )
        self.base = base
        for p in base.parameters():
            p.requires_grad_(False)
        self.r, self.alpha, self.scaling = r, alpha, alpha / r
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        w = base.weight
        self.lora_A = nn.Linear(base.in_features, r, bias=False, device=w.device, dtype=w.dtype)
        self.lora_B = nn.Linear(r, base.out_features, bias=False, device=w.device, dtype=w.dtype)
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)
        self.use_dora = use_dora
        self.magnitude: nn.Parameter | None = None
        if use_dora:
            self.magnitude = nn.Parameter(self._weight_norm().detach().clone())
        self.merged = False

    def delta_weight(self) -> torch.Tensor:
        """``(alpha / r) * B @ A`` (out x in)."""
        return self.scaling * (self.lora_B.weight @ self.lora_A.weight)

    def _weight_norm(self) -> torch.Tensor:
        """Row norms of ``W + s B A`` (peft's ``weight_norm``, one per output feature)."""
        return (self.base.weight + self.delta_weight()).norm(p=2, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.merged:
            return self.base(x)
        result = self.base(x)
        xd = self.dropout(x)
        lora = self.lora_B(self.lora_A(xd)) * self.scaling
        if not self.use_dora:
            return result + lora
        scale = self.magnitude / self._weight_norm().detach()
        if isinstance(self.dropout, nn.Identity):  # peft reuses the base output then
            bias = self.base.bias
            base_out = result if bias is None else result - bias
        else:
            base_out = nn.functional.linear(xd, self.base.weight)
        out = (scale - 1) * base_out + scale * lora
        return result + out

    @torch.no_grad()
    def merged_weight(self) -> torch.Tensor:
        """The weight that makes a plain linear layer equal to this one (no dropout)."""
        w = self.base.weight + self.delta_weight()
        if self.use_dora:
            w = w * (self.magnitude / w.norm(p=2, dim=1)).unsqueeze(1)
        return w

    @torch.no_grad()
    def merge(self) -> None:
        """Fold the adapter into ``base.weight`` (keeping the old weight to unmerge)."""
        if self.merged:
            return
        self._saved = self.base.weight.detach().clone()
        self.base.weight.copy_(self.merged_weight())
        self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """Restore the base weight saved by :meth:`merge`."""
        if not self.merged:
            return
        self.base.weight.copy_(self._saved)
        del self._saved
        self.merged = False


def _matches(name: str, targets: Sequence[str] | str) -> bool:
    """peft's rule: a string is a full regex match; a list matches a name or a ``.suffix``."""
    if isinstance(targets, str):
        return re.fullmatch(targets, name) is not None
    return any(name == t or name.endswith("." + t) for t in targets)


def inject_lora(model: nn.Module, config: LoRAConfig) -> list[str]:
    """Replace every ``nn.Linear`` whose name matches ``config.target_modules`` by ``LoRALinear``.

    Freezes every other parameter. Returns the wrapped module names; raises ``UserError`` when
    nothing matches.
    """
    names = [
        n
        for n, m in model.named_modules()
        if isinstance(m, nn.Linear) and _matches(n, config.target_modules)
    ]
    if not names:
        linear = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
        raise UserError(
            f"target modules {config.target_modules} match no linear layer of the model "
            f"(it has e.g. {', '.join(linear[:4])})"
        )
    for p in model.parameters():
        p.requires_grad_(False)
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        base = getattr(parent, child)
        setattr(
            parent,
            child,
            LoRALinear(
                base, config.r, config.lora_alpha, config.lora_dropout, use_dora=config.use_dora
            ),
        )
    model._llmpath_lora_config = config  # type: ignore[attr-defined]
    return names


def lora_modules(model: nn.Module) -> dict[str, LoRALinear]:
    """The injected layers by module name."""
    return {n: m for n, m in model.named_modules() if isinstance(m, LoRALinear)}


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """``(trainable, total)`` parameters, counted like peft's ``get_nb_trainable_parameters``."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total


def merge_lora(model: nn.Module) -> nn.Module:
    """Merge every adapter and put plain ``nn.Linear`` layers back (peft's ``merge_and_unload``).

    IA3 layers (:mod:`ch09_sft.ia3`) are merged too, so this unloads any adapter of this package.
    """
    from ch09_sft.ia3 import ia3_modules, merge_ia3

    if ia3_modules(model):
        merge_ia3(model)
    for name, module in lora_modules(model).items():
        module.merge()
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, module.base)
    if hasattr(model, "_llmpath_lora_config"):
        del model._llmpath_lora_config
    for p in model.parameters():
        p.requires_grad_(True)
    return model


def adapter_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The adapter tensors under peft's saved key names."""
    out: dict[str, torch.Tensor] = {}
    for name, m in lora_modules(model).items():
        key = PEFT_PREFIX + name
        out[f"{key}.lora_A.weight"] = m.lora_A.weight.detach().contiguous().clone()
        out[f"{key}.lora_B.weight"] = m.lora_B.weight.detach().contiguous().clone()
        if m.use_dora:
            out[f"{key}.lora_magnitude_vector"] = m.magnitude.detach().contiguous().clone()
    return out


def save_adapter(model: nn.Module, path: str | Path, *, base_model: str = "") -> Path:
    """Write ``adapter_config.json`` + ``adapter_model.safetensors`` (peft's format) atomically."""
    from safetensors.torch import save_file

    config: LoRAConfig = model._llmpath_lora_config  # type: ignore[attr-defined]
    cfg = {
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": base_model,
        "r": config.r,
        "lora_alpha": config.lora_alpha,
        "lora_dropout": config.lora_dropout,
        "target_modules": list(config.target_modules),
        "use_dora": config.use_dora,
        "bias": "none",
        "fan_in_fan_out": False,
        "inference_mode": True,
        "init_lora_weights": True,
        "use_rslora": False,
        "modules_to_save": None,
    }
    with atomic_dir(path) as tmp:
        (tmp / ADAPTER_CONFIG).write_text(json.dumps(cfg, indent=2) + "\n")
        save_file(adapter_state_dict(model), str(tmp / ADAPTER_WEIGHTS), metadata={"format": "pt"})
    return Path(path)


def read_adapter_config(path: str | Path) -> LoRAConfig:
    """The ``LoRAConfig`` of a peft-format LoRA adapter folder."""
    file = Path(path) / ADAPTER_CONFIG
    if not file.is_file():
        raise UserError(f"{path} is not an adapter folder (no {ADAPTER_CONFIG})")
    raw: dict[str, Any] = json.loads(file.read_text())
    if raw.get("peft_type", "LORA") != "LORA":
        raise UserError(
            f"{path}: only LoRA/DoRA/IA3 adapters are supported, not {raw['peft_type']}"
        )
    targets = raw.get("target_modules") or ["q_proj", "v_proj"]
    return LoRAConfig(
        r=int(raw["r"]),
        lora_alpha=float(raw.get("lora_alpha", 8)),
        target_modules=targets if isinstance(targets, str) else sorted(targets),
        lora_dropout=float(raw.get("lora_dropout", 0.0)),
        use_dora=bool(raw.get("use_dora", False)),
    )


def load_adapter(model: nn.Module, path: str | Path) -> nn.Module:
    """Inject the adapter of a peft-format folder (LoRA, DoRA or IA3) into ``model``, load it.

    Raises ``UserError`` when the adapter was made for another base model (missing modules or
    shapes that do not fit).
    """
    from safetensors.torch import load_file

    file = Path(path) / ADAPTER_CONFIG
    if file.is_file():
        raw = json.loads(file.read_text())
        if raw.get("peft_type") == "IA3":
            from ch09_sft.ia3 import load_ia3

            return load_ia3(model, path, raw)
    config = read_adapter_config(path)
    weights = load_file(str(Path(path) / ADAPTER_WEIGHTS))
    inject_lora(model, config)
    own = adapter_state_dict(model)
    if set(own) != set(weights):
        missing = sorted(set(own) ^ set(weights))[:3]
        raise UserError(
            f"adapter {path} does not fit this base model (keys differ, e.g. {missing})"
        )
    for key, value in weights.items():
        if own[key].shape != value.shape:
            raise UserError(
                f"adapter {path} does not fit this base model: {key} is {tuple(value.shape)}, "
                f"the model needs {tuple(own[key].shape)}"
            )
    with torch.no_grad():
        for name, m in lora_modules(model).items():
            key = PEFT_PREFIX + name
            m.lora_A.weight.copy_(weights[f"{key}.lora_A.weight"])
            m.lora_B.weight.copy_(weights[f"{key}.lora_B.weight"])
            if m.use_dora:
                m.magnitude.copy_(weights[f"{key}.lora_magnitude_vector"])
    return model


def config_dict(config: LoRAConfig) -> dict[str, Any]:
    """The config as a plain dict (for results)."""
    return asdict(config)
