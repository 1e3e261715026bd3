"""``ch07-pretraining``: prepare, train, resume, sample, release, demo (thin, over the library)."""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

import typer

from llmpath_core import UserError, artefact_path
from llmpath_core.cli import Run, command, make_app, run_app

app = make_app(
    "ch07-pretraining",
    "Pretrain a small Llama from zero on CPU: pack tokens, train, resume exactly, sample.",
)

_CONTRACT = ("step", "train_loss", "val_loss", "val_bpb", "tokens_per_s")


def _mb(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def _summary(run: Run, result: dict, run_dir: Path) -> dict:
    out = {key: result[key] for key in _CONTRACT}
    out.update(
        initial_val_loss=result["initial_val_loss"],
        ln_vocab=result["ln_vocab"],
        parameters=result["parameters"],
        tokens_seen=result["tokens_seen"],
        rollbacks=len(result["rollbacks"]),
        device=result["device"],
        peak_memory_mb=result["peak_memory_mb"],
        out=str(run_dir),
    )
    run.table(
        [
            {"metric": "steps", "value": result["step"]},
            {"metric": "parameters", "value": f"{result['parameters']:,}"},
            {"metric": "val loss at step 0 (ln V)", "value": f"{result['initial_val_loss']:.3f}"},
            {"metric": "val loss now", "value": f"{result['val_loss']:.3f}"},
            {"metric": "bits per byte", "value": f"{result['val_bpb']:.3f}"},
            {"metric": "train loss", "value": f"{result['train_loss']:.3f}"},
            {"metric": "tokens/s", "value": f"{result['tokens_per_s']:,.0f}"},
            {"metric": "rollbacks", "value": len(result["rollbacks"])},
            {"metric": "device", "value": result["device"]},
            {"metric": "peak memory (MiB)", "value": _mb(result["peak_memory_mb"])},
        ],
        title=f"run {run_dir}",
    )
    return out


@command(app, device=False, out_help="folder for the packed corpus (default: llmpath cache)")
def prepare(
    run: Run,
    corpus: str = typer.Option(
        "stories", help="stories, pydoc, a .txt/.md/.jsonl/.parquet file or a HF dataset id"
    ),
    vocab_size: int = typer.Option(4096, help="BPE vocabulary size (>= 258)"),
    max_chars: int = typer.Option(2_000_000, help="characters of the corpus to use"),
    tokenizer: Path = typer.Option(
        None, help="use this tokenizer.json (or its folder) instead of training one"
    ),
) -> dict:
    """Train a byte-level BPE tokenizer and pack the corpus into memory-mapped token files."""
    from ch07_pretraining.data import prepare_corpus

    out = run.out_path(artefact_path("ch07", "data", f"{Path(corpus).name}-{vocab_size}"))
    meta = prepare_corpus(
        corpus, out, vocab_size=vocab_size, max_chars=max_chars, tokenizer=tokenizer
    )
    run.table([{"key": k, "value": v} for k, v in meta.items()], title=f"prepared {out}")
    return {**meta, "out": str(out)}


@command(app, out_help="run folder (checkpoints + the final HF model folder)")
def train(
    run: Run,
    preset: str = typer.Option("tiny", help="tiny, small or default"),
    depth: int = typer.Option(None, help="layers; width, heads and lr derive from it"),
    data: Path = typer.Option(None, help="a folder from `prepare` (default: prepare --corpus)"),
    corpus: str = typer.Option("stories", help="corpus to prepare when --data is not given"),
    seq_len: int = typer.Option(None, help="context length (default: the preset's)"),
    batch_size: int = typer.Option(None, help="sequences per optimizer step (global)"),
    grad_accum: int = typer.Option(1, help="micro-batches per step"),
    max_steps: int = typer.Option(None, help="optimizer steps (default: the preset's)"),
    lr: float = typer.Option(None, help="peak learning rate (default: from depth)"),
    warmup_steps: int = typer.Option(None, help="linear warm-up steps (default 5%)"),
    eval_every: int = typer.Option(None, help="validate every N steps"),
    checkpoint_every: int = typer.Option(None, help="checkpoint every N steps (0: never)"),
    keep_last: int = typer.Option(3, help="checkpoints to keep"),
    stop_at: int = typer.Option(None, help="stop after this step (resume later)"),
    zero: bool = typer.Option(False, help="ZeRO-1 optimizer sharding (under torchrun)"),
    fsdp: bool = typer.Option(False, help="FSDP: shard params, grads, optimizer (torchrun)"),
    precision: str = typer.Option("fp32", help="fp32, bf16 (autocast) or fp16 (+ GradScaler)"),
    grad_checkpointing: bool = typer.Option(False, help="recompute activations in backward"),
    compile: bool = typer.Option(False, help="torch.compile the model"),
    inject_spike_at: int = typer.Option(None, help="lab: corrupt the batch at this data position"),
    resume: bool = typer.Option(False, help="continue the run in --out from its last checkpoint"),
) -> dict:
    """Pretrain a Llama model from zero (under torchrun: DDP over the processes)."""
    import torch.distributed as dist

    from ch07_pretraining.data import prepare_corpus
    from ch07_pretraining.distributed import init_from_env
    from ch07_pretraining.model import get_preset
    from ch07_pretraining.train import TrainConfig
    from ch07_pretraining.train import train as train_run

    p = get_preset(preset)
    distributed = init_from_env()
    rank = dist.get_rank() if distributed else 0
    run_dir = run.out_path(
        artefact_path("ch07", "runs", f"{preset}-{time.strftime('%Y%m%d-%H%M%S')}")
    )
    if resume:
        if run.out is None:
            raise UserError("--resume needs --out pointing at the run folder")
        return resume_run(run, run_dir, max_steps, device=str(run.device))
    prepare = data is None
    data = run_dir / "data" if data is None else data
    steps = max_steps or p.max_steps
    config = TrainConfig(
        data=str(Path(data).resolve()),
        depth=depth or p.depth,
        seq_len=seq_len or p.seq_len,
        batch_size=batch_size or p.batch_size,
        grad_accum=grad_accum,
        max_steps=steps,
        lr=lr,
        warmup_steps=warmup_steps if warmup_steps is not None else max(1, steps // 20),
        eval_every=eval_every or max(1, steps // 10),
        checkpoint_every=checkpoint_every if checkpoint_every is not None else max(1, steps // 5),
        keep_last=keep_last,
        zero=zero,
        fsdp=fsdp,
        precision=precision,
        grad_checkpointing=grad_checkpointing,
        compile=compile,
        device=str(run.device),
        seed=run.seed,
        inject_spike_at=inject_spike_at,
    )
    config.validate(dist.get_world_size() if distributed else 1)  # before writing anything
    if prepare:
        if rank == 0 and not (Path(data) / "meta.json").is_file():
            run.log(f"preparing {corpus} (vocabulary {p.vocab_size}) in {data}")
            prepare_corpus(corpus, data, vocab_size=p.vocab_size, max_chars=p.max_chars)
        if distributed:
            dist.barrier()
    result = train_run(config, run_dir, stop_at=stop_at, log=run.log)
    return _summary(run, result, run_dir)


def resume_run(run: Run, run_dir: Path, max_steps: int | None, device: str | None = None) -> dict:
    from ch07_pretraining.distributed import init_from_env
    from ch07_pretraining.train import resume_config
    from ch07_pretraining.train import train as train_run

    init_from_env()
    config = resume_config(run_dir, max_steps=max_steps, device=device)
    result = train_run(config, run_dir, resume=True, log=run.log)
    return _summary(run, result, run_dir)


@command(app, "resume", out=False)
def resume_cmd(
    run: Run,
    run_dir: Path = typer.Argument(..., help="a run folder from `train`"),
    max_steps: int = typer.Option(None, help="train up to this step (default: the run's)"),
) -> dict:
    """Continue a run from its last checkpoint, exactly where it stopped."""
    return resume_run(run, run_dir, max_steps, device=str(run.device))


@command(app, device=False, out=False)
def sample(
    run: Run,
    model: Path = typer.Option(..., help="a trained run folder (HF model folder)"),
    prompt: str = typer.Option("Once upon a time", help="text to continue"),
    max_new_tokens: int = typer.Option(48, help="tokens to generate"),
    temperature: float = typer.Option(0.8, help="0 = greedy"),
    top_k: int = typer.Option(50, help="sample among the k most likely tokens"),
) -> dict:
    """Generate text from a trained model folder."""
    from ch07_pretraining.sample import generate

    text = generate(
        model,
        prompt,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        top_k=top_k,
        seed=run.seed,
    )
    run.show(f"[bold]{prompt}[/bold]{text}")
    return {"prompt": prompt, "text": text}


@command(app, device=False, out_help="the released model folder (replaced atomically)")
def release(
    run: Run,
    run_dir: Path = typer.Argument(..., help="a finished run folder from `train`"),
    name: str = typer.Option("default", help="model name for the card (default or draft)"),
    summary: str = typer.Option("A tiny Llama trained from zero on the bundled stories."),
    command_line: list[str] = typer.Option(
        None, "--command", help="a command that rebuilds the model (repeat, in order)"
    ),
    train_seconds: float = typer.Option(0.0, help="wall-clock training time, for the card"),
    note: str = typer.Option("", help="one line about how it was trained (shared machine...)"),
    comparison: list[Path] = typer.Option(
        None, help="a `compare --out` JSON file to show in the card (repeat)"
    ),
    eval_chars: int = typer.Option(200_000, help="characters of each held-out text to evaluate"),
) -> dict:
    """Release a run as a model folder with a model card (how the default model was made)."""
    from ch07_pretraining.release import release_model

    if run.out is None:
        raise UserError("--out is required: the folder to write the released model into")
    card = release_model(
        run_dir,
        run.out,
        name=name,
        summary=summary,
        commands=command_line or [],
        train_seconds=train_seconds,
        seed=run.seed,
        note=note,
        comparisons=[_read_comparison(path) for path in comparison or []],
        eval_chars=eval_chars,
    )
    ev = card["eval"]
    run.table([{"key": k, "value": v} for k, v in ev.items()], title=f"{name} model -> {run.out}")
    for row in card["samples"]:
        run.show(f"[bold]{row['prompt']}[/bold] ({row['decoding']}): {row['text']}")
    return {"name": name, "out": str(run.out), "sha256": card["sha256"], **ev}


def _read_comparison(path: Path) -> dict:
    import json

    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: not a readable comparison JSON ({exc})") from None
    if not isinstance(data, dict) or "models" not in data or "paired" not in data:
        raise UserError(f"{path}: not a `ch07-pretraining compare --out` result")
    return data


@command(app, device=False, out_help="write the comparison as JSON to this file")
def compare(
    run: Run,
    models: list[str] = typer.Argument(..., help="LABEL=FOLDER model folders; first is the base"),
    source: str = typer.Option("mix:validation", help="held-out text (any load_text source)"),
    max_chars: int = typer.Option(200_000, help="characters of the source to evaluate on"),
    title: str = typer.Option("", help="a title for the comparison (shown in model cards)"),
    note: str = typer.Option("", help="a sentence on how the models were trained"),
) -> dict:
    """Held-out loss of several models, each later one paired with the first (difference ± SE)."""
    from ch07_pretraining.compare import compare_models
    from llmpath_core import write_json

    pairs = []
    for item in models:
        label, sep, folder = item.partition("=")
        if not sep:
            label, folder = Path(item).name, item
        pairs.append((label, folder))
    result = compare_models(pairs, source=source, max_chars=max_chars)
    result.update({"title": title, "note": note})
    run.table(
        [
            {
                "model": m["label"],
                "params": f"{m['parameters']:,}",
                "loss": f"{m['loss']:.4f} ± {m['loss_stderr']:.4f}",
                "bits/byte": f"{m['bits_per_byte']:.4f} ± {m['bpb_stderr']:.4f}",
            }
            for m in result["models"]
        ],
        title=f"held-out {source} (first {max_chars:,} characters)",
    )
    for p in result["paired"]:
        run.show(
            f"{p['label']} - {p['versus']}: loss {p['loss_diff']:+.4f} "
            f"± {p['loss_diff_stderr']:.4f} nats ({100 * p['loss_diff_rel']:+.2f}%), "
            f"paired over {p['windows']} windows"
        )
    if run.out is not None:
        write_json(run.out, result)
    return result


@command(app, out_help="folder for the runs")
def efficiency(
    run: Run,
    steps: int = typer.Option(100, help="optimizer steps per variant"),
    depth: int = typer.Option(2, help="model depth"),
    compile: bool = typer.Option(False, help="add a torch.compile row (slow to compile on CPU)"),
) -> dict:
    """fp32 vs bf16 (vs fp16 on CUDA) vs checkpointing vs accumulation: one table with MFU."""
    from ch07_pretraining.data import prepare_corpus
    from ch07_pretraining.efficiency import default_variants, efficiency_table
    from ch07_pretraining.model import get_preset
    from ch07_pretraining.train import TrainConfig

    if steps < 1:
        raise UserError("--steps must be at least 1")
    p = get_preset("tiny")
    root = run.out_path(artefact_path("ch07", "efficiency", time.strftime("%Y%m%d-%H%M%S")))
    if not (root / "data" / "meta.json").is_file():
        prepare_corpus("stories", root / "data", vocab_size=p.vocab_size, max_chars=p.max_chars)
    config = TrainConfig(
        data=str(root / "data"),
        depth=depth,
        seq_len=p.seq_len,
        batch_size=p.batch_size,
        max_steps=steps,
        warmup_steps=max(1, steps // 20),
        eval_every=steps,
        checkpoint_every=0,
        device=str(run.device),
        seed=run.seed,
    )
    variants = default_variants(config.device, compile=compile)
    rows = efficiency_table(config, root, variants=variants, log=run.log)
    shown = [
        {
            "variant": r["variant"],
            "tokens/s": f"{r['tokens_per_s']:,.0f}",
            "val loss": f"{r['val_loss']:.4f}",
            "activations MiB": f"{r['activation_mb']:.2f}",
            **({"peak GPU MiB": _mb(r["peak_memory_mb"])} if run.device.type == "cuda" else {}),
            "MFU": f"{100 * r['mfu']:.1f}%",
        }
        for r in rows
    ]
    title = f"{steps} steps, depth {depth}, {p.batch_size}x{p.seq_len} tokens, {run.device}"
    run.table(shown, title=title)
    return {"rows": rows, "out": str(root)}


@command(app, device=False, out_help="folder for the runs and scaling.png")
def scaling(
    run: Run,
    depths: str = typer.Option("1,2,3,4,5,6", help="depths to train; the largest is predicted"),
    steps: int = typer.Option(150, help="optimizer steps per size (same data for all)"),
    corpus: str = typer.Option("stories", help="corpus to train on (stories, pydoc, mix, a file)"),
) -> dict:
    """Train several sizes on one budget, fit L(N) and L(N, D), predict the largest size."""
    from ch07_pretraining.scaling import scaling_lab, summary_rows

    try:
        depth_list = [int(d) for d in depths.split(",") if d.strip()]
    except ValueError:
        raise UserError(f"--depths must be comma-separated integers, got {depths!r}") from None
    root = run.out_path(artefact_path("ch07", "scaling", time.strftime("%Y%m%d-%H%M%S")))
    result = scaling_lab(root, depth_list, steps=steps, corpus=corpus, seed=run.seed, log=run.log)
    table = [{k: v for k, v in pt.items() if k != "curve"} for pt in result["points"]]
    run.table(table, title=f"final validation loss per size ({corpus})")
    run.table(summary_rows(result), title=f"scaling laws ({', '.join(result['plots'])})")
    return {**result, "out": str(root)}


@command(app, device=False, out_help="folder for curriculum.png")
def curriculum(
    run: Run,
    steps: int = typer.Option(300, help="optimizer steps for each order"),
    max_digits: int = typer.Option(3, help="hardest level: digits of the larger operand"),
) -> dict:
    """Arithmetic: easy-to-hard curriculum vs random order, equal steps, held-out accuracy."""
    from ch07_pretraining.curriculum import CurriculumConfig, compare_orders
    from llmpath_core import line_plot

    if steps < 1 or not 1 <= max_digits <= 6:
        raise UserError("--steps must be >= 1 and --max-digits between 1 and 6")
    config = CurriculumConfig(
        max_digits=max_digits, steps=steps, eval_every=max(1, steps // 6), seed=run.seed
    )
    curves = compare_orders(config)
    root = run.out_path(artefact_path("ch07", "curriculum", time.strftime("%Y%m%d-%H%M%S")))
    plot = line_plot(
        Path(root) / "curriculum.png",
        {
            name: ([p["step"] for p in pts], [p["accuracy"] for p in pts])
            for name, pts in curves.items()
        },
        title=f"addition up to {max_digits} digits: held-out exact match",
        xlabel="step",
        ylabel="accuracy",
    )
    rows = [
        {"step": a["step"], "curriculum": a["accuracy"], "random": b["accuracy"]}
        for a, b in zip(curves["curriculum"], curves["random"], strict=True)
    ]
    run.table(rows, title=f"held-out accuracy ({plot})")
    final = rows[-1]
    return {
        "curves": curves,
        "final_curriculum": final["curriculum"],
        "final_random": final["random"],
        "plot": str(plot),
    }


@command(app, device=False)
def demo(
    run: Run,
    steps: int = typer.Option(150, help="training steps (about half a minute on 2 CPU cores)"),
    threads: int = typer.Option(1, help="torch CPU threads (1 is fastest for this tiny model)"),
) -> dict:
    """Pretrain a tiny Llama from zero on the bundled stories and show the loss fall.

    The packed corpus is prepared once and cached under $LLMPATH_HOME/ch07/demo; the training
    itself runs every time. `scaling`, `efficiency`, `curriculum` and `train --preset small` are
    the longer labs.
    """
    import torch

    from ch07_pretraining.data import prepare_cached
    from ch07_pretraining.model import get_preset
    from ch07_pretraining.sample import generate
    from ch07_pretraining.train import TrainConfig
    from ch07_pretraining.train import train as train_run

    if steps < 1 or threads < 0:
        raise UserError("--steps must be at least 1 and --threads at least 0")
    if threads:
        torch.set_num_threads(threads)
    p = get_preset("tiny")
    started = time.perf_counter()
    data, meta, cached = prepare_cached(
        "stories", artefact_path("ch07", "demo"), vocab_size=p.vocab_size, max_chars=p.max_chars
    )
    run.log(f"corpus {'read from the cache' if cached else 'prepared and cached'}: {data}")
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = run.out_path(Path(tmp)) / "run"
        if (run_dir / "checkpoints").exists():
            raise UserError(f"{run_dir} already holds a run: choose another --out")
        config = TrainConfig(
            data=str(data),
            depth=p.depth,
            seq_len=p.seq_len,
            batch_size=p.batch_size,
            max_steps=steps,
            warmup_steps=max(1, steps // 20),
            eval_every=max(1, steps // 3),
            checkpoint_every=max(1, steps // 3),
            seed=run.seed,
        )
        result = train_run(config, run_dir, log=run.log)
        text = generate(run_dir, "Once upon a time", max_new_tokens=40, seed=run.seed)
    seconds = time.perf_counter() - started
    run.table(
        [
            {"what": "corpus", "value": f"stories, {meta['train_tokens']:,} train tokens"},
            {"what": "model", "value": f"Llama depth {p.depth}, {result['parameters']:,} params"},
            {
                "what": "val loss before (ln V)",
                "value": f"{result['initial_val_loss']:.3f} ({math.log(meta['vocab_size']):.3f})",
            },
            {"what": f"val loss after {steps} steps", "value": f"{result['val_loss']:.3f}"},
            {"what": "bits per byte", "value": f"{result['val_bpb']:.3f}"},
            {"what": "tokens/s", "value": f"{result['tokens_per_s']:,.0f}"},
            {"what": "wall time", "value": f"{seconds:.0f} s"},
        ],
        title="ch07 demo: pretraining a tiny Llama from zero",
    )
    run.show(f"[bold]sample:[/bold] Once upon a time{text}")
    run.show(
        "longer labs: `ch07-pretraining scaling` (fit a scaling law), `efficiency` (precision, "
        "checkpointing, MFU), `curriculum`, `train --preset small`"
    )
    return {
        "showed": f"a {result['parameters']:,}-parameter Llama pretrained from zero on the bundled "
        f"stories for {steps} steps",
        "headline": f"val loss {result['initial_val_loss']:.2f} -> {result['val_loss']:.2f} nats "
        f"({result['val_bpb']:.2f} bits/byte)",
        "initial_val_loss": result["initial_val_loss"],
        "val_loss": result["val_loss"],
        "val_bpb": result["val_bpb"],
        "tokens_per_s": result["tokens_per_s"],
        "parameters": result["parameters"],
        "sample": "Once upon a time" + text,
        "corpus_cached": cached,
        "seconds": seconds,
    }


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()
