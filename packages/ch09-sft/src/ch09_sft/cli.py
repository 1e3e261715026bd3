"""``ch09-sft``: train (LoRA/DoRA/QLoRA/IA3/full), merge-adapter, merge, eval, demo."""

from __future__ import annotations

from pathlib import Path

import typer

from llmpath_core import UserError
from llmpath_core.cli import Run, command, make_app, run_app

app = make_app(
    "ch09-sft",
    "Supervised fine-tuning: LoRA and DoRA from scratch held to peft, an SFT loop with "
    "assistant-only loss, adapter merging.",
)

ALL_LINEAR = "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj"
METHODS = ("lora", "dora", "qlora", "ia3", "full")


def _load(model: str | None):
    """``(model, tokenizer, name)``: a folder, or the default model when ``None``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llmpath_core import load_default_model
    from llmpath_core.models import default_model_path

    torch.set_num_threads(1)  # a 3.4M-parameter model trains fastest on one thread
    if model is None:
        m, tok = load_default_model()
        return m, tok, str(default_model_path())
    path = Path(model)
    if not (path / "config.json").is_file():
        raise UserError(f"{model} is not a Hugging Face model folder (no config.json)")
    tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    m = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=torch.float32)
    return m.eval(), tok, str(path)


@command(app, device=False, out_help="adapter folder (LoRA/DoRA) or model folder (full)")
def train(
    run: Run,
    method: str = typer.Option("lora", help="lora, dora, qlora (NF4 base), ia3 or full"),
    data: Path = typer.Option(
        None, help='chat JSONL, {"messages": [...]} per line (default: bundled task)'
    ),
    model: str = typer.Option(None, help="base model folder (default: llmpath's default model)"),
    rank: int = typer.Option(8, help="LoRA rank r"),
    alpha: float = typer.Option(None, help="LoRA alpha (default 2 * rank)"),
    target_modules: str = typer.Option(
        ALL_LINEAR,
        help="comma-separated module-name suffixes (ia3: default k_proj,v_proj,down_proj)",
    ),
    dropout: float = typer.Option(0.0, help="LoRA dropout"),
    max_steps: int = typer.Option(60, help="optimizer steps"),
    batch_size: int = typer.Option(8, help="examples per step"),
    lr: float = typer.Option(None, help="learning rate (default 3e-3 LoRA, 3e-2 IA3, 3e-4 full)"),
    packing: bool = typer.Option(False, help="pack examples into rows (block-diagonal attention)"),
    task: str = typer.Option("repeat", help="bundled task when no --data: repeat or twice"),
) -> dict:
    """Fine-tune on chat JSONL with assistant-only loss; write a peft-format adapter (or model)."""
    from ch09_sft.ia3 import IA3Config, inject_ia3, save_ia3
    from ch09_sft.lora import LoRAConfig, count_parameters, inject_lora, save_adapter
    from ch09_sft.nf4 import quantize_lora_bases
    from ch09_sft.sft import read_chat_jsonl, train_split
    from ch09_sft.sft import train as train_loop

    if method not in METHODS:
        raise UserError(f"--method must be one of {', '.join(METHODS)}, not {method!r}")
    rows = read_chat_jsonl(data) if data is not None else train_split(seed=run.seed, kind=task)
    if max_steps < 1:
        raise UserError("--max-steps must be at least 1")
    m, tok, base = _load(model)
    config = None
    targets = [t.strip() for t in target_modules.split(",") if t.strip()]
    if method == "ia3":
        if target_modules == ALL_LINEAR:
            targets = ["k_proj", "v_proj", "down_proj"]
        config = IA3Config(targets, [t for t in targets if t in ("down_proj", "up_proj")])
        inject_ia3(m, config)
    elif method != "full":
        config = LoRAConfig(
            r=rank,
            lora_alpha=2.0 * rank if alpha is None else alpha,
            target_modules=targets,
            lora_dropout=dropout,
            use_dora=method == "dora",
        )
        inject_lora(m, config)
    trainable, total = count_parameters(m)  # before NF4: the 4-bit weights are buffers
    if method == "qlora":
        quantize_lora_bases(m)
    result = train_loop(
        m,
        tok,
        rows,
        max_steps=max_steps,
        batch_size=batch_size,
        lr=lr if lr is not None else {"full": 3e-4, "ia3": 3e-2}.get(method, 3e-3),
        seed=run.seed,
        packing=packing,
    )
    out = run.out_path(f"ch09-{method}-adapter" if config else "ch09-full-model")
    if method == "ia3":
        save_ia3(m, out, base_model=base)
    elif config is not None:
        save_adapter(m, out, base_model=base)
    else:
        from llmpath_core.io import atomic_dir

        with atomic_dir(out) as tmp:
            m.save_pretrained(tmp)
            tok.save_pretrained(tmp)
    losses = result.pop("losses")
    return {
        "method": method,
        "train_loss": result["train_loss"],
        "first_loss": result["first_loss"],
        "trainable_params": trainable,
        "total_params": total,
        "trainable_fraction": trainable / total,
        "steps": max_steps,
        "examples": len(rows),
        "train_seconds": result["train_seconds"],
        "loss_curve_every_10": losses[::10],
        "padding_fraction": result["padding_fraction"],
        "out": str(out),
        "base_model": base,
    }


@command(app, "merge-adapter", device=False, out_help="folder for the merged HF model")
def merge_adapter(
    run: Run,
    adapter: Path = typer.Option(..., help="peft-format LoRA/DoRA/IA3 adapter folder"),
    model: str = typer.Option(None, help="base model folder (default: llmpath's default model)"),
) -> dict:
    """Fold an adapter into its base model: a plain HF folder, equal to peft's merge_and_unload."""
    from ch09_sft.lora import load_adapter, merge_lora
    from llmpath_core.io import atomic_dir

    if run.out is None:
        raise UserError("--out MODEL_DIR is required")
    m, tok, base = _load(model)
    load_adapter(m, adapter)
    merge_lora(m)
    with atomic_dir(run.out) as tmp:
        m.save_pretrained(tmp)
        tok.save_pretrained(tmp)
    return {"adapter": str(adapter), "base_model": base, "out": str(run.out)}


@command(app, "merge", device=False, out_help="folder for the merged HF model")
def merge_models(
    run: Run,
    models: str = typer.Option(..., help="comma-separated HF model folders (the fine-tunes)"),
    base: str = typer.Option(None, help="their common base folder (default: the default model)"),
    method: str = typer.Option(
        "ties", help="linear, slerp, task_arithmetic, ties, dare_linear, dare_ties"
    ),
    weights: str = typer.Option(None, help="comma-separated weights (default: 1 each)"),
    density: float = typer.Option(0.5, help="TIES/DARE: fraction of each task vector kept"),
    t: float = typer.Option(0.5, help="SLERP: 0 = the first model, 1 = the second"),
) -> dict:
    """Merge fine-tunes of one base (mergekit's formulas, held to mergekit in the tests)."""
    from ch09_sft.merge import merge_states
    from llmpath_core.io import atomic_dir

    if run.out is None:
        raise UserError("--out MODEL_DIR is required")
    folders = [x.strip() for x in models.split(",") if x.strip()]
    if not folders:
        raise UserError("--models needs at least one folder")
    loaded = [_load(f) for f in folders]
    states = [{k: v.detach() for k, v in m.state_dict().items()} for m, _, _ in loaded]
    w = [float(x) for x in weights.split(",")] if weights else None
    if method == "slerp":
        if len(states) != 2:
            raise UserError("slerp merges exactly two models")
        merged = merge_states([states[1]], "slerp", base=states[0], t=t, seed=run.seed)
    else:
        bm = None
        if method != "linear":
            b, _, _ = _load(base)
            bm = {k: v.detach() for k, v in b.state_dict().items()}
        merged = merge_states(states, method, base=bm, weights=w, density=density, seed=run.seed)
    model, tok, _ = loaded[0]
    model.load_state_dict(merged)
    with atomic_dir(run.out) as tmp:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
    return {"method": method, "models": folders, "out": str(run.out), "tensors": len(merged)}


@command(app, "eval", device=False, out=False)
def eval_(
    run: Run,
    model: str = typer.Option(None, help="model folder (default: llmpath's default model)"),
    adapter: Path = typer.Option(None, help="peft-format adapter to apply first"),
    data: Path = typer.Option(None, help="chat JSONL to score (default: the held-out task)"),
    n: int = typer.Option(100, help="held-out examples (bundled task)"),
    task: str = typer.Option("repeat", help="bundled task: repeat or twice"),
) -> dict:
    """Greedy exact-match accuracy of the answer to the last assistant turn."""
    from ch09_sft.lora import load_adapter
    from ch09_sft.sft import eval_split, evaluate, read_chat_jsonl

    if n < 1:
        raise UserError("--n must be at least 1")
    rows = read_chat_jsonl(data) if data is not None else eval_split(n, kind=task)
    m, tok, base = _load(model)
    if adapter is not None:
        load_adapter(m, adapter)
    result = evaluate(m, tok, rows)
    return {"model": base, "adapter": str(adapter) if adapter else None, **result}


@command(app, device=False, out=False)
def demo(
    run: Run,
    steps: int = typer.Option(60, help="LoRA optimizer steps"),
    rank: int = typer.Option(8, help="LoRA rank"),
) -> dict:
    """LoRA fine-tune of the default model: held-out accuracy before/after, then a merge."""
    import torch

    from ch09_sft.lora import LoRAConfig, count_parameters, inject_lora, merge_lora
    from ch09_sft.sft import eval_split, evaluate, train_split
    from ch09_sft.sft import train as train_loop
    from llmpath_core import seed_everything

    seed_everything(run.seed)
    m, tok, _ = _load(None)
    held = eval_split(60)
    before = evaluate(m, tok, held)
    inject_lora(m, LoRAConfig(r=rank, lora_alpha=2.0 * rank, target_modules=ALL_LINEAR.split(",")))
    trainable, total = count_parameters(m)
    result = train_loop(m, tok, train_split(seed=run.seed), max_steps=steps, lr=3e-3, seed=run.seed)
    after = evaluate(m, tok, held)
    ids = tok([r["messages"][0]["content"] for r in held[:8]], return_tensors="pt", padding=True)
    with torch.no_grad():
        adapter_logits = m(**ids).logits
        merge_lora(m)
        merged_logits = m(**ids).logits
    diff = float((adapter_logits - merged_logits).abs().max())
    merged_acc = evaluate(m, tok, held)["accuracy"]
    run.table(
        [
            {"model": "default model", "accuracy": f"{before['accuracy']:.3f}"},
            {"model": f"+ LoRA r={rank} ({steps} steps)", "accuracy": f"{after['accuracy']:.3f}"},
            {"model": "LoRA merged into W", "accuracy": f"{merged_acc:.3f}"},
        ],
        title=f"held-out 'repeat the word' task, n={before['n']}",
    )
    return {
        "accuracy_before": before["accuracy"],
        "accuracy_after": after["accuracy"],
        "accuracy_merged": merged_acc,
        "accuracy_stderr_after": after["accuracy_stderr"],
        "n": before["n"],
        "train_loss": result["train_loss"],
        "trainable_params": trainable,
        "total_params": total,
        "merge_max_logit_diff": diff,
        "train_seconds": result["train_seconds"],
        "samples_after": after["samples"],
        "showed": (
            f"LoRA (r={rank}, {trainable / total:.1%} of the weights trainable) taught the default "
            f"model a chat task in {steps} steps; merging the adapter into W kept the outputs "
            f"(max logit diff {diff:.1e})"
        ),
        "headline": (
            f"held-out exact match {before['accuracy']:.0%} before, {after['accuracy']:.0%} after "
            f"LoRA fine-tuning (n={before['n']})"
        ),
    }


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()
