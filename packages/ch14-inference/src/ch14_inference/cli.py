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
    from ch14_inference.labs import speculative_generate
    from ch14_inference.speculative import DraftModelProposer, NgramProposer

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
    ids = [tok.encode(text) for text in prompts]
    if any(len(i) >= target.max_positions for i in ids):
        raise UserError(
            f"a prompt has {max(map(len, ids))} tokens, longer than the context of "
            f"{target.max_positions}: shorten it"
        )
    params = _params(max_tokens, temperature, 0, 1.0, 1, None)
    res = speculative_generate(
        target, proposer, ids, params, k, tok.eos_token_id, run.seed, compare=compare
    )
    same = res.pop("identical_to_target", None)
    rows = []
    for i, (text, out) in enumerate(zip(prompts, res.pop("outputs"), strict=True)):
        row = {"prompt": text, "text": tok.decode(out, skip_special_tokens=True), "token_ids": out}
        if same is not None:
            row["identical_to_target"] = same[i]
        rows.append(row)
    result = {"outputs": rows, "model": model, "draft": draft, **res}
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
    from ch14_inference.load import load_test

    _setup(threads)
    if requests < 1 or rate <= 0:
        raise UserError("--requests must be >= 1 and --rate > 0")
    if not 1 <= min_prompt <= max_prompt or not 1 <= min_output <= max_output:
        raise UserError(
            "need 1 <= --min-prompt <= --max-prompt and 1 <= --min-output <= --max-output"
        )
    summary, url = load_test(
        url, model, requests, rate, (min_prompt, max_prompt), (min_output, max_output), run.seed
    )
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
    from ch14_inference.labs import batching_comparison, mixed_workload

    _setup(threads)
    target, tok = load_model(model)
    workload = mixed_workload(target, tok, requests, rate, run.seed)
    config = EngineConfig(
        block_size=block_size, num_blocks=8192 // block_size, max_num_seqs=max_num_seqs
    )
    rows, ratios, engine = batching_comparison(target, workload, config, include_hf=hf)
    _show_rows(run, rows, "throughput and latency on the same workload (wall clock)")
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
    from ch14_inference.engine import load_model
    from ch14_inference.labs import memory_report

    _setup(threads)
    target, tok = load_model(model)
    report, engine = memory_report(target, tok, requests, run.seed)
    shape = report["shape"]
    run.table(
        report["kv_bytes"],
        title=f"KV cache, {model}: {shape['layers']} layers, {shape['heads']} heads of "
        f"{shape['head_dim']}",
    )
    run.table(
        report["kv_bytes_llama3_8b_shape"],
        title="KV cache, Llama-3-8B shape: 32 layers, 32 heads of 128",
    )
    run.table(
        [report["int8_kv"]], title="int8 KV cache vs fp32 on real text (next-token distributions)"
    )
    run.table(
        report["waste"],
        title="wasted KV slots: paged (by block size) vs contiguous max-length reservation",
    )
    return {**report, "plot": _memory_plot(run, engine, target.max_positions)}


@command(app, device=False)
def prune(
    run: Run,
    model: str = typer.Option("default", help=MODEL_HELP),
    method: str = typer.Option("magnitude", help="'magnitude' or '2:4' (what --out saves)"),
    sparsity: float = typer.Option(0.5, help="fraction of weights zeroed (magnitude)"),
    windows: int = typer.Option(32, help="held-out windows for evaluate_lm (0 = all)"),
    threads: int = typer.Option(1, help="torch CPU threads"),
) -> dict:
    """Magnitude and 2:4 pruning: held-out loss vs sparsity (paired to dense), matmul time."""
    from ch14_inference.engine import load_model
    from ch14_inference.prune import prune_report

    _setup(threads)
    if method not in {"magnitude", "2:4"}:
        raise UserError("--method must be 'magnitude' or '2:4'")
    if not 0 <= sparsity < 1:
        raise UserError("--sparsity must be in [0, 1)")
    if windows < 0:
        raise UserError("--windows must be >= 0")
    target, tok = load_model(model)
    chosen = (method, sparsity if method == "magnitude" else 0.5)
    settings = [("magnitude", 0.3), ("magnitude", 0.5), ("magnitude", 0.7), ("2:4", 0.5), chosen]
    rows, models = prune_report(target.hf_model, tok, settings, max_windows=windows or None)
    run.table(
        rows,
        title=f"pruning {model}: held-out loss (llmpath_core evaluate_lm, paired to dense), "
        "linear-layer time",
    )
    saved = None
    if run.out is not None:
        from llmpath_core import atomic_dir

        with atomic_dir(run.out) as tmp:
            models[chosen].save_pretrained(tmp)
            tok.save_pretrained(tmp)
        saved = str(run.out)
        run.log(f"saved the {method} model to {saved}")
    return {"rows": rows, "saved": saved}


LONGER_LABS = (
    "longer labs, each its own command: `bench` (Poisson workload, HF generate), `speculative` "
    "(draft model or prompt lookup), `memory` (KV bytes, int8 KV, paged waste), `prune`, `serve`, "
    "`load`; the 3-seed batching sweep is benchmarks/bench_ch14_batching.py"
)


@command(app, device=False, out=False)
def demo(
    run: Run,
    requests: int = typer.Option(24, help="requests in the offline batching workload"),
    batch: int = typer.Option(8, help="most sequences per step (both policies)"),
    model: str = typer.Option("default", help="target model: " + MODEL_HELP),
    draft: str = typer.Option("draft", help="draft model: " + MODEL_HELP),
    threads: int = typer.Option(1, help="torch CPU threads"),
) -> dict:
    """Continuous vs static batching at equal batch size and KV memory, and speculative decoding
    (about a minute on 2 cores; the models' tensors are cached after the first run)."""
    from ch14_inference.labs import quick_demo
    from ch14_inference.model_cache import load_cached

    _setup(threads)
    if requests < 1 or batch < 1:
        raise UserError("--requests and --batch must be >= 1")
    target, tok = load_cached(model, run.log)
    draft_model, _ = load_cached(draft, run.log)
    if draft_model.vocab_size != target.vocab_size:
        raise UserError("the draft and target models must share a vocabulary")
    res = quick_demo(target, draft_model, tok, requests, batch, run.seed)
    b, spec = res["batching"], res["speculative"]
    rows = [
        {
            "policy": f"{p}, batch {b[p]['max_num_seqs']}, {b[p]['num_blocks']} KV blocks",
            "tok/CPU-s": b[p]["tokens_per_s"],
            "steps": b[p]["steps"],
            "p50 s": b[p]["latency_p50_s"],
            "p95 s": b[p]["latency_p95_s"],
        }
        for p in ("static", "continuous")
    ]
    run.table(
        rows,
        title=f"1/2 batching: {requests} requests at t=0, log-normal output lengths, CPU seconds",
    )
    run.table(
        [
            {
                "method": "draft model, k=4",
                "accept": spec["acceptance_rate"],
                "tok/pass": spec["tokens_per_target_pass"],
                "speedup": spec["speedup"],
                "same as target": all(spec["identical_to_target"]),
            }
        ],
        title="2/2 speculative decoding, greedy, one prompt, 64 tokens",
    )
    run.log(LONGER_LABS)
    c = b["throughput_ratio"]
    return {
        "showed": (
            f"continuous batching {c:.2f}x static tokens/s at equal batch size and KV memory "
            f"(p95 latency x{b['latency_p95_ratio']:.2f}); speculative decoding "
            f"{spec['speedup']:.2f}x, acceptance {spec['acceptance_rate']:.0%}, identical "
            f"greedy output: {all(spec['identical_to_target'])}"
        ),
        "headline": f"{c:.2f}x tokens/s with continuous batching",
        "batching": b,
        "speculative": {k: v for k, v in spec.items() if k != "outputs"},
        "longer_labs": LONGER_LABS,
    }


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


def _memory_plot(run: Run, engine: Any, max_len: int) -> str | None:
    """The KV-memory-over-time plot into --out, if given."""
    if run.out is None or engine is None or not engine.memory_log:
        return None
    from ch14_inference.memory import plot_kv_memory

    path = plot_kv_memory(engine.memory_log, max_len, Path(run.out) / "kv-memory-over-time.png")
    run.log(f"plot: {path}")
    return str(path)


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()
