"""The umbrella CLI: ``llmpath chapters``, ``llmpath demo`` and ``llmpath path``."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import typer

from llmpath.chapters import demo_command, discover_chapters, find_chapter, run_demo
from llmpath_core.cli import Run, command, make_app, run_app
from llmpath_core.errors import UserError

app = make_app(
    "llmpath", "llmpath: a hands-on LLM curriculum, one installable package per chapter."
)


@command(app, device=False, out=False)
def chapters(run: Run) -> dict:
    """List the chapter packages: number, package, version, installed or not, summary."""
    found = discover_chapters()
    rows = [chapter.row() for chapter in found]
    if rows:
        run.table(rows, title="llmpath chapters")
    else:
        run.show("no chapter packages are installed (e.g. `uv pip install ch13-quantization`)")
    return {"chapters": rows, "installed": sum(c.installed for c in found)}


@command(app, device=False, out=False)
def demo(
    run: Run,
    chapter: str | None = typer.Argument(
        None, help="chapter to run: 3, 03, ch03 or the package name"
    ),
    all_: bool = typer.Option(
        False, "--all", help="run every installed chapter's demo in order (the default)"
    ),
    device: str = typer.Option("auto", "--device", help="device passed to each demo"),
) -> dict:
    """Run one chapter's demo, or every installed chapter's demo (--all, the default) and a summary
    table."""
    if chapter is not None and all_:
        raise UserError("give a chapter (e.g. `llmpath demo ch03`) or --all, not both")
    found = [c for c in discover_chapters() if c.installed]
    passthrough = ["--seed", str(run.seed)]
    if device != "auto":
        passthrough += ["--device", device]
    if chapter is not None:
        match = find_chapter(chapter, discover_chapters())
        if match is None:
            names = ", ".join(c.package for c in found) or "none installed"
            raise UserError(f"unknown chapter {chapter!r} (installed: {names})")
        if not match.installed:
            raise UserError(f"{match.package} is not installed: `uv pip install {match.package}`")
        if not run.json:  # show the chapter's own tables, as if it were run directly
            code = subprocess.run(
                demo_command(match, ["demo", *passthrough]), check=False
            ).returncode
            if code != 0:
                raise typer.Exit(code)
            run.shown = True
            return {}
        found = [match]
    if not found:
        raise UserError("no chapter packages are installed: `uv sync --all-packages` in the repo")
    outcomes = []
    for item in found:
        run.log(f"[bold]== {item.package} demo ==[/bold]")
        outcomes.append(run_demo(item, passthrough))
    rows = [outcome.row() for outcome in outcomes]
    run.table(rows, title="llmpath demo summary")
    failed = [o.chapter.package for o in outcomes if not o.ok]
    if failed:
        run.log(f"[red]failed:[/red] {', '.join(failed)}")
        run.fail(1)
    return {
        "demos": [{**o.row(), "ok": o.ok, "result": o.result} for o in outcomes],
        "failed": failed,
    }


@command(
    app,
    device=False,
    out_help="run folder: artefacts, records, logs, report (default: $LLMPATH_HOME/path/PRESET)",
)
def path(
    run: Run,
    preset: str = typer.Option(
        "tiny",
        "--preset",
        help="tiny (about 20 min on 2 cores), small (about an hour), gpu (one GPU); "
        "stub: a seconds-long self-check of the pipeline engine",
    ),
    from_stage: str | None = typer.Option(
        None, "--from", help="rerun this stage and every later one (finished ones are skipped)"
    ),
    device: str | None = typer.Option(
        None, "--device", help="device for training stages (default: the preset's)"
    ),
) -> dict:
    """The whole curriculum as one resumable pipeline of chapters, ending in a report card.

    Tokenizer (ch03) -> pretraining from zero (ch07) -> instruction set (ch08) -> LoRA SFT (ch09)
    -> DPO (ch10) -> evaluation of every stage's model (ch11) -> quantization (ch13) -> serving
    (ch17) -> RAG (ch18) -> guardrails (ch21) -> MLflow registry (ch22). A rerun skips finished
    stages whose inputs are unchanged; an interrupted pretraining resumes from its checkpoint.
    """
    import platform
    import time

    from llmpath.path import Pipeline
    from llmpath.report import write_report
    from llmpath.stages import build_stages
    from llmpath_core.paths import artefact_path

    stages = build_stages(preset, seed=run.seed, device=device)
    out = run.out_path(artefact_path("path", preset)).resolve()
    run.log(f"llmpath path --preset {preset}: {len(stages)} stages in {out}")
    records = Pipeline(out, stages, progress=run.log).run(from_stage=from_stage)
    meta = {
        "preset": preset,
        "out": str(out),
        "seed": run.seed,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    report = write_report(out, records, meta)
    run.table(
        [
            {k: r[k] for k in ("stage", "headline", "wall_s", "peak_rss_mb", "skipped")}
            for r in report["stages"]
        ],
        title=f"llmpath path report card ({out / 'report.md'})",
    )
    return report


@command(app, device=False, out=False)
def chat(
    run: Run,
    folder: Path = typer.Argument(..., help="a `llmpath path --out` folder, or a HF model folder"),
    prompt: list[str] = typer.Option(
        None, "--prompt", help="say this (repeat for several turns) instead of reading stdin"
    ),
    max_tokens: int = typer.Option(64, "--max-tokens", help="tokens per reply"),
) -> dict:
    """Talk to the path's final model, streamed token by token through the served OpenAI API."""
    import sys

    from llmpath.chat import find_model, model_id, served, stream_reply

    if max_tokens < 1:
        raise UserError("--max-tokens must be at least 1")
    model = find_model(folder)
    interactive = not prompt
    turns: list[dict] = []
    messages: list[dict[str, str]] = []
    run.log(f"serving {model} with ch17-serving ...")
    with served(model) as url:
        name = model_id(url)
        run.log(f"ready at {url} ({name}); " + ("Ctrl-D ends" if interactive else ""))
        inputs = prompt or iter(lambda: _read_line(), None)
        for text in inputs:
            if not text.strip():
                continue
            messages.append({"role": "user", "content": text})
            if not run.json:
                sys.stdout.write("assistant: ")
            reply = stream_reply(
                url,
                messages,
                model=name,
                max_tokens=max_tokens,
                on_token=(lambda t: None)
                if run.json
                else (lambda t: (sys.stdout.write(t), sys.stdout.flush())),
            )
            if not run.json:
                sys.stdout.write("\n")
            messages.append({"role": "assistant", "content": reply["reply"]})
            turns.append({"user": text, **reply})
    run.shown = True
    return {"model": str(model), "turns": turns}


def _read_line() -> str | None:
    try:
        return input("you: ")
    except EOFError:
        return None


def main() -> None:
    """Console script entry point."""
    run_app(app)


if __name__ == "__main__":
    main()
