"""Device and dtype choice.

``auto`` picks CUDA, then Apple's MPS, then the CPU. An explicit choice is validated: asking for
``cuda`` on a machine without it raises :class:`~llmpath_core.errors.UserError` with a hint,
instead of failing deep inside the first kernel launch.
"""

from __future__ import annotations

import torch

from llmpath_core.errors import UserError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")

_DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "float16": torch.float16,
    "fp16": torch.float16,
    "half": torch.float16,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
}


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """Turn a device name into a :class:`torch.device` that exists on this machine.

    ``"auto"`` (or ``None``) picks ``cuda`` if available, else ``mps``, else ``cpu``. Indexed
    names such as ``"cuda:1"`` are accepted and checked against the device count.
    """
    if isinstance(name, torch.device):
        name = str(name)
    name = (name or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    kind, _, index = name.partition(":")
    if kind not in DEVICE_CHOICES:
        raise UserError(f"unknown device {name!r}: choose one of {', '.join(DEVICE_CHOICES)}")
    if index and not index.isdigit():
        raise UserError(f"bad device index in {name!r}: expected e.g. 'cuda:0'")
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise UserError(
                "device 'cuda' was requested but CUDA is not available on this machine: "
                "use --device cpu or --device auto"
            )
        if index and int(index) >= torch.cuda.device_count():
            raise UserError(
                f"device {name!r} does not exist: this machine has "
                f"{torch.cuda.device_count()} CUDA device(s)"
            )
    if kind == "mps" and not _mps_available():
        raise UserError(
            "device 'mps' was requested but Apple MPS is not available: use --device cpu or auto"
        )
    if kind == "cpu" and index:
        raise UserError("device 'cpu' takes no index")
    return torch.device(name)


def resolve_dtype(name: str | torch.dtype | None = "auto", device: torch.device | None = None):
    """Turn a dtype name into a :class:`torch.dtype`.

    ``"auto"`` gives bfloat16 on CUDA devices that support it, float16 on other CUDA devices and
    MPS, and float32 on the CPU (where half precision is slow or unsupported for many ops).
    """
    if isinstance(name, torch.dtype):
        return name
    name = (name or "auto").strip().lower()
    if name == "auto":
        device = device or resolve_device("auto")
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if device.type == "mps":
            return torch.float16
        return torch.float32
    if name not in _DTYPES:
        choices = ", ".join(["auto", *sorted(_DTYPES)])
        raise UserError(f"unknown dtype {name!r}: choose one of {choices}")
    return _DTYPES[name]


__all__ = ["DEVICE_CHOICES", "resolve_device", "resolve_dtype"]
