"""The chapter's labs as functions: each returns a JSON-ready dict (the CLI prints it)."""

from __future__ import annotations

import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from llmpath_core import UserError


def parity_tiny_all(seed: int = 0) -> dict[str, Any]:
    """Parity on tiny random Mamba, RWKV and Mixtral models saved to a temporary folder."""
    from ch15_architectures.parity import SUPPORTED, parity, save_tiny_reference

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for arch in SUPPORTED:
            folder = save_tiny_reference(arch, Path(tmp) / arch, seed=seed)
            rows.append(parity(folder, seed=seed))
    return {
        "arch": ",".join(r["arch"] for r in rows),
        "max_abs_diff": max(r["max_abs_diff"] for r in rows),
        "results": rows,
    }


def scan_agreement(
    length: int = 256, dim: int = 32, state: int = 16, chunk: int = 32, seed: int = 0
) -> dict[str, Any]:
    """The three scans on the same random inputs: max difference from the sequential loop, time."""
    from ch15_architectures.mamba import SCANS, selective_scan
    from llmpath_core.bench import measure

    if length < 1 or chunk < 1:
        raise UserError("length and chunk must be at least 1")
    gen = torch.Generator().manual_seed(seed)
    u = torch.randn(1, dim, length, generator=gen)
    delta = torch.randn(1, dim, length, generator=gen)
    A = -torch.exp(torch.randn(dim, state, generator=gen))
    B, C = (torch.randn(1, state, length, generator=gen) for _ in range(2))
    D, z = torch.randn(dim, generator=gen), torch.randn(1, dim, length, generator=gen)
    bias = torch.randn(dim, generator=gen) - 2

    def call(mode):
        return selective_scan(u, delta, A, B, C, D, z, bias, True, mode=mode, chunk=chunk)

    with torch.no_grad():
        ref = call("sequential")
        rows = []
        for mode in SCANS:
            out = call(mode)
            seconds = measure(lambda m=mode: call(m), repeats=3).median
            rows.append(
                {
                    "scan": mode,
                    "max_abs_diff": float((out - ref).abs().max()),
                    "seconds": seconds,
                    "tokens_per_s": length / seconds,
                }
            )
    return {
        "length": length,
        "dim": dim,
        "state": state,
        "chunk": chunk,
        "scans": rows,
        "max_abs_diff": max(r["max_abs_diff"] for r in rows),
    }


def _imbalance(load: list[float]) -> float:
    """Largest expert share over the uniform share (1.0 = perfectly balanced)."""
    return max(load) * len(load)


def moe_vs_dense(
    steps: int = 150,
    experts: int = 4,
    top_k: int = 2,
    capacity_factor: float | None = None,
    seeds: int = 1,
    seq_len: int = 64,
    batch: int = 16,
    hidden: int = 64,
    seed: int = 0,
    eval_chars: int = 40_000,
    on_step=None,
    expert_hidden: int | None = None,
    train_chars: int = 400_000,
    lr: float = 3e-3,
    aux_coef: float = 0.01,
    z_coef: float = 0.0,
) -> dict[str, Any]:
    """A dense 2-layer transformer vs the same with MoE feed-forward layers at matched active
    parameters, same steps, batches and seeds; held-out loss paired over windows.

    ``expert_hidden`` defaults to ``128 // top_k`` (the dense MLP's width split over the
    experts a token uses); with ``experts=8, top_k=2, expert_hidden=64`` the MoE holds four
    times the dense feed-forward weights and a token still touches as many as in the dense
    model. ``train_chars`` of ``stories:train`` are the training text; ``z_coef`` weighs the
    router z-loss, ``aux_coef`` the load-balancing loss (both models get the same ``lr``)."""
    from ch15_architectures.moe import check_top_k
    from ch15_architectures.stack import (
        StackConfig,
        StackLM,
        active_parameters,
        flops_per_token,
        total_parameters,
    )
    from ch15_architectures.train import held_out, story_tokens, train_lm
    from llmpath_core import paired_difference

    check_top_k(top_k, experts)
    tokens = story_tokens(max_chars=train_chars)
    runs: dict[str, list[dict[str, Any]]] = {"dense": [], "moe": []}
    for s in range(seed, seed + seeds):
        evals = {}
        for name, layers in (("dense", ["attn", "attn"]), ("moe", ["moe", "moe"])):
            torch.manual_seed(s)
            config = StackConfig(
                hidden_size=hidden,
                layers=layers,
                experts=experts,
                top_k=top_k,
                expert_hidden=expert_hidden,
                capacity_factor=capacity_factor,
            )
            model = StackLM(config)
            trained = train_lm(
                model,
                tokens,
                steps=steps,
                batch=batch,
                seq_len=seq_len,
                seed=s,
                lr=lr,
                aux_coef=aux_coef,
                z_coef=z_coef,
                on_step=on_step,
            )
            evals[name] = held_out(model, seq_len=seq_len, max_chars=eval_chars)
            flops = flops_per_token(model, seq_len)
            runs[name].append(
                {
                    "seed": s,
                    "loss": evals[name]["loss"],
                    "loss_stderr": evals[name]["loss_stderr"],
                    "train_loss": trained.final_loss,
                    "tokens_per_s": trained.tokens_per_s,
                    "active_params": active_parameters(model),
                    "total_params": total_parameters(model),
                    "expert_hidden": config.expert_size if name == "moe" else None,
                    "train_flops": 3 * flops * trained.tokens,
                    "train_curve": [  # mean training loss per 10 steps
                        sum(trained.losses[i : i + 10]) / len(trained.losses[i : i + 10])
                        for i in range(0, len(trained.losses), 10)
                    ],
                    "final_imbalance": _imbalance(
                        [sum(x) / len(x) for x in zip(*trained.expert_load[-1], strict=True)]
                    )
                    if trained.expert_load
                    else None,
                }
            )
        diff = paired_difference(evals["dense"], evals["moe"])
        runs["moe"][-1]["paired_diff"] = diff["loss_diff"]
        runs["moe"][-1]["paired_diff_stderr"] = diff["loss_diff_stderr"]
    settings = {
        "steps": steps,
        "experts": experts,
        "top_k": top_k,
        "expert_hidden": runs["moe"][0]["expert_hidden"] if runs["moe"] else None,
        "capacity_factor": capacity_factor,
        "train_chars": train_chars,
        "train_tokens_available": len(tokens),
        "lr": lr,
        "aux_coef": aux_coef,
        "z_coef": z_coef,
        "batch": batch,
        "seq_len": seq_len,
    }
    return summarize_moe_vs_dense(runs, settings)


def summarize_moe_vs_dense(
    runs: dict[str, list[dict[str, Any]]], settings: dict[str, Any]
) -> dict[str, Any]:
    """Means, and MoE - dense as the mean of the per-seed paired differences ± their standard
    error over seeds (one seed: the paired standard error over held-out windows). ``runs``
    may pool several :func:`moe_vs_dense` calls (one per seed, run in parallel)."""
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    paired = [r["paired_diff"] for r in runs["moe"]]
    loss_diff = mean(paired)
    if len(paired) > 1:
        stderr = statistics.stdev(paired) / math.sqrt(len(paired))
    else:
        stderr = runs["moe"][0]["paired_diff_stderr"]
    return {
        **settings,
        "seeds": [r["seed"] for r in runs["moe"]],
        "dense_loss": mean([r["loss"] for r in runs["dense"]]),
        "moe_loss": mean([r["loss"] for r in runs["moe"]]),
        "moe_minus_dense": loss_diff,
        "moe_minus_dense_stderr": stderr,
        "dense_active_params": runs["dense"][0]["active_params"],
        "moe_active_params": runs["moe"][0]["active_params"],
        "moe_total_params": runs["moe"][0]["total_params"],
        "dense_tokens_per_s": mean([r["tokens_per_s"] for r in runs["dense"]]),
        "moe_tokens_per_s": mean([r["tokens_per_s"] for r in runs["moe"]]),
        "dense_train_flops": runs["dense"][0]["train_flops"],
        "moe_train_flops": runs["moe"][0]["train_flops"],
        "runs": runs,
    }


def balance_experiment(
    steps: int = 100,
    experts: int = 4,
    top_k: int = 1,
    coefs: tuple[float, ...] = (0.0, 0.05),
    capacity_factor: float | None = 1.25,
    seq_len: int = 64,
    batch: int = 16,
    hidden: int = 64,
    seed: int = 0,
    plot: str | Path | None = None,
) -> dict[str, Any]:
    """Train the same MoE with and without the load-balancing loss; expert load over steps."""
    from ch15_architectures.moe import check_top_k
    from ch15_architectures.stack import StackConfig, StackLM
    from ch15_architectures.train import story_tokens, train_lm
    from llmpath_core import line_plot

    check_top_k(top_k, experts)
    tokens = story_tokens()
    rows, series = [], {}
    for coef in coefs:
        torch.manual_seed(seed)
        model = StackLM(
            StackConfig(
                hidden_size=hidden,
                layers=["moe", "moe"],
                experts=experts,
                top_k=top_k,
                capacity_factor=capacity_factor,
            )
        )
        trained = train_lm(
            model, tokens, steps=steps, batch=batch, seq_len=seq_len, seed=seed, aux_coef=coef
        )
        per_step = [
            [sum(x) / len(x) for x in zip(*layers, strict=True)] for layers in trained.expert_load
        ]  # mean over layers
        imbalance = [_imbalance(load) for load in per_step]
        tail = max(1, steps // 5)
        rows.append(
            {
                "aux_coef": coef,
                "final_load": per_step[-1],
                "imbalance_last": sum(imbalance[-tail:]) / tail,
                "dropped_last": sum(trained.dropped[-tail:]) / tail,
                "train_loss": trained.final_loss,
            }
        )
        series[f"aux {coef:g}"] = (list(range(1, steps + 1)), imbalance)
    result: dict[str, Any] = {
        "experts": experts,
        "top_k": top_k,
        "steps": steps,
        "capacity_factor": capacity_factor,
        "runs": rows,
    }
    if plot is not None:
        result["plot"] = str(
            line_plot(
                plot,
                series,
                title="expert load: max share x experts",
                xlabel="step",
                ylabel="imbalance (1 = balanced)",
                markers=False,
            )
        )
    return result


def rwkv_lab(
    length: int = 64, generate: int = 256, hidden: int = 64, layers: int = 2, seed: int = 0
) -> dict[str, Any]:
    """Parallel vs recurrent RWKV on random weights, and constant-memory generation."""
    from ch15_architectures.rwkv import RwkvConfig, RwkvLM

    if length < 1 or generate < 0:
        raise UserError("length must be at least 1 and generate at least 0")
    torch.manual_seed(seed)
    model = RwkvLM(RwkvConfig(vocab_size=256, hidden_size=hidden, num_hidden_layers=layers)).eval()
    ids = torch.randint(0, 256, (1, length))
    with torch.no_grad():
        parallel = model(ids).logits
        recurrent = model.forward_recurrent(ids)
        start = time.perf_counter()
        out = model.generate(ids[:, :4], generate)
        seconds = time.perf_counter() - start
    state = model.init_state(1)
    state_bytes = sum(
        t.numel() * 4
        for layer in state
        for part in layer
        for t in (part if isinstance(part, tuple) else (part,))
    )
    total = 4 + generate
    kv_bytes = 2 * layers * hidden * 4 * total  # what a same-width transformer's KV cache holds
    return {
        "length": length,
        "recurrent_vs_parallel": float((parallel - recurrent).abs().max()),
        "generated_tokens": int(out.shape[1] - 4),
        "generate_tokens_per_s": generate / seconds if generate else None,
        "state_bytes": state_bytes,
        "kv_cache_bytes_same_width_transformer": kv_bytes,
    }


def reference_attention(q, k, v, mask):
    """Masked softmax attention written out (the textbook formula)."""
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    return scores.masked_fill(~mask, float("-inf")).softmax(-1) @ v


def attention_lab(
    seq_len: int = 256,
    window: int = 32,
    dilation: int = 2,
    global_tokens: int = 2,
    random_keys: int = 2,
    lengths: list[int] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Each sparse pattern through SDPA with its dense mask vs the written-out formula; the
    blocked sliding window vs SDPA; peak memory of both against length."""
    from ch15_architectures.attention import (
        blocked_window_attention,
        dilated_mask,
        global_local_mask,
        masked_attention,
        memory_vs_length,
        sliding_window_mask,
    )

    gen = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(1, 2, seq_len, 16, generator=gen) for _ in range(3))
    masks = {
        "sliding": sliding_window_mask(seq_len, window),
        "dilated": dilated_mask(seq_len, window, dilation),
        "global+local": global_local_mask(seq_len, window, global_tokens, random_keys, seed),
    }
    rows = []
    for name, mask in masks.items():
        sdpa = masked_attention(q, k, v, mask)
        rows.append(
            {
                "pattern": name,
                "density": float(mask.float().mean()),
                "sdpa_vs_formula": float((sdpa - reference_attention(q, k, v, mask)).abs().max()),
            }
        )
    blocked = blocked_window_attention(q, k, v, window)
    blocked_diff = float((blocked - masked_attention(q, k, v, masks["sliding"])).abs().max())
    lengths = lengths or [256, 512, 1024, 2048]
    memory = memory_vs_length(lengths, min(window, min(lengths)), seed=seed)
    growth = lambda xs: math.log(xs[-1] / xs[0]) / math.log(lengths[-1] / lengths[0])  # noqa: E731
    return {
        "seq_len": seq_len,
        "window": window,
        "patterns": rows,
        "blocked_vs_sdpa": blocked_diff,
        "memory": memory,
        "dense_memory_exponent": growth(memory["dense_bytes"]),
        "blocked_memory_exponent": growth(memory["blocked_bytes"]),
    }
