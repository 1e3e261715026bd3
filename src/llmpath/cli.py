"""The umbrella CLI: ``llmpath chapters`` and ``llmpath demo``."""

from __future__ import annotations

import subprocess

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


def main() -> None:
    """Console script entry point."""
    run_app(app)


if __name__ == "__main__":
    main()
