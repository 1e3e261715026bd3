"""Training efficiency on one table: precision, gradient checkpointing, accumulation.

Each variant trains the same model on the same batches for the same steps and reports

* tokens per second (wall time of the optimizer steps),
* the final validation loss (a trick that changes the result must show it here),
* the activation memory of one micro-batch: the bytes of every tensor autograd saves for the
  backward pass, counted with ``torch.autograd.graph.saved_tensors_hooks`` (unique storages).
  That is what gradient checkpointing (Chen et al. 2016, recompute instead of store) and smaller
  micro-batches reduce; it is measured the same way on CPU and GPU.

bf16 autocast (Micikevicius et al. 2018; bf16 needs no loss scaling) runs the matmuls in bfloat16;
on CUDA the table adds fp16 autocast with a ``GradScaler`` (fp16's narrow exponent range needs the
loss scaled up so small gradients do not flush to zero). ``torch.compile`` is an opt-in row
(``--compile``): on CPU it needs a C++ compiler and takes a minute to compile.

Each row also carries the peak GPU memory of the run (on CUDA) and the model FLOPs utilisation
(MFU, PaLM's definition): achieved model FLOP/s (``6 N + 12 L T d`` per token, Kaplan et al.
2020 / Chowdhery et al. 2022) over the peak FLOP/s of this device, which is *measured* here
with a large matmul (the faster of fp32 and the run's precision), not read from a datasheet.
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
CUDA_VARIANTS: dict[str, dict] = {"fp16 + GradScaler": {"precision": "fp16"}}
COMPILE_VARIANT: dict[str, dict] = {"torch.compile": {"compile": True}}
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def flops_per_token(model, seq_len: int) -> float:
    """Training FLOPs per token: ``6 N`` for the matmuls (forward + backward) + attention scores.

    ``N`` counts every unique parameter that multiplies activations (the tied embedding matrix
    once, as the output projection; the lookup itself is free); the attention term is
    ``12 * layers * seq_len * width`` (PaLM, appendix B).
    """
    config = model.config
    params = {id(p): p for p in model.parameters()}.values()
    n = sum(p.numel() for p in params if p.dim() >= 2)
    attention = 12 * config.num_hidden_layers * seq_len * config.hidden_size
    return 6.0 * n + attention


def peak_matmul_flops(
    device: torch.device, precision: str = "fp32", size: int | None = None
) -> float:
    """Measured FLOP/s of a square matmul on ``device`` in ``precision``: MFU's denominator.

    ``size`` defaults to 1024 on CPU and 8192 on CUDA (a GPU needs big tiles to reach its peak).
    """
    from llmpath_core import measure

    size = size or (8192 if device.type == "cuda" else 1024)

    dtype = DTYPES[precision]
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)

    def run() -> None:
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    timing = measure(run, name="matmul", warmup=2, repeats=5)
    return 2 * size**3 / timing.median


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
        torch.autocast(input_ids.device.type, dtype=DTYPES[precision], enabled=precision != "fp32"),
    ):
        logits = model(input_ids=input_ids).logits
    logits.float().sum().backward()
    model.zero_grad(set_to_none=True)
    return sum(seen.values())


def default_variants(device: str, compile: bool = False) -> dict[str, dict]:
    """The rows for a device: fp16 + GradScaler on CUDA, torch.compile when asked for."""
    variants = dict(VARIANTS)
    if torch.device(device).type == "cuda":
        variants.update(CUDA_VARIANTS)
    if compile:
        variants.update(COMPILE_VARIANT)
    return variants


def efficiency_table(config, run_root: str | os.PathLike, variants=None, log=None) -> list[dict]:
    """Train ``config`` once per variant: tokens/s, val loss, activation MB, peak memory, MFU."""
    from ch07_pretraining.data import TokenData
    from ch07_pretraining.model import build_model, enable_activation_checkpointing, llama_config
    from ch07_pretraining.train import train

    data = TokenData.open(config.data)
    device = torch.device(config.device)
    peaks: dict[str, float] = {}
    rows = []
    for name, overrides in (variants or VARIANTS).items():
        variant = replace(config, **overrides)
        result = train(variant, Path(run_root) / name.replace(" ", "-"))
        torch.manual_seed(variant.seed)
        model = build_model(llama_config(variant.depth, data.vocab_size, variant.seq_len))
        model.to(device)
        if variant.grad_checkpointing:
            enable_activation_checkpointing(model)
        micro = variant.batch_size // variant.grad_accum
        inputs, _ = data.batch(0, micro, variant.seq_len, variant.seed)
        activations = saved_activation_bytes(model, inputs.to(device), variant.precision)
        if variant.precision not in peaks:
            # the fastest matmul this device does: a CPU without bf16 units is not "faster" in bf16
            if "fp32" not in peaks:
                peaks["fp32"] = peak_matmul_flops(device, "fp32")
            peaks[variant.precision] = max(
                peaks["fp32"], peak_matmul_flops(device, variant.precision)
            )
        achieved = result["tokens_per_s"] * flops_per_token(model, variant.seq_len)
        rows.append(
            {
                "variant": name,
                "tokens_per_s": result["tokens_per_s"],
                "val_loss": result["val_loss"],
                "activation_mb": activations / 2**20,
                # per run on CUDA; on CPU the process's peak RSS only grows across variants
                "peak_memory_mb": result["peak_memory_mb"] if device.type == "cuda" else None,
                "model_tflops": achieved / 1e12,
                "mfu": achieved / peaks[variant.precision],
            }
        )
        if log:
            log(f"{name}: {result['tokens_per_s']:,.0f} tok/s, val {result['val_loss']:.4f}")
    return rows


__all__ = [
    "VARIANTS",
    "default_variants",
    "efficiency_table",
    "flops_per_token",
    "peak_matmul_flops",
    "saved_activation_bytes",
]
