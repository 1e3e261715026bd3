"""Training efficiency on one table: precision, gradient checkpointing, accumulation.

Each variant trains the same model on the same batches for the same steps and reports

* tokens per second (wall time of the optimizer steps),
* the final validation loss (a trick that changes the result must show it here),
* the activation memory of one micro-batch: the bytes of every tensor autograd saves for the
  backward pass, counted with ``torch.autograd.graph.saved_tensors_hooks`` (unique storages).
  That is what gradient checkpointing (Chen et al. 2016, recompute instead of store) and smaller
  micro-batches reduce; it is measured the same way on CPU and GPU.

bf16 autocast (Micikevicius et al. 2018; bf16 needs no loss scaling) runs the matmuls in bfloat16.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import torch

VARIANTS: dict[str, dict] = {
    "fp32": {},
    "bf16 autocast": {"precision": "bf16"},
    "gradient checkpointing": {"grad_checkpointing": True},
    "accumulation x4": {"grad_accum": 4},
}


def saved_activation_bytes(model, input_ids: torch.Tensor, precision: str = "fp32") -> int:
    """Bytes autograd keeps for backward during one forward pass (parameters excluded)."""
    params = {p.data_ptr() for p in model.parameters()}
    seen: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        ptr = tensor.untyped_storage().data_ptr()
        if ptr not in params:
            seen[ptr] = tensor.untyped_storage().nbytes()
        return tensor

    model.train()
    with (
        torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t),
        torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"),
    ):
        logits = model(input_ids=input_ids).logits
    logits.float().sum().backward()
    model.zero_grad(set_to_none=True)
    return sum(seen.values())


def efficiency_table(config, run_root: str | os.PathLike, variants=None, log=None) -> list[dict]:
    """Train ``config`` once per variant; rows of tokens/s, final val loss and activation MB."""
    from ch07_pretraining.data import TokenData
    from ch07_pretraining.model import build_model, enable_activation_checkpointing, llama_config
    from ch07_pretraining.train import train

    data = TokenData.open(config.data)
    rows = []
    for name, overrides in (variants or VARIANTS).items():
        variant = replace(config, **overrides)
        result = train(variant, Path(run_root) / name.replace(" ", "-"))
        torch.manual_seed(variant.seed)
        model = build_model(llama_config(variant.depth, data.vocab_size, variant.seq_len))
        if variant.grad_checkpointing:
            enable_activation_checkpointing(model)
        micro = variant.batch_size // variant.grad_accum
        inputs, _ = data.batch(0, micro, variant.seq_len, variant.seed)
        activations = saved_activation_bytes(model, inputs, variant.precision)
        rows.append(
            {
                "variant": name,
                "tokens_per_s": result["tokens_per_s"],
                "val_loss": result["val_loss"],
                "activation_mb": activations / 2**20,
            }
        )
        if log:
            log(f"{name}: {result['tokens_per_s']:,.0f} tok/s, val {result['val_loss']:.4f}")
    return rows


__all__ = ["VARIANTS", "efficiency_table", "saved_activation_bytes"]
