"""Turn a finished run into a released model folder with a model card.

``release_model`` copies the HF files of a run (config, safetensors weights, tokenizer) into a
destination folder, evaluates the copy with ``llmpath_core.evaluate_lm`` on the bundled held-out
text (``mix:validation``, the number every chapter compares against; and each part, stories and
real prose, on validation and test), samples a few texts, and writes ``card.json`` (for code) and
``README.md`` (the model card for people): data, tokens seen, steps, held-out loss and bits per
byte with standard errors, comparisons with other models (``ch07-pretraining compare`` results),
the commands and seed that rebuild it, and the weights' sha256.
The folder is written atomically; an existing release is replaced only once the new one is whole.

This is how llmpath's default and draft models inside llmpath-core were made
(``scripts/build_default_models.sh``).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
from pathlib import Path
from typing import Any

from llmpath_core import UserError, atomic_dir

MODEL_FILES = (
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
)
DESCRIPTIONS = {
    "stories": "the bundled synthetic stories (`llmpath_core.load_text('stories')`)",
    "mix": "llmpath's bundled corpus `mix` (`llmpath_core.load_text('mix')`): synthetic "
    "multi-paragraph stories interleaved with real English prose, CPython 3.11's documentation "
    "(pydoc topics and standard-library docstrings, frozen)",
}
PROMPTS = ("Once upon a time", "Grandma gave Omar", "Return a new list")
EVAL_PARTS = ("mix:validation", "stories:validation", "prose:validation", "mix:test", "prose:test")
NANOGPT_SHAKESPEARE_CHAR = {
    "what": "nanoGPT's character-level Shakespeare baseline (Karpathy, nanoGPT README): a 10.65 M "
    "parameter GPT trained about 3 minutes on one A100 reaches validation loss 1.4697 nats per "
    "character; Shakespeare is ASCII, so that is 1.4697 / ln 2 = 2.12 bits per byte",
    "bits_per_byte": 2.12,
}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _samples(model, tokenizer, seed: int, max_new_tokens: int = 80) -> list[dict]:
    import torch

    rows = []
    for i, prompt in enumerate(PROMPTS):
        ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
        ids = torch.cat([torch.tensor([[tokenizer.eos_token_id]]), ids], dim=1)
        room = model.config.max_position_embeddings - ids.shape[1]
        sampled = i > 0
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.manual_seed(seed + i)
            out = model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=min(max_new_tokens, room),
                do_sample=sampled,
                top_k=50 if sampled else None,
                temperature=0.8 if sampled else None,
                pad_token_id=tokenizer.eos_token_id,
            )
        text = tokenizer.decode(out[0, 1:], skip_special_tokens=False)
        text = text.split(tokenizer.eos_token)[0]
        decoding = f"top-k 50, temperature 0.8, seed {seed + i}" if sampled else "greedy"
        rows.append({"prompt": prompt, "decoding": decoding, "text": text})
    return rows


def _card_markdown(card: dict[str, Any]) -> str:
    arch, train, ev = card["architecture"], card["training"], card["eval"]
    tok = card["tokenizer"]
    lines = [
        "---",
        "license: mit",
        "library_name: transformers",
        "pipeline_tag: text-generation",
        "tags: [llama, llmpath, tiny, from-scratch]",
        "---",
        "",
        f"# llmpath {card['name']} model",
        "",
        card["summary"],
        "",
        "## Model",
        "",
        f"- Architecture: `LlamaForCausalLM`, {arch['layers']} layers, hidden size "
        f"{arch['hidden_size']}, {arch['heads']} attention heads ({arch['kv_heads']} key/value "
        f"heads), SwiGLU MLP {arch['intermediate_size']}, RoPE, tied embeddings, context "
        f"{arch['context']} tokens.",
        f"- Parameters: {card['parameters']:,} ({card['weights_bytes'] / 1e6:.2f} MB of float32 "
        "safetensors).",
        f"- Weights sha256: `{card['sha256']}`",
        "- Tokenizer: byte-level BPE (Hugging Face `tokenizers`), "
        f"{tok['vocab_size']} tokens, trained on {tok['trained_on']}. `<|endoftext|>` (id "
        f"{tok['eos_token_id']}) is end of text, beginning of text and padding.",
        "",
        "## Training",
        "",
        f"- Data: {card['data']['description']}: {card['data']['train_tokens']:,} training "
        f"tokens ({card['data']['train_bytes']:,} bytes).",
        f"- {train['steps']} steps of {train['batch_size']} x {train['seq_len']} tokens: "
        f"{train['tokens_seen']:,} tokens seen ({train['epochs']:.2f} epochs).",
        f"- AdamW, peak learning rate {train['peak_lr']:.4g}, warm-up then cosine, gradient "
        f"clipping 1.0, {train['precision']}, seed {train['seed']}.",
        f"- Trained in {train['seconds'] / 60:.1f} minutes on {train['machine']}."
        + (f" {train['note']}" if train.get("note") else ""),
        "",
        "## Evaluation",
        "",
        f"Held-out text never seen in training, non-overlapping windows of {ev['seq_len']} tokens, "
        "measured by `llmpath_core.evaluate_lm` (± one standard error over windows); the first "
        f"row (`{ev['source']}`, first {ev['max_chars']:,} characters) is the number every "
        "chapter compares against:",
        "",
        "| text | tokens | loss (nats/token) | perplexity | bits per byte |",
        "| --- | --- | --- | --- | --- |",
        *[
            f"| `{part['source']}` | {part['tokens']:,} | {part['loss']:.4f} ± "
            f"{part['loss_stderr']:.4f} | {part['perplexity']:.3f} | "
            f"{part['bits_per_byte']:.4f} ± {part['bpb_stderr']:.4f} |"
            for part in card.get("eval_parts", [ev])
        ],
        "",
        *_reference_lines(card),
        *_comparison_lines(card),
        "## Samples",
        "",
    ]
    for row in card["samples"]:
        lines += [f"Prompt `{row['prompt']}` ({row['decoding']}):", "", f"> {row['text']}", ""]
    lines += [
        "## Rebuild",
        "",
        "From the repository root, with the workspace synced (`uv sync`):",
        "",
        "```bash",
        *card["commands"],
        "```",
        "",
        "## Use",
        "",
        "```python",
        f"from llmpath_core import load_{card['name']}_model",
        "",
        f"model, tokenizer = load_{card['name']}_model()",
        "```",
        "",
        "The folder is a standard Hugging Face model folder: "
        "`AutoModelForCausalLM.from_pretrained(path)` and `AutoTokenizer.from_pretrained(path)` "
        "load it too.",
        "",
        "## Limits",
        "",
        "It knows only its corpus: simple synthetic stories and the style of Python's "
        "documentation. It keeps a character's name and pronoun over a few sentences but often "
        "loses the numbers and facts a story asks it to remember, and its prose is fluent in form "
        "more than in content. It is a teaching model, sized so that every chapter runs on a "
        "laptop CPU in seconds while compression, pruning and fine-tuning still move its loss.",
        "",
    ]
    return "\n".join(lines)


def _reference_lines(card: dict[str, Any]) -> list[str]:
    ref = card.get("reference")
    prose = next((p for p in card.get("eval_parts", []) if p["source"] == "prose:test"), None)
    if not ref or not prose:
        return []
    return [
        f"For scale: on real prose (`prose:test`) it reaches {prose['bits_per_byte']:.2f} bits "
        f"per byte; {ref['what']}. Different text, so only the order of magnitude compares.",
        "",
    ]


def _comparison_lines(card: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for comp in card.get("comparisons", []):
        title = comp.get("title") or f"Compared on `{comp['source']}`"
        lines += [
            f"### {title}",
            "",
            f"On `{comp['source']}` (first {comp['max_chars']:,} characters); differences are "
            "paired over the same windows (± one standard error):",
            "",
            "| model | parameters | loss | bits per byte | loss vs first row |",
            "| --- | --- | --- | --- | --- |",
        ]
        paired = {p["label"]: p for p in comp["paired"]}
        for m in comp["models"]:
            p = paired.get(m["label"])
            delta = (
                f"{p['loss_diff']:+.4f} ± {p['loss_diff_stderr']:.4f} "
                f"({100 * p['loss_diff_rel']:+.1f}%)"
                if p
                else "—"
            )
            lines.append(
                f"| {m['label']} | {m['parameters']:,} | {m['loss']:.4f} ± {m['loss_stderr']:.4f}"
                f" | {m['bits_per_byte']:.4f} | {delta} |"
            )
        if comp.get("note"):
            lines += ["", comp["note"]]
        lines.append("")
    return lines


def release_model(
    run_dir: str | os.PathLike,
    dest: str | os.PathLike,
    *,
    name: str,
    summary: str,
    commands: list[str],
    train_seconds: float,
    seed: int = 0,
    note: str = "",
    comparisons: list[dict[str, Any]] | None = None,
    eval_chars: int | None = None,
) -> dict[str, Any]:
    """Write ``dest`` as a released model folder from the finished run in ``run_dir``.

    ``comparisons`` are :func:`ch07_pretraining.compare.compare_models` results (optionally with
    a ``title`` and a ``note``) shown in the card. ``eval_chars`` (default: llmpath-core's
    ``EVAL_MAX_CHARS``) is how much of each held-out text the card's evaluation reads.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llmpath_core import evaluate_lm, machine_info
    from llmpath_core.models import EVAL_MAX_CHARS, EVAL_SOURCE
    from llmpath_core.models import summary as eval_summary

    run_dir = Path(run_dir)
    if not (run_dir / "model.safetensors").is_file() or not (run_dir / "config.json").is_file():
        raise UserError(f"{run_dir} holds no finished model (model.safetensors + config.json)")
    config = json.loads((run_dir / "train_config.json").read_text())
    meta = json.loads((Path(config["data"]) / "meta.json").read_text())
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    steps = max(r["step"] for r in metrics if "train_loss" in r)
    tokens_per_step = config["batch_size"] * config["seq_len"]
    with atomic_dir(dest) as tmp:
        for file in MODEL_FILES:
            if (run_dir / file).is_file():
                shutil.copy2(run_dir / file, tmp / file)
        tokenizer = AutoTokenizer.from_pretrained(tmp, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(tmp, local_files_only=True).eval()
        eval_chars = eval_chars or EVAL_MAX_CHARS
        ev = eval_summary(evaluate_lm(model, tokenizer, max_chars=eval_chars))
        parts = []
        for part in EVAL_PARTS:
            result = (
                ev
                if part == EVAL_SOURCE
                else evaluate_lm(model, tokenizer, part, max_chars=eval_chars)
            )
            parts.append({"source": part, **eval_summary(result)})
        mc = model.config
        machine = machine_info()
        card = {
            "name": name,
            "summary": summary,
            "architecture": {
                "class": "LlamaForCausalLM",
                "layers": mc.num_hidden_layers,
                "hidden_size": mc.hidden_size,
                "heads": mc.num_attention_heads,
                "kv_heads": mc.num_key_value_heads,
                "intermediate_size": mc.intermediate_size,
                "context": mc.max_position_embeddings,
                "vocab_size": mc.vocab_size,
            },
            "parameters": sum(p.numel() for p in {id(p): p for p in model.parameters()}.values()),
            "weights_bytes": (tmp / "model.safetensors").stat().st_size,
            "sha256": sha256_file(tmp / "model.safetensors"),
            "tokenizer": {
                "type": "byte-level BPE",
                "vocab_size": len(tokenizer),
                "eos_token_id": tokenizer.eos_token_id,
                "trained_on": f"{meta['source']} (training split, {meta['train_bytes']:,} bytes)",
            },
            "data": {
                "source": meta["source"],
                "description": DESCRIPTIONS.get(meta["source"], meta["source"]),
                "train_tokens": meta["train_tokens"],
                "train_bytes": meta["train_bytes"],
            },
            "training": {
                "steps": steps,
                "batch_size": config["batch_size"],
                "seq_len": config["seq_len"],
                "tokens_seen": steps * tokens_per_step,
                "epochs": steps * tokens_per_step / meta["train_tokens"],
                "peak_lr": config["lr"] if config.get("lr") else _peak_lr(config["depth"]),
                "precision": config["precision"],
                "seed": config["seed"],
                "seconds": round(train_seconds, 1),
                "note": note,
                "machine": f"{machine.get('cpu_count', '?')} CPU cores ({platform.machine()}), "
                f"torch {machine.get('torch', '?')}",
                "final_train_loss": next(
                    r["train_loss"] for r in reversed(metrics) if "train_loss" in r
                ),
            },
            "eval": {
                "source": EVAL_SOURCE,
                "max_chars": eval_chars,
                **_rounded(ev),
            },
            "eval_parts": [_rounded(p) for p in parts],
            "reference": NANOGPT_SHAKESPEARE_CHAR,
            "comparisons": comparisons or [],
            "commands": commands,
            "samples": _samples(model, tokenizer, seed),
        }
        (tmp / "card.json").write_text(json.dumps(card, indent=2) + "\n")
        (tmp / "README.md").write_text(_card_markdown(card))
    return card


def _rounded(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in values.items()}


def _peak_lr(depth: int) -> float:
    from ch07_pretraining.model import lr_for_depth

    return lr_for_depth(depth)


__all__ = ["release_model", "sha256_file"]
