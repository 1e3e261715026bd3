"""The chapter's experiments as functions: batching policies, HF generate, speculative decoding.

Each returns plain dicts (rows for a table), so the CLI, the demo and ``benchmarks/`` share them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch

from ch14_inference.engine import EngineConfig, LLMEngine
from ch14_inference.memory import KVShape, int8_kv_effect, kv_table, waste_from_log
from ch14_inference.model import PagedLlama
from ch14_inference.sampling import SamplingParams
from ch14_inference.speculative import (
    DraftModelProposer,
    NgramProposer,
    SpeculativeDecoder,
    expected_speedup,
    expected_tokens_per_pass,
)
from ch14_inference.workload import (
    RequestRecord,
    WorkItem,
    make_offline_workload,
    make_workload,
    replay,
    summarize,
)


def corpus_ids(tokenizer: Any, vocab_size: int, n_chars: int = 40_000) -> list[int]:
    """Token ids of the bundled stories (random ids when there is no tokenizer)."""
    if tokenizer is None:
        g = torch.Generator().manual_seed(0)
        return torch.randint(0, vocab_size, (n_chars // 4,), generator=g).tolist()
    from llmpath_core import load_text

    return tokenizer.encode(load_text("stories", split="validation", max_chars=n_chars))


def mixed_workload(
    model: PagedLlama, tokenizer: Any, requests: int, rate: float, seed: int = 0
) -> list[WorkItem]:
    """Poisson arrivals, prompts of 8-64 tokens of the stories, log-uniform outputs of 4-240."""
    ids = corpus_ids(tokenizer, model.vocab_size)
    context = model.max_positions
    max_prompt = min(64, context // 4)
    max_output = min(240, context - max_prompt)
    return make_workload(requests, rate, ids, (8, max_prompt), (4, max_output), seed=seed)


def run_policy(
    model: PagedLlama,
    workload: list[WorkItem],
    policy: str,
    config: EngineConfig | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[dict[str, float], LLMEngine]:
    """Replay ``workload`` through our engine with ``policy`` ("continuous" or "static")."""
    base = config or EngineConfig()
    engine = LLMEngine(model, config=EngineConfig(**{**base.__dict__, "policy": policy}))
    records, makespan = replay(engine, workload, clock=clock)
    row = {"system": f"ours, {policy} batching", **summarize(records, makespan)}
    row["steps"] = engine.num_steps
    row["preemptions"] = engine.scheduler.num_preemptions
    return row, engine


def run_hf_static(
    hf_model: torch.nn.Module, workload: list[WorkItem], batch_size: int, pad_id: int = 0
) -> dict[str, float]:
    """Static batching with transformers' ``generate()``: left-padded batches of arrived requests.

    A batch runs for its longest request's ``max_tokens``; each request is counted for its own
    tokens only and finishes (non-streaming) when its batch returns.
    """
    pending = sorted(workload, key=lambda w: w.arrival_s)
    start = time.perf_counter()
    records: list[RequestRecord] = []
    i = 0
    while i < len(pending):
        now = time.perf_counter() - start
        if pending[i].arrival_s > now:
            time.sleep(pending[i].arrival_s - now)
            now = time.perf_counter() - start
        batch = []
        while i < len(pending) and pending[i].arrival_s <= now and len(batch) < batch_size:
            batch.append(pending[i])
            i += 1
        width = max(len(w.prompt) for w in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for r, w in enumerate(batch):
            ids[r, width - len(w.prompt) :] = torch.tensor(w.prompt)
            mask[r, width - len(w.prompt) :] = 1
        new = max(w.max_tokens for w in batch)
        with torch.inference_mode():
            hf_model.generate(
                ids,
                attention_mask=mask,
                max_new_tokens=new,
                min_new_tokens=new,
                do_sample=False,
                pad_token_id=pad_id,
            )
        done = time.perf_counter() - start
        for w in batch:
            records.append(
                RequestRecord(w.arrival_s, done - w.arrival_s, done - w.arrival_s, w.max_tokens)
            )
    row = {"system": f"HF generate, static batches of {batch_size}"}
    return {**row, **summarize(records, time.perf_counter() - start)}


def scheduling_effect(
    model: PagedLlama,
    workload: list[WorkItem],
    config: EngineConfig,
    static_first: bool = True,
    clock: Callable[[], float] = time.process_time,
) -> dict[str, Any]:
    """Static vs continuous batching in *one* engine configuration: the effect of scheduling alone.

    Both policies get the same ``config`` (the same most sequences per step, token budget and KV
    blocks); static forms fixed batches of ``max_num_seqs`` and admits nothing until a batch is
    done, continuous admits at every step. Each row also records what the engine really ran with
    (``peak_running``, ``num_blocks``, ``max_num_seqs``) so a caller can check the two matched.
    ``static_first`` picks the order (alternate it over repeats on a shared machine). Times are
    CPU seconds of this process by default (``clock``), which other jobs on the machine do not
    inflate; pass ``time.perf_counter`` for wall time.
    """
    cfg = EngineConfig(**{**config.__dict__, "record_memory": True})
    rows: dict[str, dict[str, Any]] = {}
    order = ("static", "continuous") if static_first else ("continuous", "static")
    for policy in order:
        row, engine = run_policy(model, workload, policy, cfg, clock)
        row["peak_running"] = max(m["running"] for m in engine.memory_log)
        row["num_blocks"] = engine.blocks.num_blocks
        row["max_num_seqs"] = engine.scheduler.config.max_num_seqs
        row["max_num_batched_tokens"] = engine.scheduler.config.max_num_batched_tokens
        rows[policy] = row
    s, c = rows["static"], rows["continuous"]
    return {
        "static": s,
        "continuous": c,
        "throughput_ratio": c["tokens_per_s"] / s["tokens_per_s"],
        "steps_ratio": s["steps"] / c["steps"],
        "latency_p50_ratio": c["latency_p50_s"] / s["latency_p50_s"],
        "latency_p95_ratio": c["latency_p95_s"] / s["latency_p95_s"],
    }


def batching_comparison(
    model: PagedLlama,
    workload: list[WorkItem],
    config: EngineConfig,
    include_hf: bool = True,
) -> tuple[list[dict[str, Any]], dict[str, float], LLMEngine]:
    """Static vs continuous batching (ours) and HF generate on one workload, with ratios."""
    cfg = EngineConfig(**{**config.__dict__, "record_memory": True})
    static, _ = run_policy(model, workload, "static", cfg)
    cont, engine = run_policy(model, workload, "continuous", cfg)
    rows = [static, cont]
    ratios = {
        "continuous_vs_static_tokens_per_s": cont["tokens_per_s"] / static["tokens_per_s"],
        "continuous_vs_static_p99_latency": cont["latency_p99_s"] / static["latency_p99_s"],
    }
    if include_hf:
        hf = run_hf_static(model.hf_model, workload, config.max_num_seqs)
        rows.append(hf)
        ratios["ours_vs_hf_generate_tokens_per_s"] = cont["tokens_per_s"] / hf["tokens_per_s"]
    ratios.update(waste_from_log(engine.memory_log, model.max_positions))
    return rows, ratios, engine


def decode_prompts(
    decoder: SpeculativeDecoder,
    prompts: list[list[int]],
    params: SamplingParams,
    repeats: int = 1,
) -> dict[str, Any]:
    """Decode every prompt ``repeats`` times; totals over all runs and the last run's outputs."""
    totals = {"seconds": 0.0, "generated": 0, "target_passes": 0, "proposed": 0, "accepted": 0}
    outs: list[list[int]] = []
    for _ in range(repeats):
        outs = []
        for p in prompts:
            out, st = decoder.generate(p, params)
            outs.append(out)
            totals["seconds"] += st.seconds
            totals["generated"] += st.generated
            totals["target_passes"] += st.target_passes
            totals["proposed"] += st.proposed
            totals["accepted"] += st.accepted
    return {"outputs": outs, **totals}


def speculative_generate(
    target: PagedLlama,
    proposer: DraftModelProposer | NgramProposer,
    prompts: list[list[int]],
    params: SamplingParams,
    k: int = 4,
    eos_token_id: int | None = None,
    seed: int = 0,
    compare: bool = True,
) -> dict[str, Any]:
    """Speculative decoding of ``prompts``; with ``compare`` also the target alone (speed-up) and,
    when greedy, whether each output is identical to the target's own."""
    spec = SpeculativeDecoder(target, proposer, k=k, eos_token_id=eos_token_id, seed=seed)
    spec.generate(prompts[0], SamplingParams(max_tokens=4))  # warm-up
    run = decode_prompts(spec, prompts, params)
    alpha = run["accepted"] / run["proposed"] if run["proposed"] else 0.0
    result: dict[str, Any] = {
        "outputs": run["outputs"],
        "k": k,
        "acceptance_rate": alpha,
        "tokens_per_target_pass": run["generated"] / max(1, run["target_passes"]),
        "analytic_tokens_per_pass": expected_tokens_per_pass(alpha, k),
        "speculative_s": run["seconds"],
    }
    if compare:
        plain = SpeculativeDecoder(target, None, eos_token_id=eos_token_id, seed=seed)
        plain.generate(prompts[0], SamplingParams(max_tokens=4))
        ref = decode_prompts(plain, prompts, params)
        result["target_alone_s"] = ref["seconds"]
        result["speedup"] = ref["seconds"] / run["seconds"] if run["seconds"] else 0.0
        if params.greedy:  # sampled runs draw different random numbers: compare greedy only
            result["identical_to_target"] = [
                a == b for a, b in zip(run["outputs"], ref["outputs"], strict=True)
            ]
    return result


def speculative_comparison(
    target: PagedLlama,
    draft: PagedLlama | None,
    prompts: list[list[int]],
    max_tokens: int,
    k: int = 4,
    eos_token_id: int | None = None,
    repeats: int = 1,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Target alone vs speculative (draft model and/or prompt lookup), greedy, same prompts.

    Checks that every speculative output equals the target's, and puts the measured speed-up
    next to the analytic one from the measured acceptance rate and draft/target cost ratio.
    """
    params = SamplingParams(max_tokens=max_tokens)
    plain = SpeculativeDecoder(target, None, eos_token_id=eos_token_id)
    decoders: dict[str, SpeculativeDecoder] = {"target alone": plain}
    if draft is not None:
        decoders[f"draft model, k={k}"] = SpeculativeDecoder(
            target, DraftModelProposer(draft), k=k, eos_token_id=eos_token_id
        )
    decoders[f"prompt lookup, k={k}"] = SpeculativeDecoder(
        target, NgramProposer(), k=k, eos_token_id=eos_token_id
    )
    for d in decoders.values():  # warm-up
        d.generate(prompts[0], SamplingParams(max_tokens=4))
    results: dict[str, dict[str, Any]] = {}
    reference: list[list[int]] = []
    for name, d in decoders.items():
        run = decode_prompts(d, prompts, params, repeats)
        if name == "target alone":
            reference = run["outputs"]
        results[name] = {
            "method": name,
            "tokens_per_s": run["generated"] / run["seconds"],
            "tokens_per_target_pass": run["generated"] / run["target_passes"],
            "acceptance_rate": (
                run["accepted"] / run["proposed"] if run["proposed"] else float("nan")
            ),
            "identical_to_target": run["outputs"] == reference,
            "seconds": run["seconds"],
        }
    base = results["target alone"]["tokens_per_s"]
    cost = _draft_cost_ratio(target, draft) if draft is not None else 0.0
    for name, row in results.items():
        row["speedup"] = row["tokens_per_s"] / base
        if name != "target alone":
            c = cost if name.startswith("draft") else 0.0
            row["analytic_speedup"] = expected_speedup(row["acceptance_rate"], k, c)
    summary = {"draft_cost_ratio": cost, "k": k}
    return list(results.values()), summary


def paged_waste_by_block_size(
    model: PagedLlama, workload: list[WorkItem], block_sizes: tuple[int, ...] = (4, 8, 16, 32)
) -> tuple[list[dict[str, Any]], dict[int, LLMEngine]]:
    """Wasted KV slots of the paged cache per block size vs contiguous max-length reservation.

    Each block size gets the same KV budget in tokens (8192 slots); returns the rows and the
    engines (whose ``memory_log`` can be plotted).
    """
    rows, engines = [], {}
    for bs in block_sizes:
        cfg = EngineConfig(
            block_size=bs, num_blocks=8192 // bs, max_num_seqs=32, record_memory=True
        )
        _, eng = run_policy(model, workload, "continuous", cfg)
        w = waste_from_log(eng.memory_log, model.max_positions)
        rows.append(
            {
                "block": bs,
                "paged waste": w["paged_waste"],
                "contiguous waste": w["contiguous_waste"],
                "paged peak slots": w["paged_peak_slots"],
                "contiguous peak": w["contiguous_peak_slots"],
            }
        )
        engines[bs] = eng
    return rows, engines


def memory_report(
    model: PagedLlama, tokenizer: Any, requests: int = 48, seed: int = 0
) -> tuple[dict[str, Any], LLMEngine]:
    """KV bytes per token (this model and the Llama-3-8B shape; MHA/GQA/MQA; fp32/fp16/int8), the
    int8 cache's effect on next-token distributions, and paged vs contiguous waste."""
    shape = KVShape(model.num_layers, model.num_heads, model.num_kv_heads, model.head_dim)
    ids = corpus_ids(tokenizer, model.vocab_size)
    workload = mixed_workload(model, tokenizer, requests, 1000.0, seed)
    waste, engines = paged_waste_by_block_size(model, workload)
    report = {
        "shape": shape.__dict__,
        "kv_bytes": kv_table(shape, model.max_positions),
        "kv_bytes_llama3_8b_shape": kv_table(KVShape(32, 32, 32, 128), 8192),
        "int8_kv": int8_kv_effect(model, ids[: min(128, model.max_positions - 1)]),
        "waste": waste,
    }
    return report, engines[8]


def quick_demo(
    target: PagedLlama,
    draft: PagedLlama,
    tokenizer: Any,
    requests: int = 24,
    batch: int = 8,
    seed: int = 0,
) -> dict[str, Any]:
    """The chapter in one short run: the effect of iteration-level scheduling at equal batch size
    and KV memory (one offline workload of varied output lengths, CPU seconds), and speculative
    decoding with the draft model on one prompt (acceptance, speed-up, identical output)."""
    ids = corpus_ids(tokenizer, target.vocab_size)
    bounds = (1, target.max_positions - 32)
    workload = make_offline_workload(requests, ids, (8, 32), 32.0, 1.0, bounds, seed=seed)
    config = EngineConfig(block_size=8, num_blocks=256, max_num_seqs=batch)
    batching = scheduling_effect(target, workload, config)
    prompt = tokenizer.encode("Once upon a time") if tokenizer is not None else ids[:4]
    spec = speculative_generate(
        target, DraftModelProposer(draft), [prompt], SamplingParams(max_tokens=64), k=4
    )
    return {"batching": batching, "speculative": spec, "workload_requests": requests}


def _draft_cost_ratio(target: PagedLlama, draft: PagedLlama, steps: int = 30) -> float:
    """Seconds of one draft decode step over one target decode step (measured)."""

    def per_step(m: PagedLlama) -> float:
        cache = m.new_stream_cache(m.max_positions)
        m.forward_contiguous(torch.arange(8), 0, cache)
        start = time.perf_counter()
        for i in range(steps):
            m.forward_contiguous(torch.tensor([1]), 8 + i, cache)
        return (time.perf_counter() - start) / steps

    per_step(draft)
    return per_step(draft) / per_step(target)


__all__ = [
    "batching_comparison",
    "corpus_ids",
    "decode_prompts",
    "memory_report",
    "mixed_workload",
    "paged_waste_by_block_size",
    "quick_demo",
    "run_hf_static",
    "run_policy",
    "scheduling_effect",
    "speculative_comparison",
    "speculative_generate",
]
