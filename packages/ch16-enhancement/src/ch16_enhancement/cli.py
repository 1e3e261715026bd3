"""``ch16-enhancement`` command line: thin wrappers over the library modules."""

from __future__ import annotations

from pathlib import Path

import typer

from llmpath_core.cli import Run, command, make_app, run_app
from llmpath_core.errors import UserError

app = make_app(
    "ch16-enhancement",
    "Model enhancement: RoPE context extension (PI, NTK, YaRN), merging and ensembling, "
    "knowledge distillation, continual learning and self-improvement.",
)


def _ints(text: str, name: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise UserError(f"{name} must be comma-separated integers (got {text!r})") from None
    if not values:
        raise UserError(f"{name} is empty")
    return values


@command(app, device=False, out=False)
def rope(
    run: Run,
    type: str = typer.Option(
        "yarn", "--type", help="linear, dynamic, yarn, llama3 (or ntk, default)"
    ),
    factor: float = typer.Option(4.0, "--factor", help="scaling factor (>= 1)"),
    head_dim: int = typer.Option(64, "--head-dim", help="attention head dimension"),
    base: float = typer.Option(10000.0, "--base", help="RoPE base (rope_theta)"),
    original_max_positions: int = typer.Option(
        2048, "--original-max-positions", help="trained context length"
    ),
    seq_len: int | None = typer.Option(None, "--seq-len", help="current length (dynamic only)"),
    low_freq_factor: float = typer.Option(1.0, "--low-freq-factor", help="llama3 (Llama 3.1: 1)"),
    high_freq_factor: float = typer.Option(4.0, "--high-freq-factor", help="llama3 (Llama 3.1: 4)"),
) -> dict:
    """Inverse frequencies and attention scaling of a RoPE scaling (equal to transformers')."""
    from ch16_enhancement.rope import RopeScaling, inverse_frequencies

    spec = RopeScaling(
        type, factor, head_dim, base, original_max_positions, low_freq_factor, high_freq_factor
    )
    if seq_len is not None and seq_len < 1:
        raise UserError(f"--seq-len must be >= 1 (got {seq_len})")
    inv_freq, scaling = inverse_frequencies(spec, seq_len)
    values = inv_freq.tolist()
    run.table(
        [
            {"i": i, "inv_freq": v, "wavelength": 2 * 3.141592653589793 / v}
            for i, v in enumerate(values)
        ],
        title=f"{type} x{factor:g}, head_dim {head_dim}, base {base:g}, "
        f"L={original_max_positions}, "
        f"attention scaling {scaling:.6g}",
    )
    return {"inv_freq": values, "attention_scaling": scaling}


@command(app, out_help="folder for results.json and the plots")
def extend(
    run: Run,
    steps: int = typer.Option(400, help="training steps of the base model at the trained length"),
    train_len: int = typer.Option(128, "--train-len", help="trained context length L (bytes)"),
    factors: str = typer.Option("4", help="comma-separated extension factors, e.g. 2,4,8"),
    methods: str = typer.Option("none,linear,ntk,dynamic,yarn", help="comma-separated methods"),
    finetune_steps: int = typer.Option(
        30, "--finetune-steps", help="short fine-tune at the long length"
    ),
    eval_samples: int = typer.Option(
        16, "--eval-samples", help="passkey samples per length and depth"
    ),
    yarn_beta_fast: float = typer.Option(
        2.0, "--yarn-beta-fast", help="YaRN ramp start, rotations over L (paper: 32 at L~4k)"
    ),
    yarn_beta_slow: float = typer.Option(
        0.0625, "--yarn-beta-slow", help="YaRN ramp end, rotations over L (paper: 1 at L~4k)"
    ),
) -> dict:
    """Context extension lab: train at L, extend by PI/NTK/dynamic/YaRN; passkey and loss."""
    import torch

    from ch16_enhancement.context import METHODS, ContextConfig, run_experiment
    from ch16_enhancement.plots import plot_extension

    chosen = tuple(m.strip() for m in methods.split(",") if m.strip())
    for m in chosen:
        if m not in METHODS:
            raise UserError(f"unknown method {m!r}: use {', '.join(METHODS)}")
    fs = _ints(factors, "--factors")
    if any(f < 1 for f in fs):
        raise UserError(f"extension factors must be >= 1 (got {factors})")
    if train_len < 96:
        raise UserError("--train-len must be at least 96 bytes (a passkey sample needs ~90)")
    if steps < 1 or finetune_steps < 0 or eval_samples < 1:
        raise UserError("--steps and --eval-samples must be >= 1, --finetune-steps >= 0")
    cfg = ContextConfig(
        train_len=train_len,
        steps=steps,
        factors=fs,
        methods=chosen,
        finetune_steps=finetune_steps,
        eval_samples=eval_samples,
        seed=run.seed,
        yarn_beta_fast=yarn_beta_fast,
        yarn_beta_slow=yarn_beta_slow,
    )
    torch.manual_seed(run.seed)
    result = run_experiment(cfg, progress=run.log)
    rows = [r for r in result["rows"] if finetune_steps > 0 or not r["finetuned"]]
    run.table(
        [
            {
                "method": r["method"],
                "factor": r["factor"],
                "fine-tuned": r["finetuned"],
                "passkey@L": r["passkey_at_L"],
                "passkey@sL": r["passkey_at_target"],
                "loss@L": round(r["loss_short"], 3),
                "loss last slice": round(r["loss_by_position"][-1], 3),
            }
            for r in rows
        ],
        title=f"context extension from L={train_len} "
        "(passkey accuracy, held-out loss in nats/byte)",
    )
    if run.out is not None:
        from llmpath_core import write_json

        out = Path(run.out)
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "results.json", result)
        result["plots"] = [str(p) for p in plot_extension(result, out)]
    return result


@command(app, out_help="folder for the student (HF folder) and its ONNX graphs")
def distill(
    run: Run,
    steps: int = typer.Option(150, help="training steps of each student"),
    temperature: float = typer.Option(2.0, help="softmax temperature T of the KD loss"),
    alpha: float = typer.Option(0.5, help="weight of the KD term (1 - alpha on the hard labels)"),
    hidden_weight: float = typer.Option(
        0.0, "--hidden-weight", help="weight of hidden-state transfer"
    ),
    batch_size: int = typer.Option(8, "--batch-size"),
    onnx: bool = typer.Option(
        False, "--onnx/--no-onnx", help="export the student to ONNX (+ int8)"
    ),
    init: str = typer.Option(
        "random", "--init", help="student start: random, teacher (weight selection), draft"
    ),
    student_size: str = typer.Option(
        "draft", "--student-size", help="draft (10.5% of the weights) or quarter (24.8%)"
    ),
    method: str = typer.Option(
        "logit", "--method", help="KD on: logit (data), sequence (teacher samples), both"
    ),
    lr: float = typer.Option(3e-3, "--lr", help="peak learning rate of both students"),
) -> dict:
    """Distil the default model into a ~10x smaller student; compare with training from scratch."""
    from ch16_enhancement.distill import INITS, METHODS, STUDENT_SIZES, DistillConfig, sized
    from ch16_enhancement.distill import distill as run_distill

    for name, value, allowed in (
        ("--init", init, INITS),
        ("--student-size", student_size, tuple(STUDENT_SIZES)),
        ("--method", method, METHODS),
    ):
        if value not in allowed:
            raise UserError(f"{name} must be one of {', '.join(allowed)} (got {value!r})")
    if init == "draft" and student_size != "draft":
        raise UserError("--init draft needs --student-size draft (the draft model's shape)")
    if lr <= 0:
        raise UserError(f"--lr must be > 0 (got {lr})")

    if steps < 1 or batch_size < 1:
        raise UserError("--steps and --batch-size must be >= 1")
    if temperature <= 0:
        raise UserError(f"--temperature must be > 0 (got {temperature})")
    if not 0 <= alpha <= 1:
        raise UserError(f"--alpha must be in [0, 1] (got {alpha})")
    cfg = DistillConfig(
        steps=steps,
        temperature=temperature,
        alpha=alpha,
        hidden_weight=hidden_weight,
        batch_size=batch_size,
        seed=run.seed,
        init=init,
        method=method,
        lr=lr,
    )
    result = run_distill(sized(cfg, student_size), progress=run.log)
    models = result.pop("_models")
    if run.out is not None or onnx:
        from llmpath_core import artefact_path, atomic_dir

        out = Path(run.out) if run.out is not None else artefact_path("ch16", "student")
        with atomic_dir(out) as staged:
            models["student"].save_pretrained(staged)
            models["tokenizer"].save_pretrained(staged)
            if onnx:
                from ch16_enhancement.export import export_onnx

                exported = export_onnx(models["student"], staged)
                for entry in exported.values():
                    entry["path"] = str(out / Path(entry["path"]).name)
                result["onnx"] = exported
        result["student_path"] = str(out)
    run.table(
        [
            {
                "model": "teacher (default model)",
                "parameters": result["teacher_params"],
                "perplexity": round(result["teacher_perplexity"], 3),
                "forward ms": round(result["teacher_forward_ms"], 2),
            },
            {
                "model": f"student, {method} KD ({init} init)",
                "parameters": result["student_params"],
                "perplexity": round(result["student_perplexity"], 3),
                "forward ms": round(result["student_forward_ms"], 2),
            },
            {
                "model": "student, from scratch",
                "parameters": result["student_params"],
                "perplexity": round(result["scratch_perplexity"], 3),
                "forward ms": "",
            },
        ],
        title=f"distillation at {steps} steps each (mix:validation, seq 128); "
        f"speed-up {result['speedup']:.1f}x",
    )
    return result


@command(app, out_help="folder for the merged model (HF folder)")
def merge(
    run: Run,
    models: list[Path] = typer.Option(
        None, "--model", help="a model folder to merge (repeat); none: the lab"
    ),
    base: Path | None = typer.Option(
        None, "--base", help="base model folder (task vectors, SLERP)"
    ),
    method: str = typer.Option(
        "ties", help="linear, slerp, task_arithmetic, ties, dare_linear, dare_ties"
    ),
    weights: str | None = typer.Option(None, help="comma-separated weights, one per --model"),
    t: float = typer.Option(0.5, help="SLERP interpolation point"),
    density: float = typer.Option(0.5, help="kept fraction for TIES / DARE"),
    steps: int = typer.Option(60, help="lab: fine-tuning steps per task"),
) -> dict:
    """Merge model folders; without --model, the lab: two fine-tunes, every merge, ensembles."""
    if not models:
        from ch16_enhancement.ensemble import MergeLabConfig, merge_lab

        result = merge_lab(MergeLabConfig(steps=steps, density=density, seed=run.seed))
        run.table(
            [
                {k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}
                for r in result["rows"]
            ],
            title="held-out loss per task (nats/token) of fine-tunes, merges and ensembles",
        )
        return result
    return _merge_folders(run, models, base, method, weights, t, density)


def _merge_folders(run, models, base, method, weights, t, density) -> dict:
    from safetensors.torch import load_file
    from transformers import AutoConfig

    from ch16_enhancement.merge import merge_states
    from llmpath_core import atomic_dir

    def state(folder: Path):
        path = folder / "model.safetensors"
        if not path.is_file():
            raise UserError(
                f"{folder} has no model.safetensors (a Hugging Face model folder is needed)"
            )
        return load_file(str(path))

    ws = None
    if weights:
        try:
            ws = [float(w) for w in weights.split(",")]
        except ValueError:
            raise UserError(
                f"--weights must be comma-separated numbers (got {weights!r})"
            ) from None
    states = [state(m) for m in models]
    base_state = state(base) if base is not None else None
    if method == "slerp" and base_state is None and len(states) == 2:
        base_state, states = states[0], states[1:]
    merged = merge_states(
        states, method, base=base_state, weights=ws, t=t, density=density, seed=run.seed
    )
    out = run.out_path(Path("merged"))
    from safetensors.torch import save_file

    source = models[0]
    with atomic_dir(out) as staged:
        save_file(
            {k: v.contiguous() for k, v in merged.items()},
            str(staged / "model.safetensors"),
            metadata={"format": "pt"},
        )
        AutoConfig.from_pretrained(source).save_pretrained(staged)
        for extra in ("tokenizer.json", "tokenizer_config.json", "generation_config.json"):
            if (source / extra).is_file():
                (staged / extra).write_bytes((source / extra).read_bytes())
    result = {
        "method": method,
        "models": [str(m) for m in models],
        "out": str(out),
        "tensors": len(merged),
    }
    run.table([result])
    return result


@command(app)
def continual(
    run: Run,
    steps_a: int = typer.Option(0, "--steps-a", help="extra steps on task A (stories) first"),
    steps_b: int = typer.Option(60, "--steps-b", help="steps on task B (prose)"),
    ewc_lambda: float = typer.Option(1000.0, "--ewc-lambda", help="EWC strength"),
    lr: float = typer.Option(1e-3, help="learning rate of the sequential fine-tunes"),
) -> dict:
    """The draft model fine-tuned on prose: naive vs EWC vs replay; forgetting of stories."""
    from ch16_enhancement.continual import ContinualConfig, continual_experiment
    from llmpath_core import load_draft_model

    if steps_a < 0 or steps_b < 1 or ewc_lambda < 0 or lr <= 0:
        raise UserError("--steps-a must be >= 0, --steps-b >= 1, --ewc-lambda >= 0 and --lr > 0")
    model, tokenizer = load_draft_model()
    cfg = ContinualConfig(
        steps_a=steps_a, steps_b=steps_b, ewc_lambda=ewc_lambda, lr=lr, seed=run.seed
    )
    result = continual_experiment(tokenizer, cfg, model=model)
    run.table(
        [
            {
                "strategy": k,
                "loss A after B": round(v["loss_A_after_B"], 3),
                "forgetting A": round(v["forgetting"], 3),
                "loss B after B": round(v["loss_B_after_B"], 3),
            }
            for k, v in result["strategies"].items()
        ],
        title=f"before task B: loss A {result['after_A']['A']:.3f}, "
        f"loss B {result['after_A']['B']:.3f}",
    )
    return result


@command(app)
def feedback(
    run: Run,
    log: Path | None = typer.Option(
        None, "--log", help="feedback JSONL to learn from; none: the simulated loop"
    ),
    rounds: int = typer.Option(4, help="simulated loop: update rounds"),
    steps: int = typer.Option(40, help="fine-tuning steps per update"),
) -> dict:
    """Learn from thumbs up/down and corrections (JSONL), in periodic updates of the draft model."""
    from ch16_enhancement import feedback as fb
    from llmpath_core import artefact_path, load_draft_model

    if rounds < 1 or steps < 1:
        raise UserError("--rounds and --steps must be >= 1")
    if log is not None:
        records = fb.read_feedback(log)
        pairs = fb.training_pairs(records)
        if not pairs:
            raise UserError(f"{log}: no liked or corrected responses to learn from")
        model, tokenizer = load_draft_model()
        before = float(fb.sft_step_loss(model, tokenizer, pairs).detach())
        after = fb.fine_tune_on_pairs(model, tokenizer, pairs, steps, seed=run.seed)
        result = {
            "records": len(records),
            "pairs": len(pairs),
            "loss_before": before,
            "loss_after_last_step": after,
        }
        run.table([result])
        return result
    model, tokenizer = load_draft_model()
    path = artefact_path("ch16", "feedback.jsonl")
    history = fb.feedback_loop(
        model, tokenizer, path, rounds=rounds, steps_per_update=steps, seed=run.seed
    )
    run.table(history, title=f"simulated feedback on single-digit addition (log: {path})")
    return {"rounds": history, "log": str(path)}


@command(app)
def demo(
    run: Run,
    steps: int = typer.Option(300, help="base-model steps of the context-extension part"),
    distill_steps: int = typer.Option(100, "--distill-steps", help="steps of each student"),
) -> dict:
    """Context extension at 4x (passkey and loss) and a distillation result (2-3 minutes)."""
    from ch16_enhancement.context import ContextConfig, run_experiment
    from ch16_enhancement.distill import DistillConfig
    from ch16_enhancement.distill import distill as run_distill

    cfg = ContextConfig(
        steps=steps,
        factors=(4,),
        methods=("none", "linear", "yarn"),
        finetune_steps=20,
        eval_samples=8,
        seed=run.seed,
        yarn_beta_fast=2.0,
        yarn_beta_slow=0.0625,
    )
    ext = run_experiment(cfg, progress=run.log)
    run.table(
        [
            {
                "method": r["method"],
                "fine-tuned": r["finetuned"],
                "passkey@128": r["passkey_at_L"],
                "passkey@512": r["passkey_at_target"],
                "loss@128": round(r["loss_short"], 3),
                "loss 384-512": round(r["loss_by_position"][-1], 3),
            }
            for r in ext["rows"]
        ],
        title="context extension 128 -> 512 bytes",
    )
    dist = run_distill(
        DistillConfig(steps=distill_steps, eval_chars=60_000, seed=run.seed), progress=run.log
    )
    dist.pop("_models")
    run.table(
        [
            {
                k: round(v, 3) if isinstance(v, float) else v
                for k, v in dist.items()
                if k
                in (
                    "teacher_params",
                    "student_params",
                    "teacher_perplexity",
                    "student_perplexity",
                    "scratch_perplexity",
                    "speedup",
                )
            }
        ],
        title="distillation",
    )
    yarn_tuned = next(r for r in ext["rows"] if r["method"] == "yarn" and r["finetuned"])
    headline = (
        f"YaRN + {cfg.finetune_steps}-step fine-tune: "
        f"passkey {yarn_tuned['passkey_at_target']:.0%} at 4x; "
        f"KD student ({dist['param_ratio']:.0%} of the teacher's weights) perplexity "
        f"{dist['student_perplexity']:.1f} vs {dist['scratch_perplexity']:.1f} from scratch, "
        f"{dist['speedup']:.1f}x faster"
    )
    return {
        "showed": "context extension of a byte-level Llama from 128 to 512 "
        "(plain, PI, YaRN, with/without "
        "fine-tune) and logit distillation of the default model into a 10x smaller student",
        "headline": headline,
        "extension": [{k: v for k, v in r.items() if k != "passkey"} for r in ext["rows"]],
        "distillation": dist,
    }


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()
