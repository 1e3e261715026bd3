"""Mixed precision for the training step: bf16 / fp16 autocast, and fp16's loss scaling.

* ``fp32``: nothing changes (autocast off, the scaler a no-op).
* ``bf16``: the forward pass runs its matmuls in bfloat16 under ``torch.autocast``; bf16 keeps
  fp32's exponent range, so gradients need no scaling (Micikevicius et al. 2018 for the idea).
* ``fp16``: autocast in float16 plus a ``GradScaler``: the loss is multiplied up before
  ``backward()`` so small gradients do not flush to zero in fp16's narrow range, the gradients are
  divided back before clipping, and a step whose gradients overflowed is skipped (the scale then
  halves).

The loss itself is always computed in fp32 (the logits are cast up first).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

PRECISIONS = ("fp32", "bf16", "fp16")
AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class MixedPrecision:
    """Autocast and loss scaling for one ``precision`` on one ``device``."""

    def __init__(self, precision: str, device: torch.device) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        self.device_type = device.type
        self.dtype = AUTOCAST_DTYPES.get(precision)
        # fp16 needs loss scaling (its exponent range is narrow); bf16 and fp32 do not
        self.scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")

    def autocast(self) -> torch.autocast:
        """Low-precision matmuls in the forward pass (a no-op context for fp32)."""
        return torch.autocast(self.device_type, dtype=self.dtype, enabled=self.dtype is not None)

    def backward(self, loss: torch.Tensor) -> None:
        self.scaler.scale(loss).backward()

    def clip_and_step(
        self, optimizer, parameters: Iterable[torch.Tensor], max_norm: float
    ) -> float:
        """Unscale, clip to ``max_norm`` (global L2), step (skipped on fp16 overflow); the norm."""
        self.scaler.unscale_(optimizer)  # clip the true gradients (a no-op unless fp16)
        grad_norm = torch.nn.utils.clip_grad_norm_(parameters, max_norm)
        if isinstance(grad_norm, torch.Tensor) and hasattr(grad_norm, "full_tensor"):
            grad_norm = grad_norm.full_tensor()  # a DTensor under FSDP
        self.scaler.step(optimizer)
        self.scaler.update()
        return float(grad_norm)

    def state_dict(self) -> dict | None:
        """The scaler's state for a checkpoint (None when there is no scaling)."""
        return self.scaler.state_dict() if self.scaler.is_enabled() else None

    def load_state_dict(self, state: dict | None) -> None:
        if state is not None:
            self.scaler.load_state_dict(state)


__all__ = ["AUTOCAST_DTYPES", "PRECISIONS", "MixedPrecision"]
