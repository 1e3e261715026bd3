"""The curriculum as stages: each runs a chapter's console script on the previous artefacts.

No chapter is imported: the stages talk to chapters only through their CLIs (``--json`` results)
and standard artefacts (tokenizer.json, packed token folders, HF model folders, JSONL, index
folders). Sizes come from a preset (:data:`PRESETS`).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from llmpath.path import Stage, StageContext, free_port
from llmpath_core.errors import UserError

EOS = "<|endoftext|>"  # ch07 packs documents with it; ch03 adds it as a special token


@dataclass(frozen=True)
class Preset:
    """Sizes for every stage; ``tiny`` is meant for 2 CPU cores in about 20 minutes."""

    vocab_size: int
    corpus_chars: int
    pretrain_preset: str
    pretrain_steps: int
    checkpoint_every: int
    eval_every: int
    records: int
    sft_steps: int
    dpo_steps: int
    eval_limit: int
    bench_streams: str
    bench_tokens: int
    device: str


PRESETS: dict[str, Preset] = {
    "tiny": Preset(512, 300_000, "tiny", 120, 20, 40, 300, 40, 8, 40, "1,4", 16, "cpu"),
    "small": Preset(2048, 2_000_000, "small", 600, 100, 100, 600, 120, 20, 200, "1,8", 24, "cpu"),
    "gpu": Preset(
        4096, 12_000_000, "default", 2000, 200, 200, 2000, 300, 60, 1000, "1,8,32", 64, "auto"
    ),
}


def _copy_model(src: Path, dst: Path) -> list[str]:
    """Copy a model folder's files (not checkpoints) into ``dst``."""
    copied = []
    for item in sorted(src.iterdir()):
        if item.is_file():
            shutil.copy2(item, dst / item.name)
            copied.append(item.name)
    return copied


def _save(ctx: StageContext, name: str, result: dict[str, Any]) -> None:
    (ctx.out / name).write_text(json.dumps(result, indent=2, default=str) + "\n")


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


# ---- stages -------------------------------------------------------------------------------------


def tokenizer_stage(ctx: StageContext) -> dict[str, Any]:
    """ch03: train a byte-level BPE tokenizer (with ch07's end-of-text token)."""
    p = ctx.params
    r = ctx.run_json(
        [
            "ch03-tokenization",
            "train",
            "--algo",
            "byte-bpe",
            "--vocab-size",
            p["vocab_size"],
            "--special",
            EOS,
            "--seed",
            p["seed"],
            "--out",
            ctx.out / "tokenizer",
            "--json",
        ]
    )
    return {
        "vocab_size": r["vocab_size"],
        "train_s": r["train_s"],
        "headline": f"byte-level BPE, {r['vocab_size']} tokens",
    }


def data_stage(ctx: StageContext) -> dict[str, Any]:
    """ch07 prepare: pack the bundled stories with ch03's tokenizer (its compression, measured)."""
    p = ctx.params
    r = ctx.run_json(
        [
            "ch07-pretraining",
            "prepare",
            "--corpus",
            "stories",
            "--max-chars",
            p["corpus_chars"],
            "--tokenizer",
            ctx.inputs["tokenizer"] / "tokenizer",
            "--out",
            ctx.out / "data",
            "--json",
        ]
    )
    return {
        "train_tokens": r["train_tokens"],
        "val_tokens": r["val_tokens"],
        "bytes_per_token": r["bytes_per_token"],
        "headline": f"{r['bytes_per_token']:.2f} bytes/token on stories, "
        f"{r['train_tokens']:,} training tokens",
    }


def pretrain_stage(ctx: StageContext) -> dict[str, Any]:
    """ch07 train from zero, checkpointing; after a crash ``ch07-pretraining resume`` continues."""
    p = ctx.params
    run_dir = ctx.work / "run"
    key_file = ctx.work / "key.json"
    key = json.dumps({"params": p, "inputs": ctx.stage_inputs_hash()}, sort_keys=True)
    if run_dir.exists() and (not key_file.is_file() or key_file.read_text() != key):
        shutil.rmtree(run_dir)  # a run for other data or sizes: start over
    checkpoints = sorted((run_dir / "checkpoints").glob("step-*")) if run_dir.exists() else []
    resumed_from = None
    if checkpoints:
        resumed_from = checkpoints[-1].name
        r = ctx.run_json(
            [
                "ch07-pretraining",
                "resume",
                run_dir,
                "--device",
                p["device"],
                "--json",
                "--seed",
                p["seed"],
            ]
        )
    else:
        if run_dir.exists():
            shutil.rmtree(run_dir)
        key_file.write_text(key)
        r = ctx.run_json(
            [
                "ch07-pretraining",
                "train",
                "--preset",
                p["preset"],
                "--data",
                ctx.inputs["data"] / "data",
                "--max-steps",
                p["steps"],
                "--checkpoint-every",
                p["checkpoint_every"],
                "--eval-every",
                p["eval_every"],
                "--device",
                p["device"],
                "--seed",
                p["seed"],
                "--out",
                run_dir,
                "--json",
            ]
        )
    model = ctx.out / "model"
    model.mkdir()
    _copy_model(run_dir, model)
    return {
        "steps": r["step"],
        "parameters": r["parameters"],
        "initial_val_loss": r["initial_val_loss"],
        "val_loss": r["val_loss"],
        "val_bpb": r["val_bpb"],
        "tokens_per_s": r["tokens_per_s"],
        "resumed_from": resumed_from,
        "headline": f"{r['parameters']:,} params, val {r['val_bpb']:.3f} bits/byte "
        f"(loss {r['initial_val_loss']:.2f} -> {r['val_loss']:.2f})"
        + (f", resumed from {resumed_from}" if resumed_from else ""),
    }


def instructions_stage(ctx: StageContext) -> dict[str, Any]:
    """ch08 build: a deterministic instruction set, split into train and held-out chat JSONL."""
    p = ctx.params
    raw = ctx.work / "instructions.jsonl"
    r = ctx.run_json(
        [
            "ch08-instruction-data",
            "build",
            "--records",
            p["records"],
            "--lm",
            "none",
            "--seed",
            p["seed"],
            "--out",
            raw,
            "--json",
        ]
    )
    rows = [json.loads(line) for line in raw.read_text().splitlines() if line.strip()]
    chats = [row for row in rows if isinstance(row.get("messages"), list)]
    if len(chats) < 10:
        raise UserError(f"ch08 build gave {len(chats)} chat records; need at least 10")
    cut = max(1, len(chats) // 5)
    held, train = chats[:cut], chats[cut:]
    for name, part in (("train.jsonl", train), ("heldout.jsonl", held)):
        (ctx.out / name).write_text(
            "".join(json.dumps({"messages": c["messages"]}) + "\n" for c in part)
        )
    kept = r.get("records_out", len(rows))
    return {
        "records": len(chats),
        "train": len(train),
        "heldout": len(held),
        "funnel": {k: v for k, v in r.items() if isinstance(v, int | float)},
        "headline": f"{kept} records kept: {len(train)} train, {len(held)} held out",
    }


def sft_stage(ctx: StageContext) -> dict[str, Any]:
    """ch09: LoRA SFT of the pretrained model on ch08's set, merged; exact match before/after."""
    p = ctx.params
    base = ctx.inputs["pretrain"] / "model"
    data = ctx.inputs["instructions"]
    before = ctx.run_json(
        ["ch09-sft", "eval", "--model", base, "--data", data / "heldout.jsonl", "--json"]
    )
    adapter = ctx.work / "adapter"
    if adapter.exists():
        shutil.rmtree(adapter)
    train = ctx.run_json(
        [
            "ch09-sft",
            "train",
            "--method",
            "lora",
            "--model",
            base,
            "--data",
            data / "train.jsonl",
            "--max-steps",
            p["steps"],
            "--seed",
            p["seed"],
            "--out",
            adapter,
            "--json",
        ]
    )
    ctx.run_json(
        [
            "ch09-sft",
            "merge-adapter",
            "--adapter",
            adapter,
            "--model",
            base,
            "--out",
            ctx.out / "model",
            "--json",
        ]
    )
    after = ctx.run_json(
        [
            "ch09-sft",
            "eval",
            "--model",
            ctx.out / "model",
            "--data",
            data / "heldout.jsonl",
            "--json",
        ]
    )
    return {
        "accuracy_before": before["accuracy"],
        "accuracy_after": after["accuracy"],
        "accuracy_stderr_after": after.get("accuracy_stderr"),
        "n": after.get("n"),
        "first_loss": train["first_loss"],
        "train_loss": train["train_loss"],
        "trainable_fraction": train["trainable_fraction"],
        "headline": f"held-out exact match {_pct(before['accuracy'])} -> "
        f"{_pct(after['accuracy'])}; loss {train['first_loss']:.2f} -> {train['train_loss']:.2f}",
    }


def preference_pairs(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Preference pairs from a chat set: chosen = the record's own answer, rejected = the next
    record's answer (a fluent but wrong reply), with ch09's plain-text prompt format."""
    pairs = []
    for i, row in enumerate(rows):
        user = next(m["content"] for m in row["messages"] if m["role"] == "user")
        chosen = [m for m in row["messages"] if m["role"] == "assistant"][-1]["content"]
        other = rows[(i + 1) % len(rows)]["messages"]
        rejected = [m for m in other if m["role"] == "assistant"][-1]["content"]
        if chosen.strip() and rejected.strip() and chosen != rejected:
            pairs.append(
                {
                    "prompt": f"User: {user}\nAssistant:",
                    "chosen": f" {chosen}",
                    "rejected": f" {rejected}",
                }
            )
    return pairs


def dpo_stage(ctx: StageContext) -> dict[str, Any]:
    """ch10 DPO from the SFT model on pairs built from ch08's set; win rate and KL vs SFT."""
    p = ctx.params
    rows = [
        json.loads(line)
        for line in (ctx.inputs["instructions"] / "train.jsonl").read_text().splitlines()
        if line.strip()
    ]
    pairs = preference_pairs(rows)
    (ctx.out / "preferences.jsonl").write_text("".join(json.dumps(x) + "\n" for x in pairs))
    run = ctx.work / "dpo"
    r = ctx.run_json(
        [
            "ch10-alignment",
            "dpo",
            "--model",
            ctx.inputs["sft"] / "model",
            "--data",
            ctx.out / "preferences.jsonl",
            "--max-steps",
            p["steps"],
            "--seed",
            p["seed"],
            "--device",
            p["device"],
            "--out",
            run,
            "--json",
        ]
    )
    if not (run / "policy" / "config.json").is_file():
        raise UserError(f"ch10-alignment dpo wrote no policy model folder in {run}")
    shutil.copytree(run / "policy", ctx.out / "model")
    keys = ("win_rate", "win_rate_stderr", "kl", "pairs", "reward_accuracy", "reward_margin")
    return {
        **{k: r.get(k) for k in keys},
        "headline": f"win rate {r.get('win_rate', float('nan')):.3f} over SFT "
        f"at KL {r.get('kl', float('nan')):.2f} nats (ch10's judge); reward accuracy "
        f"{r.get('reward_accuracy', float('nan')):.2f} on {r.get('pairs')} pairs",
    }


def eval_stage(ctx: StageContext) -> dict[str, Any]:
    """ch11: every stage's model on the same held-out task, with standard errors (95% CI)."""
    p = ctx.params
    rows = []
    for name in ("pretrain", "sft", "dpo"):
        r = ctx.run_json(
            [
                "ch11-evaluation",
                "run",
                "--model",
                ctx.inputs[name] / "model",
                "--task",
                p["task"],
                "--limit",
                p["limit"],
                "--no-items",
                "--device",
                p["device"],
                "--seed",
                p["seed"],
                "--json",
            ]
        )
        metric = next(k for k in ("acc_norm", "acc", "exact_match") if k in r)
        se = r.get(metric + "_stderr") or 0.0
        rows.append(
            {
                "model": name,
                "task": r.get("task", p["task"]),
                "metric": metric,
                "score": r[metric],
                "stderr": se,
                "ci95": [r[metric] - 1.96 * se, r[metric] + 1.96 * se],
                "n": r.get("n"),
            }
        )
    _save(ctx, "scores.json", {"rows": rows})
    text = ", ".join(f"{r['model']} {r['score']:.3f} ± {1.96 * r['stderr']:.3f}" for r in rows)
    return {"rows": rows, "headline": f"{rows[0]['task']} {rows[0]['metric']}: {text}"}


def quantize_stage(ctx: StageContext) -> dict[str, Any]:
    """ch13: 4-bit RTN of the final model; perplexity and size before and after."""
    p = ctx.params
    src = ctx.inputs["dpo"] / "model"
    ctx.run_json(
        [
            "ch13-quantization",
            "quantize",
            "--method",
            "rtn",
            "--bits",
            p["bits"],
            "--model",
            src,
            "--seed",
            p["seed"],
            "--out",
            ctx.out / "model",
            "--json",
        ]
    )
    rows = {}
    for name, model in (("float", src), ("quantized", ctx.out / "model")):
        r = ctx.run_json(
            [
                "ch13-quantization",
                "eval",
                "--model",
                model,
                "--max-chars",
                p["eval_chars"],
                "--no-speed",
                "--seed",
                p["seed"],
                "--json",
            ]
        )
        rows[name] = {"perplexity": r["perplexity"], "size_bytes": r["size_bytes"]}
    f, q = rows["float"], rows["quantized"]
    return {
        **rows,
        "bits": p["bits"],
        "headline": f"{p['bits']}-bit RTN: perplexity {f['perplexity']:.2f} -> "
        f"{q['perplexity']:.2f}, {f['size_bytes'] / 1e6:.2f} -> {q['size_bytes'] / 1e6:.2f} MB",
    }


def _serve_final_model(ctx: StageContext) -> str:
    """Start ``ch17-serving serve`` on the DPO model on a free port; return its base URL."""
    port = free_port()
    command = ["ch17-serving", "serve", "--model", ctx.inputs["dpo"] / "model", "--port", port]
    return ctx.start_server([*command, "--seed", ctx.params["seed"]], port)


def serve_stage(ctx: StageContext) -> dict[str, Any]:
    """ch17: serve the final model (OpenAI API, streaming) and measure TTFT and tokens/s."""
    p = ctx.params
    url = _serve_final_model(ctx)
    r = ctx.run_json(
        [
            "ch17-serving",
            "bench",
            "--base-url",
            f"{url}/v1",
            "--streams",
            p["streams"],
            "--max-tokens",
            p["max_tokens"],
            "--seed",
            p["seed"],
            "--json",
        ]
    )
    _save(ctx, "bench.json", r)
    rows = r["http"]
    one = rows[0]
    best = max(rows, key=lambda row: row["tokens_per_s"])
    return {
        "ttft_median_ms": 1000 * one["ttft_median_s"],
        "tokens_per_s_1_stream": one["tokens_per_s"],
        "tokens_per_s_best": best["tokens_per_s"],
        "best_streams": best["streams"],
        "errors": sum(row["errors"] for row in rows),
        "streams": rows,
        "headline": f"TTFT {1000 * one['ttft_median_s']:.0f} ms (median, 1 stream); "
        f"{one['tokens_per_s']:.1f} tokens/s at 1 stream, {best['tokens_per_s']:.1f} "
        f"at {best['streams']}",
    }


def rag_stage(ctx: StageContext) -> dict[str, Any]:
    """ch18: closed book vs RAG on a document set's questions (CI on the EM difference).

    ch18 builds and caches the set's index itself (``--index`` is for its pydoc set only).
    """
    p = ctx.params
    r = ctx.run_json(
        ["ch18-rag", "eval", "--set", p["set"], "--modes", p["mode"], "--seed", p["seed"], "--json"]
    )
    d = r["rag_minus_closed_EM"]
    answers = r.get("answers", [])
    _save(ctx, "eval.json", r)
    return {
        "set": p["set"],
        "questions": r.get("questions"),
        "answers": answers,
        "rag_minus_closed_em": d,
        "headline": f"RAG - closed book exact match {d['difference']:+.3f} "
        f"(95% CI {d['95% CI']}, n={d['n']}, {p['set']} set)",
    }


def guard_stage(ctx: StageContext) -> dict[str, Any]:
    """ch21: the OWASP scan against the served final model, directly and behind the proxy."""
    p = ctx.params
    url = _serve_final_model(ctx)
    proxy_port = free_port()
    proxy = ctx.start_server(
        [
            "ch21-security",
            "proxy",
            "--upstream",
            f"{url}/v1",
            "--port",
            proxy_port,
            "--log",
            ctx.out / "safety.jsonl",
            "--seed",
            p["seed"],
        ],
        proxy_port,
    )
    from llmpath.chat import model_id

    name = model_id(f"{url}/v1")
    direct = ctx.run_json(
        [
            "ch21-security",
            "scan",
            "--target",
            f"{url}/v1",
            "--model",
            name,
            "--seed",
            p["seed"],
            "--out",
            ctx.out / "unguarded",
            "--json",
        ]
    )
    guarded = ctx.run_json(
        [
            "ch21-security",
            "scan",
            "--target",
            f"{proxy}/v1",
            "--model",
            name,
            "--seed",
            p["seed"],
            "--out",
            ctx.out / "guarded",
            "--json",
        ]
    )
    refused = [
        f["probe"]
        for report in (direct, guarded)
        for f in report.get("findings", [])
        if f.get("status") == 404
    ]
    if refused:  # a wrong model name or path: the scan would measure nothing
        raise UserError(f"the scan got HTTP 404 on {len(refused)} probes (e.g. {refused[0]})")
    a, b = direct["attack_success_rate"], guarded["attack_success_rate"]
    return {
        "attack_success_rate_unguarded": a,
        "attack_success_rate_guarded": b,
        "headline": f"attack success {_pct(a)} -> {_pct(b)} behind the guardrail proxy",
    }


def registry_stage(ctx: StageContext) -> dict[str, Any]:
    """ch22: register the final model in MLflow and promote it to champion through the gate."""
    p = ctx.params
    uri = f"sqlite:///{ctx.out / 'mlflow.db'}"
    rows = []
    for name in ("pretrain", "sft", "dpo"):
        r = ctx.run_json(
            [
                "ch22-llmops",
                "gate",
                "--candidate",
                ctx.inputs[name] / "model",
                "--tracking-uri",
                uri,
                "--model-name",
                p["model_name"],
                "--margin",
                p["margin"],
                "--seed",
                p["seed"],
                "--json",
            ],
            check=False,
        )
        rows.append({"model": name, **{k: v for k, v in r.items() if not isinstance(v, list)}})
    champion = next((r for r in reversed(rows) if r.get("gate") == "promoted"), None)
    return {
        "tracking_uri": uri,
        "gates": rows,
        "champion": champion["model"] if champion else None,
        "headline": (
            f"{p['model_name']}@champion = the {champion['model']} model"
            if champion
            else "no model passed the gate"
        ),
    }


def build_stages(preset: str, seed: int = 0, device: str | None = None) -> list[Stage]:
    """The pipeline for a preset: names, inputs and parameters (which enter each stage's key)."""
    if preset == "stub":
        return stub_stages()
    if preset not in PRESETS:
        raise UserError(f"unknown preset {preset!r}: choose tiny, small or gpu")
    s = PRESETS[preset]
    dev = device or s.device
    common = {"seed": seed}
    return [
        Stage(
            "tokenizer",
            tokenizer_stage,
            params={**common, "vocab_size": s.vocab_size},
            what="ch03 byte-level BPE",
        ),
        Stage(
            "data",
            data_stage,
            inputs=["tokenizer"],
            params={**common, "corpus_chars": s.corpus_chars},
            what="ch07 prepare with ch03's tokenizer",
        ),
        Stage(
            "pretrain",
            pretrain_stage,
            inputs=["data"],
            params={
                **common,
                "preset": s.pretrain_preset,
                "steps": s.pretrain_steps,
                "checkpoint_every": s.checkpoint_every,
                "eval_every": s.eval_every,
                "device": dev,
            },
            what="ch07 pretraining from zero",
        ),
        Stage(
            "instructions",
            instructions_stage,
            params={**common, "records": s.records},
            what="ch08 instruction set",
        ),
        Stage(
            "sft",
            sft_stage,
            inputs=["pretrain", "instructions"],
            params={**common, "steps": s.sft_steps},
            what="ch09 LoRA SFT + merge",
        ),
        Stage(
            "dpo",
            dpo_stage,
            inputs=["sft", "instructions"],
            params={**common, "steps": s.dpo_steps, "device": dev},
            what="ch10 DPO",
        ),
        Stage(
            "eval",
            eval_stage,
            inputs=["pretrain", "sft", "dpo"],
            params={**common, "task": "mmlu", "limit": s.eval_limit, "device": dev},
            what="ch11 evaluation of every stage's model",
        ),
        Stage(
            "quantize",
            quantize_stage,
            inputs=["dpo"],
            params={**common, "bits": 4, "eval_chars": 30_000},
            what="ch13 4-bit RTN",
        ),
        Stage(
            "serve",
            serve_stage,
            inputs=["dpo"],
            params={**common, "streams": s.bench_streams, "max_tokens": s.bench_tokens},
            what="ch17 OpenAI-compatible server, TTFT and tokens/s",
        ),
        Stage(
            "rag",
            rag_stage,
            params={**common, "set": "encyclopedia", "mode": "hybrid"},
            what="ch18 closed book vs RAG",
        ),
        Stage(
            "guardrails",
            guard_stage,
            inputs=["dpo"],
            params={**common, "probe_model": "the served model's id"},
            what="ch21 OWASP scan with and without the proxy",
        ),
        Stage(
            "registry",
            registry_stage,
            inputs=["pretrain", "sft", "dpo"],
            params={**common, "model_name": "llmpath-path", "margin": 0.005},
            what="ch22 MLflow registry and champion gate",
        ),
    ]


# ---- the engine's self-check: three stub stages (seconds) ---------------------------------------

_STUB_WRITE = (
    "import json, pathlib, sys; out = pathlib.Path(sys.argv[1]); src = sys.argv[2]; "
    "text = pathlib.Path(src).read_text() if src != '-' else 'seed'; "
    "(out / 'a.txt').write_text(text + '+' + sys.argv[3]); "
    "print(json.dumps({'chars': len(text) + 1 + len(sys.argv[3])}))"
)
_STUB_FAIL = "import sys; print('the stub stage fails on purpose', file=sys.stderr); sys.exit(3)"


def _stub(name: str, source: str | None):
    def run(ctx: StageContext) -> dict[str, Any]:
        if os.environ.get("LLMPATH_PATH_STUB_FAIL") == name:
            ctx.run_json([sys.executable, "-c", _STUB_FAIL])
        src = str(ctx.inputs[source] / "a.txt") if source else "-"
        r = ctx.run_json([sys.executable, "-c", _STUB_WRITE, ctx.out, src, name])
        return {**r, "headline": f"{r['chars']} characters"}

    return run


def stub_stages() -> list[Stage]:
    """Three chained stages that only write text: `llmpath path --preset stub` checks the engine
    (skip, --from, failure) in seconds; ``LLMPATH_PATH_STUB_FAIL=NAME`` makes stage NAME fail."""
    return [
        Stage("one", _stub("one", None), what="stub"),
        Stage("two", _stub("two", "one"), inputs=["one"], what="stub"),
        Stage("three", _stub("three", "two"), inputs=["two"], what="stub"),
    ]


def preset_table() -> list[dict[str, Any]]:
    """The presets as rows (for --help and the README)."""
    return [{"preset": name, **asdict(p)} for name, p in PRESETS.items()]
