"""``ch08-instruction-data``: render, install, build, score, conversations, experiment, demo."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from llmpath_core import UserError
from llmpath_core.cli import Run, command, make_app, run_app

app = make_app(
    "ch08-instruction-data",
    "Instruction data: chat templates byte-identical to Hugging Face, an instruction-dataset "
    "pipeline, synthetic conversations and quality scoring.",
)

EXAMPLE_CONVERSATION = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What is 12 plus 30?"},
    {"role": "assistant", "content": "12 + 30 = 42"},
    {"role": "user", "content": "And minus 2?"},
]


def _one_thread() -> None:
    # the models are tiny and the machine is shared: one intra-op thread is fastest
    import torch

    torch.set_num_threads(1)


def _load_conversation(path: Path | None) -> list[dict]:
    if path is None:
        return [dict(m) for m in EXAMPLE_CONVERSATION]
    if not path.is_file():
        raise UserError(f"no such file: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"{path} is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if isinstance(data, dict) and "messages" in data:
        data = data["messages"]
    if not isinstance(data, list) or not data:
        raise UserError(f"{path} must hold a non-empty list of {{'role', 'content'}} messages")
    return data


def _load_tokenizer(spec: str):
    from transformers import AutoTokenizer

    from llmpath_core import default_model_path

    folder = default_model_path() if spec == "default" else Path(spec)
    if not Path(folder).is_dir():
        raise UserError(f"no tokenizer folder at {folder}")
    return AutoTokenizer.from_pretrained(folder, local_files_only=True)


@command(app, device=False, out=False)
def render(
    run: Run,
    template: str = typer.Option(
        "chatml", "--template", help="chatml, llama2, llama3, alpaca, roleplay"
    ),
    conversation: Path = typer.Option(
        None, "--conversation", help='JSON list of {"role", "content"} (default: an example)'
    ),
    add_generation_prompt: bool = typer.Option(
        False, "--add-generation-prompt", help="end with the header of the assistant's turn"
    ),
    tokenizer: str = typer.Option(
        None, "--tokenizer", help="also tokenize: a tokenizer folder, or 'default'"
    ),
    add_special_tokens: bool = typer.Option(
        False, "--add-special-tokens", help="add the template's special tokens the tokenizer lacks"
    ),
) -> dict:
    """Render a conversation with a chat template (byte-identical to apply_chat_template)."""
    from ch08_instruction_data.templates import (
        ensure_special_tokens,
        get_template,
        render_text,
        tokenize_chat,
        validate_roles,
    )

    chosen = get_template(template)
    messages = _load_conversation(conversation)
    validate_roles(messages, chosen)
    text = render_text(messages, chosen, add_generation_prompt=add_generation_prompt)
    result: dict = {"text": text, "template": chosen.source, "name": chosen.name}
    if tokenizer is not None:
        tok = _load_tokenizer(tokenizer)
        result["added_tokens"] = ensure_special_tokens(tok, chosen, add=add_special_tokens)
        chat = tokenize_chat(messages, chosen, tok, add_generation_prompt=add_generation_prompt)
        result["tokens"] = len(chat["input_ids"])
        result["assistant_tokens"] = sum(chat["assistant_masks"])
    run.show(text)
    return result


@command(app, device=False, out_help="tokenizer folder to write")
def install(
    run: Run,
    template: str = typer.Option(
        "chatml", "--template", help="chatml, llama2, llama3, alpaca, roleplay"
    ),
    tokenizer: str = typer.Option("default", "--tokenizer", help="tokenizer folder or 'default'"),
    add_special_tokens: bool = typer.Option(
        False, "--add-special-tokens", help="add the template's special tokens the tokenizer lacks"
    ),
) -> dict:
    """Write a tokenizer folder whose chat_template is TEMPLATE (for apply_chat_template, trl)."""
    from ch08_instruction_data.templates import get_template, install_template
    from llmpath_core import artefact_path
    from llmpath_core.io import atomic_dir

    chosen = get_template(template)
    tok = _load_tokenizer(tokenizer)
    added = install_template(tok, chosen, add_special_tokens=add_special_tokens)
    out = run.out_path(artefact_path("ch08", f"tokenizer-{chosen.name}"))
    with atomic_dir(out) as folder:
        tok.save_pretrained(folder)
    result = {"out": str(out), "template": chosen.name, "added_tokens": added, "vocab": len(tok)}
    run.table([result])
    return result


@command(app, device=False, out_help="JSONL file to write (default: under $LLMPATH_HOME/ch08)")
def build(
    run: Run,
    records: int = typer.Option(600, "--records", help="records from the task templates"),
    lm: str = typer.Option(
        "default",
        "--lm",
        help="model for self-instruct/evol-instruct: 'default', a folder, "
        "a model name with --base-url, or 'none'",
    ),
    base_url: str = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint"),
    lm_records: int = typer.Option(4, "--lm-records", help="records per LM method"),
    noise: bool = typer.Option(True, "--noise/--no-noise", help="plant bad records"),
) -> dict:
    """Build an instruction set: seeds -> generation -> filters -> scores -> JSONL (the funnel)."""
    from ch08_instruction_data.generate import HFCompleter, OpenAICompleter
    from ch08_instruction_data.pipeline import BuildConfig, build_dataset
    from llmpath_core import artefact_path

    if records < 1 or lm_records < 0:
        raise UserError("--records must be at least 1 and --lm-records at least 0")
    _one_thread()
    factory = None
    if lm != "none" and lm_records > 0:
        if base_url:
            factory = lambda: OpenAICompleter(base_url, lm)  # noqa: E731
        else:
            factory = lambda: HFCompleter(path=None if lm == "default" else lm)  # noqa: E731
    config = BuildConfig(
        template_records=records,
        self_instruct=lm_records,
        evol_instruct=lm_records,
        seed=run.seed,
        noise={} if not noise else BuildConfig().noise,
    )
    out = run.out_path(artefact_path("ch08", "instructions.jsonl"))
    built = build_dataset(out, config, completer_factory=factory, log=run.log)
    funnel = {**built["funnel"], "out": str(out)}
    run.table([{"stage": k, "records": v} for k, v in funnel.items()], title="funnel")
    return funnel


def _scores(records, judge_url: str | None, judge_model: str, with_model: bool):
    from ch08_instruction_data.quality import LLMJudge, RuleJudge, dataset_report, score_record

    judge = RuleJudge()
    if judge_url:
        from ch08_instruction_data.generate import OpenAICompleter

        judge = LLMJudge(OpenAICompleter(judge_url, judge_model))
    scores = [score_record(r, judge) for r in records]
    model = tok = None
    if with_model:
        from llmpath_core import load_default_model

        model, tok = load_default_model()
    return scores, dataset_report(records, scores, model=model, tokenizer=tok), judge.name


@command(app, device=False, out_help="folder for the report (Markdown + PNG)")
def score(
    run: Run,
    input: Path = typer.Option(None, "--input", help="JSONL with instruction and response"),
    judge_url: str = typer.Option(None, "--judge-url", help="OpenAI-compatible judge endpoint"),
    judge_model: str = typer.Option("judge", "--judge-model", help="model name at --judge-url"),
    model_features: bool = typer.Option(
        True, "--model-features/--no-model-features", help="difficulty and embedding spread"
    ),
) -> dict:
    """Score an instruction set: per-record judge scores and the dataset's quality report."""
    from ch08_instruction_data.pipeline import build_dataset, read_jsonl, select_by_score
    from ch08_instruction_data.quality import plot_report, report_markdown
    from llmpath_core.io import atomic_dir

    _one_thread()
    if input is None:
        records = build_dataset(None)["records"]
    else:
        records = read_jsonl(input, ("instruction", "response"))
    if not records:
        raise UserError(f"{input} holds no records")
    scores, report, judge = _scores(records, judge_url, judge_model, model_features)
    for record, s in zip(records, scores, strict=True):
        record["scores"] = s
    kept = select_by_score(records)
    result = {
        "records": len(records),
        "judge": judge,
        "selected": len(kept),
        "selected_min_score": 4.5,
        "scores": report,
    }
    if run.out is not None:
        with atomic_dir(run.out) as folder:
            (Path(folder) / "report.md").write_text(report_markdown(report))
            plot_report(report, scores, Path(folder) / "composition.png")
        result["report"] = str(run.out)
    run.table(
        [{"measure": k, "value": v} for k, v in report.items() if not isinstance(v, dict)],
        title=f"quality of {len(records)} records (judge: {judge})",
    )
    return result


@command(app, device=False, out_help="JSONL file to write")
def conversations(
    run: Run,
    domain: str = typer.Option("support", "--domain", help="support, tutoring or roleplay"),
    n: int = typer.Option(6, "--n", help="conversations to make"),
    template: str = typer.Option(None, "--template", help="template to check and size them with"),
    max_tokens: int = typer.Option(
        96, "--max-tokens", help="context budget: older whole turns are dropped"
    ),
) -> dict:
    """Generate multi-turn conversations (personas, topic flows), checked and fit to a budget."""
    from ch08_instruction_data.conversations import (
        DEFAULT_TEMPLATE,
        fit_conversation,
        generate_conversations,
        validate_conversation,
    )
    from ch08_instruction_data.pipeline import write_jsonl
    from ch08_instruction_data.templates import ensure_special_tokens, get_template, tokenize_chat

    if n < 1 or max_tokens < 8:
        raise UserError("--n must be at least 1 and --max-tokens at least 8")
    made = generate_conversations(domain, n, run.seed)
    name = template or DEFAULT_TEMPLATE[domain]
    chosen = get_template(name)
    tok = _load_tokenizer("default")
    ensure_special_tokens(tok, chosen, add=True)
    rows = []
    for conv in made:
        validate_conversation(conv["messages"], name)
        before = len(tokenize_chat(conv["messages"], chosen, tok)["input_ids"])
        conv["messages"] = fit_conversation(conv["messages"], name, tok, max_tokens)
        after = tokenize_chat(conv["messages"], chosen, tok)
        rows.append(
            {
                "id": conv["id"],
                "persona": conv["persona"],
                "tokens_before": before,
                "tokens_after": len(after["input_ids"]),
                "turns": len(conv["messages"]),
                "assistant_tokens": sum(after["assistant_masks"]),
            }
        )
    if run.out is not None:
        write_jsonl(run.out, made)
    run.table(rows, title=f"{domain} conversations, template {name}, budget {max_tokens} tokens")
    return {
        "domain": domain,
        "template": name,
        "conversations": rows,
        "example": made[0]["messages"],
        "out": None if run.out is None else str(run.out),
    }


@command(app, device=False, out=False)
def experiment(
    run: Run,
    steps: int = typer.Option(60, "--steps", help="optimizer steps per arm"),
    seeds: int = typer.Option(1, "--seeds", help="repeats (seed, seed+1, ...)"),
    records: int = typer.Option(300, "--records", help="template records to build"),
    model: str = typer.Option("default", "--model", help="default or draft (shipped models)"),
) -> dict:
    """SFT on all kept records vs the top-scored subset at equal steps; held-out loss."""
    from ch08_instruction_data.pipeline import BuildConfig, build_dataset, select_by_score
    from ch08_instruction_data.selection import compare_selection, heldout_task
    from llmpath_core import load_default_model, load_draft_model

    if steps < 1 or seeds < 1 or records < 20 or model not in ("default", "draft"):
        raise UserError("need --steps >= 1, --seeds >= 1, --records >= 20, --model default|draft")
    _one_thread()
    built = build_dataset(
        None, BuildConfig(template_records=records, self_instruct=0, evol_instruct=0, seed=run.seed)
    )
    data = built["records"]
    result = compare_selection(
        {"all": data, "scored": select_by_score(data)},
        heldout_task(70),
        seeds=[run.seed + i for i in range(seeds)],
        steps=steps,
        load_model=load_default_model if model == "default" else load_draft_model,
        log=run.log,
    )
    run.table(
        [
            {"arm": arm, "records": result["records"][arm], "held-out loss": result[f"{arm}_loss"]}
            for arm in ("all", "scored")
        ],
        title=f"SFT at {steps} equal steps, {model} model",
    )
    return result


@command(app, device=False, out=False)
def demo(run: Run) -> dict:
    """Every template on one conversation, a small instruction set end to end, its report."""
    from ch08_instruction_data.generate import HFCompleter
    from ch08_instruction_data.pipeline import BuildConfig, build_dataset, select_by_score
    from ch08_instruction_data.quality import dataset_report
    from ch08_instruction_data.templates import TEMPLATES, render_text

    _one_thread()
    rendered = {}
    for name, template in TEMPLATES.items():
        messages = EXAMPLE_CONVERSATION[:3]
        if name == "roleplay":
            messages = [dict(m) for m in messages]
            messages[2]["action"] = "counts on its fingers"
        rendered[name] = render_text(messages, template)
        run.show(f"[bold]{name}[/bold]")
        run.show(rendered[name])
    built = build_dataset(
        None,
        BuildConfig(
            template_records=300, evolved=15, self_instruct=2, evol_instruct=2, seed=run.seed
        ),
        completer_factory=HFCompleter,
        log=run.log,
    )
    funnel = built["funnel"]
    records = built["records"]
    report = dataset_report(records, [r["scores"] for r in records])
    selected = select_by_score(records)
    run.table([{"stage": k, "records": v} for k, v in funnel.items()], title="funnel")
    run.table(
        [{"measure": k, "value": v} for k, v in report.items() if not isinstance(v, dict)],
        title="quality report",
    )
    removed = funnel["records_in"] - funnel["records_out"]
    return {
        "showed": "one conversation in 5 chat templates, then a 300-record instruction set built "
        "end to end (templates, rule evolution, self-instruct and evol-instruct with the default "
        "model, planted bad records) through 6 filters and a judge",
        "headline": f"filters removed {removed} of {funnel['records_in']} records; the judge "
        f"rated {len(selected)} of the {funnel['records_out']} kept records correct "
        f"({report['verified_correct']:.0%} of verifiable ones)",
        "rendered": rendered,
        "funnel": funnel,
        "quality": report,
        "selected": len(selected),
    }


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()
