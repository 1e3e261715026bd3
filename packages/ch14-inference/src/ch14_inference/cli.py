"""The ch14-inference console script: a thin layer over the library (heavy imports inside)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from llmpath_core import UserError
from llmpath_core.cli import Run, command, make_app, run_app

app = make_app(
    "ch14-inference",
    "An inference engine from scratch: paged KV cache, continuous batching, speculative decoding.",
)

MODEL_HELP = "'default', 'draft' (llmpath's models) or a Hugging Face Llama model folder"


def _setup(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)  # tiny models are overhead-bound: one thread is fastest


def _engine(
    model: str, block_size: int, kv_blocks: int, max_num_seqs: int, seed: int, kv_dtype: str
):
    from ch14_inference.engine import EngineConfig, LLMEngine

    config = EngineConfig(
        block_size=block_size,
        num_blocks=kv_blocks,
        max_num_seqs=max_num_seqs,
        seed=seed,
        kv_dtype=kv_dtype,
    )
    return LLMEngine(model, config=config)


def _params(max_tokens: int, temperature: float, top_k: int, top_p: float, n: int, stop):
    from ch14_inference.sampling import SamplingParams

    try:
        return SamplingParams(
            n=n,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            max_tokens=max_tokens,
            stop=list(stop or []),
        )
    except ValueError as exc:
        raise UserError(str(exc)) from None


@command(app, device=False, out=False)
def generate(
    run: Run,
    prompt: list[str] = typer.Option(None, "--prompt", help="a prompt (repeat for a batch)"),
    max_tokens: int = typer.Option(32, help="tokens to generate per prompt"),
    model: str = typer.Option("default", help=MODEL_HELP),
    temperature: float = typer.Option(0.0, help="0 = greedy"),
    top_k: int = typer.Option(0, help="0 = off"),
    top_p: float = typer.Option(1.0, help="1 = off"),
    n: int = typer.Option(1, help="completions per prompt (they share the prompt's KV blocks)"),
    stop: list[str] = typer.Option(None, "--stop", help="stop string (repeatable)"),
    block_size: int = typer.Option(16, help="KV block size in tokens"),
    kv_blocks: int = typer.Option(256, help="KV cache size in blocks (the memory budget)"),
    max_num_seqs: int = typer.Option(32, help="most sequences per step"),
    kv_dtype: str = typer.Option("auto", help="'auto' (the model's dtype) or 'int8' KV cache"),
    threads: int = typer.Option(1, help="torch CPU threads"),
) -> dict:
    """Generate completions for one or more prompts, batched through the paged engine."""
    import time

    _setup(threads)
    prompts = prompt or ["Once upon a time"]
    params = _params(max_tokens, temperature, top_k, top_p, n, stop)
    engine = _engine(model, block_size, kv_blocks, max_num_seqs, run.seed, kv_dtype)
    start = time.perf_counter()
    outs = engine.generate(prompts, params)
    seconds = time.perf_counter() - start
    rows = []
    for text, out in zip(prompts, outs, strict=True):
        for c in out.outputs:
            rows.append(
                {
                    "prompt": text,
                    "text": c.text,
                    "token_ids": c.token_ids,
                    "finish_reason": c.finish_reason,
                }
            )
    tokens = sum(len(r["token_ids"]) for r in rows)
    run.table(
        [
            {"prompt": r["prompt"], "completion": r["text"], "finish": r["finish_reason"]}
            for r in rows
        ],
        title=f"{tokens} tokens in {seconds:.2f}s ({tokens / seconds:.0f} tok/s)",
    )
    return {
        "outputs": rows,
        "model": model,
        "tokens_per_s": tokens / seconds,
        "steps": engine.num_steps,
        "preemptions": engine.scheduler.num_preemptions,
    }


@command(app, device=False, out=False)
def speculative(
    run: Run,
    prompt: list[str] = typer.Option(None, "--prompt", help="a prompt (repeatable)"),
    max_tokens: int = typer.Option(64, help="tokens to generate per prompt"),
    model: str = typer.Option("default", help="target model: " + MODEL_HELP),
    draft: str = typer.Option("draft", help="draft model, or 'ngram' for prompt lookup"),
    k: int = typer.Option(4, help="tokens proposed per target pass"),
    temperature: float = typer.Option(0.0, help="0 = greedy"),
    compare: bool = typer.Option(True, help="also time the target alone and report the speed-up"),
    threads: int = typer.Option(1, help="torch CPU threads"),
) -> dict:
    """Speculative decoding with a draft model (or prompt lookup) over the target model."""
    from ch14_inference.engine import load_model
    from ch14_inference.speculative import (
        DraftModelProposer,
        NgramProposer,
        SpeculativeDecoder,
        expected_tokens_per_pass,
    )

    _setup(threads)
    if k < 1:
        raise UserError("--k must be >= 1")
    target, tok = load_model(model)
    if tok is None:
        raise UserError(f"{model!r} has no tokenizer.json: speculative needs text prompts")
    if draft == "ngram":
        proposer: Any = NgramProposer()
    else:
        draft_model, _ = load_model(draft)
        if draft_model.vocab_size != target.vocab_size:
            raise UserError("the draft and target models must share a vocabulary")
        proposer = DraftModelProposer(draft_model)
    prompts = prompt or ["Once upon a time"]
    params = _params(max_tokens, temperature, 0, 1.0, 1, None)
    eos = tok.eos_token_id
    spec = SpeculativeDecoder(target, proposer, k=k, eos_token_id=eos, seed=run.seed)
    plain = SpeculativeDecoder(target, None, eos_token_id=eos, seed=run.seed)
    rows, spec_s, plain_s, passes, proposed, accepted = [], 0.0, 0.0, 0, 0, 0
    for text in prompts:
        ids = tok.encode(text)
        if len(ids) >= target.max_positions:
            raise UserError(
                f"the prompt has {len(ids)} tokens, longer than the context of "
                f"{target.max_positions}: shorten it"
            )
        out, st = spec.generate(ids, params)
        spec_s += st.seconds
        passes += st.target_passes
        proposed += st.proposed
        accepted += st.accepted
        row = {
            "prompt": text,
            "text": tok.decode(out, skip_special_tokens=True),
            "token_ids": out,
        }
        if compare:
            ref, st0 = plain.generate(ids, params)
            plain_s += st0.seconds
            if params.greedy:  # sampled runs draw different random numbers: compare greedy only
                row["identical_to_target"] = ref == out
        rows.append(row)
    alpha = accepted / proposed if proposed else 0.0
    generated = sum(len(r["token_ids"]) for r in rows)
    result: dict[str, Any] = {
        "outputs": rows,
        "model": model,
        "draft": draft,
        "k": k,
        "acceptance_rate": alpha,
        "tokens_per_target_pass": generated / passes if passes else 0.0,
        "analytic_tokens_per_pass": expected_tokens_per_pass(alpha, k),
        "speculative_s": spec_s,
    }
    if compare:
        result["target_alone_s"] = plain_s
        result["speedup"] = plain_s / spec_s if spec_s else 0.0
    run.table([{"prompt": r["prompt"], "completion": r["text"]} for r in rows])
    run.table(
        [{"metric": key, "value": v} for key, v in result.items() if not isinstance(v, list)],
        title="speculative decoding",
    )
    return result


@command(app, device=False, out=False)
def serve(
    run: Run,
    model: list[str] = typer.Option(
        None, "--model", help="NAME=PATH or a name ('default', 'draft'); repeatable"
    ),
    host: str = typer.Option("127.0.0.1", help="interface to listen on"),
    port: int = typer.Option(8000, help="TCP port (0 = any free port)"),
    memory_mb: float = typer.Option(64.0, help="memory budget for all models: weights + KV"),
    block_size: int = typer.Option(16, help="KV block size"),
    max_num_seqs: int = typer.Option(32, help="most sequences per step, per model"),
    threads: int = typer.Option(1, help="torch CPU threads"),
) -> dict:
    """Serve the engine over HTTP (OpenAI-style /v1/completions, SSE streaming)."""
    from ch14_inference.engine import EngineConfig
    from ch14_inference.server import InferenceServer

    _setup(threads)
    specs = model or ["default", "draft"]
    models = {}
    for spec in specs:
        name, _, path = spec.partition("=")
        models[name] = path or name
    config = EngineConfig(block_size=block_size, max_num_seqs=max_num_seqs, seed=run.seed)
    try:
        server = InferenceServer(models, host, port, int(memory_mb * 2**20), config)
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    run.log(f"serving {', '.join(models)} on {server.url} (Ctrl-C to stop)")
    for name, w in server.workers.items():
        run.log(f"  {name}: {w.engine.blocks.num_blocks} KV blocks of {block_size} tokens")
    import signal

    def _stop(*_: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)  # `kill PID` stops it as cleanly as Ctrl-C
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
    return {"served": list(models), "url": server.url}


@command(app, device=False, out=False)
def load(
    run: Run,
    url: str = typer.Option(None, help="server URL; default: start one in-process on the model"),
    model: str = typer.Option("default", help="model name (with --url) or " + MODEL_HELP),
    requests: int = typer.Option(32, help="number of requests"),
    rate: float = typer.Option(8.0, help="Poisson arrival rate, requests/s"),
    min_prompt: int = typer.Option(4, help="shortest prompt, words"),
    max_prompt: int = typer.Option(32, help="longest prompt, words"),
    min_output: int = typer.Option(4, help="shortest output, tokens"),
    max_output: int = typer.Option(128, help="longest output, tokens"),
    threads: int = typer.Option(1, help="torch CPU threads (in-process server)"),
) -> dict:
    """Drive a server with Poisson arrivals of mixed-length streaming requests."""
    from ch14_inference.engine import EngineConfig
    from ch14_inference.load import run_load
    from ch14_inference.workload import make_workload
    from llmpath_core import load_text

    _setup(threads)
    if requests < 1 or rate <= 0:
        raise UserError("--requests must be >= 1 and --rate > 0")
    if not 1 <= min_prompt <= max_prompt or not 1 <= min_output <= max_output:
        raise UserError(
            "need 1 <= --min-prompt <= --max-prompt and 1 <= --min-output <= --max-output"
        )
    server = None
    name: str | None = model
    if url is None:
        from ch14_inference.server import InferenceServer

        config = EngineConfig(block_size=8, max_num_seqs=32, seed=run.seed)
        server = InferenceServer(
            {"default": model}, port=0, memory_bytes=64 * 2**20, engine_config=config
        )
        server.start_background()
        url, name = server.url, "default"
    # prompts are runs of words from the bundled stories (the server tokenizes them)
    words = load_text("stories", split="validation", max_chars=40_000).split()
    workload = make_workload(
        requests, rate, words, (min_prompt, max_prompt), (min_output, max_output), seed=run.seed
    )
    for item in workload:
        item.prompt = " ".join(item.prompt)
    try:
        summary = run_load(url, workload, model=name)
    finally:
        if server is not None:
            server.shutdown()
    if summary["errors"]:
        run.fail(1)
    run.table([{"metric": k, "value": v} for k, v in summary.items()], title=f"load test on {url}")
    return {**summary, "url": url, "rate": rate}


@command(app, device=False)
def bench(
    run: Run,
    model: str = typer.Option("default", help=MODEL_HELP),
    requests: int = typer.Option(64, help="requests in the Poisson workload"),
    rate: float = typer.Option(50.0, help="arrivals per second"),
    max_num_seqs: int = typer.Option(32, help="batch size (static batch size and continuous max)"),
    block_size: int = typer.Option(8, help="KV block size"),
    hf: bool = typer.Option(True, help="also run transformers' generate() in static batches"),
    threads: int = typer.Option(1, help="torch CPU threads"),
) -> dict:
    """Static vs continuous batching (and HF generate) on one Poisson mixed-length workload."""
    from ch14_inference.engine import EngineConfig, load_model
    from ch14_inference.labs import batching_comparison, corpus_ids
    from ch14_inference.workload import make_workload

    _setup(threads)
    target, tok = load_model(model)
    workload = _mixed_workload(target, tok, requests, rate, run.seed, make_workload, corpus_ids)
    config = EngineConfig(
        block_size=block_size, num_blocks=8192 // block_size, max_num_seqs=max_num_seqs
    )
    rows, ratios, engine = batching_comparison(target, workload, config, include_hf=hf)
    _show_rows(run, rows, "throughput and latency on the same workload")
    run.table([{"ratio": k, "value": v} for k, v in ratios.items()], title="ratios")
    plot = _memory_plot(run, engine, target.max_positions)
    return {"systems": rows, **ratios, "plot": plot}


@command(app, device=False)
def memory(
    run: Run,
    model: str = typer.Option("default", help=MODEL_HELP),
    requests: int = typer.Option(48, help="requests in the mixed workload"),
    threads: int = typer.Option(1, help="torch CPU threads"),
) -> dict:
    """KV bytes/token (MHA/GQA/MQA, fp32/fp16/int8), int8 KV accuracy, paged vs contiguous waste."""
    from ch14_inference.engine import EngineConfig, load_model
    from ch14_inference.labs import corpus_ids, run_policy
    from ch14_inference.memory import KVShape, int8_kv_effect, kv_table, waste_from_log
    from ch14_inference.workload import make_workload

    _setup(threads)
    target, tok = load_model(model)
    shape = KVShape(target.num_layers, target.num_heads, target.num_kv_heads, target.head_dim)
    table = kv_table(shape, target.max_positions)
    title = f"KV cache, {model}: {shape.layers} layers, {shape.heads} heads of {shape.head_dim}"
    run.table(table, title=title)
    llama8b = kv_table(KVShape(32, 32, 32, 128), 8192)  # the Llama-3-8B shape, for scale
    run.table(llama8b, title="KV cache, Llama-3-8B shape: 32 layers, 32 heads of 128")
    ids = corpus_ids(tok, target.vocab_size)
    int8 = int8_kv_effect(target, ids[: min(128, target.max_positions - 1)])
    run.table([int8], title="int8 KV cache vs fp32 on real text (next-token distributions)")
    workload = _mixed_workload(target, tok, requests, 1000.0, run.seed, make_workload, corpus_ids)
    rows = []
    engine = None
    for bs in (4, 8, 16, 32):
        cfg = EngineConfig(
            block_size=bs, num_blocks=8192 // bs, max_num_seqs=32, record_memory=True
        )
        _, eng = run_policy(target, workload, "continuous", cfg)
        w = waste_from_log(eng.memory_log, target.max_positions)
        rows.append(
            {
                "block": bs,
                "paged waste": w["paged_waste"],
                "contiguous waste": w["contiguous_waste"],
                "paged peak slots": w["paged_peak_slots"],
                "contiguous peak": w["contiguous_peak_slots"],
            }
        )
        if bs == 8:
            engine = eng
    run.table(
        rows, title="wasted KV slots: paged (by block size) vs contiguous max-length reservation"
    )
    plot = _memory_plot(run, engine, target.max_positions)
    return {
        "kv_bytes": table,
        "kv_bytes_llama3_8b_shape": llama8b,
        "int8_kv": int8,
        "waste": rows,
        "plot": plot,
    }


@command(app, device=False)
def prune(
    run: Run,
    model: str = typer.Option("default", help=MODEL_HELP),
    method: str = typer.Option("magnitude", help="'magnitude' or '2:4' (what --out saves)"),
    sparsity: float = typer.Option(0.5, help="fraction of weights zeroed (magnitude)"),
    tokens: int = typer.Option(8192, help="validation tokens for perplexity"),
    threads: int = typer.Option(1, help="torch CPU threads"),
) -> dict:
    """Magnitude and 2:4 pruning: perplexity vs sparsity, dense vs sparse matmul time."""
    import copy

    from ch14_inference.engine import load_model
    from ch14_inference.labs import corpus_ids
    from ch14_inference.prune import (
        magnitude_prune,
        matmul_speed,
        perplexity,
        semi_structured_prune,
    )

    _setup(threads)
    if method not in {"magnitude", "2:4"}:
        raise UserError("--method must be 'magnitude' or '2:4'")
    if not 0 <= sparsity < 1:
        raise UserError("--sparsity must be in [0, 1)")
    target, tok = load_model(model)
    ids = corpus_ids(tok, target.vocab_size, n_chars=tokens * 6)[:tokens]
    base = target.hf_model
    settings = [("dense", 0.0), ("magnitude", 0.3), ("magnitude", 0.5), ("magnitude", 0.7)]
    settings += [("2:4", 0.5), (method, sparsity if method == "magnitude" else 0.5)]
    rows, chosen = [], None
    for name, level in dict.fromkeys(settings):
        pruned = copy.deepcopy(base)
        if name == "magnitude" and level > 0:
            magnitude_prune(pruned, level)
        elif name == "2:4":
            semi_structured_prune(pruned)
        ppl = perplexity(pruned, ids)
        speed = matmul_speed(pruned)
        rows.append({"method": name, "sparsity": level, "perplexity": ppl, **speed})
        if (name, level) == settings[-1]:
            chosen = pruned
    dense_ppl = rows[0]["perplexity"]
    for r in rows:
        r["ppl_vs_dense"] = r["perplexity"] / dense_ppl
    run.table(rows, title=f"pruning {model}: perplexity on stories:validation, linear-layer time")
    saved = None
    if run.out is not None and chosen is not None:
        from llmpath_core import atomic_dir

        with atomic_dir(run.out) as tmp:
            chosen.save_pretrained(tmp)
            if tok is not None:
                tok.save_pretrained(tmp)
        saved = str(run.out)
        run.log(f"saved the {method} model to {saved}")
    return {"rows": rows, "saved": saved}


@command(app, device=False)
def demo(
    run: Run,
    requests: int = typer.Option(48, help="requests in the Poisson workload"),
    model: str = typer.Option("default", help="target model: " + MODEL_HELP),
    draft: str = typer.Option("draft", help="draft model: " + MODEL_HELP),
    threads: int = typer.Option(1, help="torch CPU threads"),
) -> dict:
    """Static vs continuous batching vs speculative decoding on the default models (~2 min)."""
    from ch14_inference.engine import EngineConfig, load_model
    from ch14_inference.labs import batching_comparison, corpus_ids, speculative_comparison
    from ch14_inference.workload import make_workload

    _setup(threads)
    target, tok = load_model(model)
    draft_model, _ = load_model(draft)
    run.log("1/2 batching: static vs continuous vs HF generate on a Poisson mixed workload")
    workload = _mixed_workload(target, tok, requests, 50.0, run.seed, make_workload, corpus_ids)
    config = EngineConfig(block_size=8, num_blocks=1024, max_num_seqs=32)
    rows, ratios, engine = batching_comparison(target, workload, config)
    _show_rows(run, rows, f"{requests} requests, Poisson arrivals, mixed lengths (default model)")
    run.log("2/2 speculative decoding: default model + draft model, greedy")
    prompts = [tok.encode(t) for t in ("Once upon a time", "The little dog", "One day, Tom")]
    spec_rows, spec = speculative_comparison(
        target, draft_model, prompts, max_tokens=96, k=4, eos_token_id=None
    )
    _show_spec(run, spec_rows, "speculative decoding (greedy; 'same' = identical to the target)")
    plot = _memory_plot(run, engine, target.max_positions)
    best = max(spec_rows[1:], key=lambda r: r["speedup"])
    c = ratios["continuous_vs_static_tokens_per_s"]
    return {
        "showed": (
            f"continuous batching {c:.2f}x static tokens/s; paged KV wastes "
            f"{ratios['paged_waste']:.1%} vs {ratios['contiguous_waste']:.0%} contiguous; "
            f"{best['method']} {best['speedup']:.2f}x at identical greedy output"
        ),
        "headline": f"{c:.2f}x tokens/s with continuous batching",
        "batching": rows,
        "ratios": ratios,
        "speculative": spec_rows,
        "speculative_summary": spec,
        "plot": plot,
    }


def _mixed_workload(target, tok, requests, rate, seed, make_workload, corpus_ids):
    ids = corpus_ids(tok, target.vocab_size)
    context = target.max_positions
    max_prompt = min(64, context // 4)
    max_output = min(240, context - max_prompt)
    return make_workload(requests, rate, ids, (8, max_prompt), (4, max_output), seed=seed)


def _show_rows(run: Run, rows: list[dict], title: str) -> None:
    names = {
        "system": "system",
        "tokens_per_s": "tok/s",
        "ttft_p50_s": "TTFT p50 s",
        "latency_p50_s": "p50 s",
        "latency_p99_s": "p99 s",
        "seconds": "total s",
    }
    run.table([{v: r.get(k) for k, v in names.items()} for r in rows], title=title)


def _show_spec(run: Run, rows: list[dict], title: str) -> None:
    names = {
        "method": "method",
        "tokens_per_s": "tok/s",
        "tokens_per_target_pass": "tok/pass",
        "acceptance_rate": "accept",
        "identical_to_target": "same",
        "speedup": "speedup",
        "analytic_speedup": "analytic",
    }
    run.table([{v: r.get(k) for k, v in names.items()} for r in rows], title=title)


def _memory_plot(run: Run, engine: Any, max_len: int) -> str | None:
    """Plot KV slots over time (used, paged allocation, contiguous reservation) if --out given."""
    if run.out is None or engine is None or not engine.memory_log:
        return None
    from llmpath_core import line_plot

    log = engine.memory_log
    steps = [m["step"] for m in log]
    path = line_plot(
        Path(run.out) / "kv-memory-over-time.png",
        {
            "tokens in cache": (steps, [m["tokens_used"] for m in log]),
            "paged: allocated slots": (steps, [m["slots_allocated"] for m in log]),
            "contiguous: reserved slots": (steps, [m["running"] * max_len for m in log]),
        },
        title="KV cache memory over a mixed workload",
        xlabel="engine step",
        ylabel="KV slots (tokens)",
        markers=False,
    )
    run.log(f"plot: {path}")
    return str(path)


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()
