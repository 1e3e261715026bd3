"""``ch15-architectures`` command line: one command per lab, a thin layer over the library."""

from __future__ import annotations

from pathlib import Path

import typer

from llmpath_core.cli import Run, command, make_app, run_app

app = make_app(
    "ch15-architectures",
    "Architectures: MoE, Mamba, RWKV, sliding-window and sparse attention, hybrids and a small "
    "architecture search, from scratch.",
)


def _lengths(text: str) -> list[int]:
    from llmpath_core import UserError

    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UserError(f"--lengths must be comma-separated integers (got {text!r})") from None
    if len(values) < 2 or min(values) < 1:
        raise UserError("--lengths needs at least two positive lengths")
    return sorted(values)


def _plot_path(run: Run, name: str) -> Path:
    from llmpath_core import artefact_path

    return (run.out / name) if run.out is not None else artefact_path("ch15", name)


@command(app, out=False)
def parity(
    run: Run,
    model: Path = typer.Option(
        None,
        "--model",
        help="a Hugging Face Mamba, RWKV or Mixtral folder (default: tiny random "
        "ones of all three)",
    ),
    seq_len: int = typer.Option(32, help="tokens per random sequence"),
    batch: int = typer.Option(2, help="random sequences"),
) -> dict:
    """Load an HF MambaForCausalLM / RwkvForCausalLM / MixtralForCausalLM folder into ours and
    compare logits on the same random ids."""
    from ch15_architectures.labs import parity_tiny_all
    from ch15_architectures.parity import parity as run_parity

    if model is None:
        result = parity_tiny_all(seed=run.seed)
        run.table(result["results"], ["arch", "reference", "max_abs_diff", "max_abs_logit"])
        return result
    result = run_parity(model, seq_len=seq_len, batch=batch, seed=run.seed)
    run.table([result])
    return result


@command(app)
def scaling(
    run: Run,
    lengths: str = typer.Option("256,512,1024,2048,4096", help="comma-separated lengths"),
    dim: int = typer.Option(64, help="model width"),
    chunk: int = typer.Option(32, help="chunk of the Mamba scan"),
    repeats: int = typer.Option(3, help="timed repeats per point (median)"),
) -> dict:
    """Forward time of a Mamba block vs full attention at growing lengths; exponents, crossover
    and a log-log plot (--out DIR, else $LLMPATH_HOME/ch15)."""
    from ch15_architectures.scaling import plot_scaling, time_vs_length

    result = time_vs_length(_lengths(lengths), dim=dim, chunk=chunk, repeats=repeats, seed=run.seed)
    result["plot"] = str(plot_scaling(result, _plot_path(run, "scaling.png")))
    run.table(
        [
            {"tokens": n, "mamba_s": m, "attention_s": a, "attention/mamba": a / m}
            for n, m, a in zip(
                result["lengths"], result["mamba_s"], result["attention_s"], strict=True
            )
        ]
    )
    run.show(
        f"exponents: Mamba {result['mamba_exponent']:.2f}, attention "
        f"{result['attention_exponent']:.2f}; crossover at {result['crossover_length']} tokens"
    )
    return result


@command(app, out=False)
def scan(
    run: Run,
    length: int = typer.Option(256, help="sequence length"),
    chunk: int = typer.Option(32, help="chunk size of the chunked scan"),
) -> dict:
    """Sequential, associative (parallel) and chunked selective scans: equal, and how fast."""
    from ch15_architectures.labs import scan_agreement

    result = scan_agreement(length=length, chunk=chunk, seed=run.seed)
    run.table(result["scans"])
    return result


@command(app)
def moe(
    run: Run,
    experts: int = typer.Option(4, help="experts per MoE layer"),
    top_k: int = typer.Option(2, "--top-k", help="experts per token"),
    capacity_factor: float = typer.Option(None, help="expert capacity factor (default: no drop)"),
    steps: int = typer.Option(120, help="training steps per model"),
    seeds: int = typer.Option(1, help="seeds (paired runs)"),
    balance_steps: int = typer.Option(60, help="steps of the load-balancing experiment (0: skip)"),
    eval_chars: int = typer.Option(40_000, help="held-out characters of stories:validation"),
    expert_hidden: int = typer.Option(
        None, help="hidden width of each expert (default: 128 / top-k, the dense MLP split)"
    ),
    z_coef: float = typer.Option(0.0, help="weight of the router z-loss"),
    train_chars: int = typer.Option(400_000, help="training characters of stories:train"),
) -> dict:
    """MoE vs dense at matched active parameters on the bundled stories; expert load with and
    without the balancing loss (plot under --out DIR, else $LLMPATH_HOME/ch15)."""
    from ch15_architectures.labs import balance_experiment, moe_vs_dense
    from ch15_architectures.moe import check_top_k

    check_top_k(top_k, experts)
    result = moe_vs_dense(
        steps=steps,
        experts=experts,
        top_k=top_k,
        capacity_factor=capacity_factor,
        seeds=seeds,
        seed=run.seed,
        eval_chars=eval_chars,
        expert_hidden=expert_hidden,
        z_coef=z_coef,
        train_chars=train_chars,
    )
    run.table(
        [
            {
                "model": name,
                "held-out loss": result[f"{name}_loss"],
                "active params": result[f"{name}_active_params"],
                "tokens/s": result[f"{name}_tokens_per_s"],
            }
            for name in ("dense", "moe")
        ]
    )
    if balance_steps:
        result["balance"] = balance_experiment(
            steps=balance_steps,
            experts=experts,
            top_k=min(top_k, experts),
            seed=run.seed,
            plot=_plot_path(run, "expert_load.png"),
        )
        run.table(
            result["balance"]["runs"], ["aux_coef", "imbalance_last", "dropped_last", "train_loss"]
        )
    return result


@command(app, out=False)
def rwkv(
    run: Run,
    length: int = typer.Option(64, help="tokens compared between the two forms"),
    generate: int = typer.Option(256, help="tokens generated with the recurrent state"),
) -> dict:
    """RWKV's parallel and recurrent forms agree; generation in constant memory."""
    from ch15_architectures.labs import rwkv_lab

    result = rwkv_lab(length=length, generate=generate, seed=run.seed)
    run.table([result])
    return result


@command(app, out=False)
def attention(
    run: Run,
    seq_len: int = typer.Option(256, help="sequence length"),
    window: int = typer.Option(32, help="sliding-window size (tokens)"),
    dilation: int = typer.Option(2, help="dilation of the dilated pattern"),
    global_tokens: int = typer.Option(2, help="global tokens (Longformer/BigBird)"),
    random_keys: int = typer.Option(2, help="random keys per query (BigBird)"),
    lengths: str = typer.Option("256,512,1024,2048", help="lengths for the memory table"),
) -> dict:
    """Sliding-window, dilated and global+local masks through SDPA; a blocked window whose
    memory grows linearly with length."""
    from ch15_architectures.labs import attention_lab

    result = attention_lab(
        seq_len=seq_len,
        window=window,
        dilation=dilation,
        global_tokens=global_tokens,
        random_keys=random_keys,
        lengths=_lengths(lengths),
        seed=run.seed,
    )
    run.table(result["patterns"])
    mem = result["memory"]
    run.table(
        [
            {"tokens": n, "dense mask MB": d / 1e6, "blocked MB": b / 1e6}
            for n, d, b in zip(
                mem["lengths"], mem["dense_bytes"], mem["blocked_bytes"], strict=True
            )
        ]
    )
    return result


@command(app, out=False)
def search(
    run: Run,
    strategy: str = typer.Option("evolution", help="random or evolution"),
    candidates: int = typer.Option(6, help="stacks to train"),
    budget: float = typer.Option(1.2e6, help="forward FLOPs per token allowed"),
    steps: int = typer.Option(40, help="training steps per candidate"),
) -> dict:
    """Search block stacks (attn / moe / ssm / conv per layer) under a compute budget."""
    from ch15_architectures.search import search as run_search

    result = run_search(
        strategy=strategy, candidates=candidates, budget_flops=budget, steps=steps, seed=run.seed
    )
    run.table(
        [{**r, "layers": " ".join(r["layers"])} for r in result["results"]],
        ["layers", "active_params", "flops_per_token", "loss", "seconds"],
    )
    return result


@command(app, out=False)
def passkey(
    run: Run,
    lengths: str = typer.Option("32,64,128", help="context lengths to test"),
    steps: int = typer.Option(300, help="training steps per architecture"),
) -> dict:
    """Passkey retrieval: attention, Mamba and sliding-window models trained on short contexts,
    tested at growing lengths."""
    from ch15_architectures.passkey import compare_passkey

    result = compare_passkey(lengths=_lengths(lengths), steps=steps, seed=run.seed)
    run.table(result["table"])
    return result


@command(app, out=False)
def demo(
    run: Run,
    steps: int = typer.Option(80, help="training steps per model"),
) -> dict:
    """Dense vs MoE vs Mamba trained briefly on the stories: loss, tokens/s; then how Mamba and
    attention scale with length."""
    from ch15_architectures.demo import run_demo

    result = run_demo(steps=steps, seed=run.seed, log=run.log)
    run.table(result["models"])
    run.table(
        [
            {"tokens": n, "mamba_s": m, "attention_s": a}
            for n, m, a in zip(
                result["scaling"]["lengths"],
                result["scaling"]["mamba_s"],
                result["scaling"]["attention_s"],
                strict=True,
            )
        ]
    )
    run.show(result["headline"])
    return result


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()
