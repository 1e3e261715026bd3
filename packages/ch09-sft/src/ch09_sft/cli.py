"""``ch09-sft``: train (LoRA/DoRA/full), merge-adapter, eval, demo."""

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
    method: str = typer.Option("lora", help="lora, dora or full"),
    data: Path = typer.Option(
        None, help='chat JSONL, {"messages": [...]} per line (default: bundled task)'
    ),
    model: str = typer.Option(None, help="base model folder (default: llmpath's default model)"),
    rank: int = typer.Option(8, help="LoRA rank r"),
    alpha: float = typer.Option(None, help="LoRA alpha (default 2 * rank)"),
    target_modules: str = typer.Option(ALL_LINEAR, help="comma-separated module-name suffixes"),
    dropout: float = typer.Option(0.0, help="LoRA dropout"),
    max_steps: int = typer.Option(60, help="optimizer steps"),
    batch_size: int = typer.Option(8, help="examples per step"),
    lr: float = typer.Option(None, help="learning rate (default 3e-3 LoRA, 3e-4 full)"),
) -> dict:
    """Fine-tune on chat JSONL with assistant-only loss; write a peft-format adapter (or model)."""
    from ch09_sft.lora import LoRAConfig, count_parameters, inject_lora, save_adapter
    from ch09_sft.sft import read_chat_jsonl, train_split
    from ch09_sft.sft import train as train_loop

    if method not in ("lora", "dora", "full"):
        raise UserError(f"--method must be lora, dora or full, not {method!r}")
    rows = read_chat_jsonl(data) if data is not None else train_split(seed=run.seed)
    if max_steps < 1:
        raise UserError("--max-steps must be at least 1")
    m, tok, base = _load(model)
    config = None
    if method != "full":
        config = LoRAConfig(
            r=rank,
            lora_alpha=2.0 * rank if alpha is None else alpha,
            target_modules=[t.strip() for t in target_modules.split(",") if t.strip()],
            lora_dropout=dropout,
            use_dora=method == "dora",
        )
        inject_lora(m, config)
    trainable, total = count_parameters(m)
    result = train_loop(
        m,
        tok,
        rows,
        max_steps=max_steps,
        batch_size=batch_size,
        lr=lr if lr is not None else (3e-3 if config else 3e-4),
        seed=run.seed,
    )
    out = run.out_path(f"ch09-{method}-adapter" if config else "ch09-full-model")
    if config is not None:
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
        "out": str(out),
        "base_model": base,
    }


@command(app, "merge-adapter", device=False, out_help="folder for the merged HF model")
def merge_adapter(
    run: Run,
    adapter: Path = typer.Option(..., help="peft-format LoRA/DoRA adapter folder"),
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


@command(app, "eval", device=False, out=False)
def eval_(
    run: Run,
    model: str = typer.Option(None, help="model folder (default: llmpath's default model)"),
    adapter: Path = typer.Option(None, help="peft-format adapter to apply first"),
    data: Path = typer.Option(None, help="chat JSONL to score (default: the held-out task)"),
    n: int = typer.Option(100, help="held-out examples (bundled task)"),
) -> dict:
    """Greedy exact-match accuracy of the answer to the last assistant turn."""
    from ch09_sft.lora import load_adapter
    from ch09_sft.sft import eval_split, evaluate, read_chat_jsonl

    if n < 1:
        raise UserError("--n must be at least 1")
    rows = read_chat_jsonl(data) if data is not None else eval_split(n)
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
