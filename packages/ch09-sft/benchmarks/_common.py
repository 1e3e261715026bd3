"""Helpers shared by the benchmarks: one fine-tune of the default model, timed and measured."""

from __future__ import annotations

import time
from typing import Any

import torch

from ch09_sft.ia3 import IA3Config, inject_ia3
from ch09_sft.lora import LoRAConfig, count_parameters, inject_lora, merge_lora
from ch09_sft.nf4 import NF4Linear, quantize_lora_bases
from ch09_sft.sft import eval_split, evaluate, train, train_split
from llmpath_core import load_default_model, seed_everything

ALL = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def state_bytes(model, opt) -> dict[str, int]:
    """Bytes of weights (NF4 layers at their packed size), gradients and AdamW state."""
    weights = 0
    seen = set()
    for m in model.modules():
        if isinstance(m, NF4Linear):
            weights += m.storage_bytes()
            seen.update(id(b) for b in m.buffers())
    for p in model.parameters():
        if id(p) not in seen:
            weights += p.numel() * p.element_size()
    grads = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    optim = sum(
        t.numel() * t.element_size()
        for s in opt.state.values()
        for t in s.values()
        if torch.is_tensor(t)
    )
    return {"weights": weights, "grads": grads, "optimizer": optim}


def activation_bytes(model, tok, rows, batch_size: int = 8) -> int:
    """Bytes autograd saves for backward in one training step (a real count, by hooks)."""
    import random

    from ch09_sft.sft import batches, encode

    enc = [encode(tok, r["messages"]) for r in rows[:64]]
    ids, mask, labels = next(batches(enc, batch_size, tok.pad_token_id or 0, random.Random(0)))
    seen: dict[int, int] = {}

    def pack(t):
        if t.device.type == "cpu" and t.untyped_storage().data_ptr() not in seen:
            seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
    loss.backward()
    model.zero_grad(set_to_none=True)
    model.eval()
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    params |= {b.untyped_storage().data_ptr() for b in model.buffers()}
    return sum(v for k, v in seen.items() if k not in params)


def finetune(
    method: str,
    *,
    kind: str = "repeat",
    rank: int = 16,
    lr: float | None = None,
    steps: int = 60,
    batch_size: int = 8,
    seed: int = 0,
    model=None,
    tok=None,
    rows=None,
    eval_n: int = 100,
    eval_kinds: tuple[str, ...] = ("repeat",),
) -> dict[str, Any]:
    """Fine-tune (full, lora, dora, ia3, qlora) and evaluate; returns numbers and the model."""
    seed_everything(seed)
    if model is None:
        model, tok = load_default_model()
    if method in ("lora", "dora", "qlora"):
        inject_lora(
            model,
            LoRAConfig(r=rank, lora_alpha=2 * rank, target_modules=ALL, use_dora=method == "dora"),
        )
    elif method == "ia3":
        inject_ia3(model, IA3Config(["k_proj", "v_proj", "down_proj"], ["down_proj"]))
    elif method != "full":
        raise ValueError(method)
    default_lr = {"full": 3e-4, "ia3": 3e-2}.get(method, 3e-3)
    trainable, total = count_parameters(model)  # before NF4: the 4-bit weights are buffers
    if method == "qlora":
        quantize_lora_bases(model)
    rows = rows if rows is not None else train_split(seed=seed, kind=kind)
    act = activation_bytes(model, tok, rows, batch_size)
    t0 = time.perf_counter()
    res = train(
        model, tok, rows, max_steps=steps, batch_size=batch_size, lr=lr or default_lr, seed=seed
    )
    wall = time.perf_counter() - t0
    opt_like = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad])
    for p in opt_like.param_groups[0]["params"]:  # AdamW keeps exp_avg + exp_avg_sq (+ step)
        opt_like.state[p] = {"exp_avg": torch.zeros_like(p), "exp_avg_sq": torch.zeros_like(p)}
    mem = state_bytes(model, opt_like)
    accs = {}
    for k in eval_kinds:
        e = evaluate(model, tok, eval_split(eval_n, kind=k))
        accs[k] = {"accuracy": e["accuracy"], "stderr": e["accuracy_stderr"], "n": e["n"]}
    return {
        "method": method,
        "rank": rank if method in ("lora", "dora", "qlora") else None,
        "lr": lr or default_lr,
        "steps": steps,
        "batch_size": batch_size,
        "seed": seed,
        "trainable_params": trainable,
        "total_params": total,
        "trainable_fraction": trainable / total,
        "train_loss": res["train_loss"],
        "losses": res["losses"],
        "train_seconds": wall,
        "memory_bytes": {**mem, "activations_saved": act, "total": sum(mem.values()) + act},
        "accuracy": accs,
        "model": model,
        "tok": tok,
    }


def merged_state(out: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The fine-tuned model's plain state dict (adapters merged)."""
    m = merge_lora(out["model"])
    return {k: v.detach().clone() for k, v in m.state_dict().items()}
