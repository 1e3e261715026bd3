"""``ch19-agents``: check-calls, sandbox, smarthome, plan, workflow, langgraph, team, repair,
bench, finetune, demo."""

from __future__ import annotations

from pathlib import Path

import typer

from llmpath_core import UserError
from llmpath_core.cli import Run, command, make_app, run_app

app = make_app(
    "ch19-agents",
    "Agents: function calling with BFCL-style checking, ReAct, planning, durable workflows with "
    "approvals, multi-agent teams and a sandbox.",
)
workflow_app = make_app("workflow", "Durable workflows on SQLite: run, status, approve, resume.")
app.add_typer(workflow_app, name="workflow")

DATA = Path(__file__).parent / "data"
DEFAULT_REQUESTS = [
    "turn on the kitchen light at 150 percent and set the bedroom to 22 degrees",
    "turn on the light",
    "i like it at 23 degrees in the office",
    "make it cosy",
    "what is the weather in oslo in 3 days",
    "unlock the front door",
]


def _db(db: Path | None) -> Path:
    from llmpath_core import artefact_path

    return db if db is not None else artefact_path("ch19", "workflows.db")


# --------------------------------------------------------------------------- function calling


@command(app, "check-calls", device=False, out=False)
def check_calls(
    run: Run,
    functions: Path = typer.Option(
        DATA / "functions.json", help="JSON array of {name, description, parameters}"
    ),
    cases: Path = typer.Option(
        DATA / "cases.jsonl", help="JSONL: {id, predicted: [calls], expected: [calls]}"
    ),
    matching: str = typer.Option("bfcl", help="parallel matching: bfcl (greedy) or optimal"),
) -> dict:
    """Score predicted function calls against references with BFCL's AST rules."""
    from ch19_agents.calls import check_files

    if matching not in ("bfcl", "optimal"):
        raise UserError(f"--matching must be bfcl or optimal, not {matching!r}")
    result = check_files(functions, cases, matching)
    run.table(
        [
            {"id": r["id"], "match": r["match"], "reason": r["reason"][:70]}
            for r in result["results"]
        ],
        title=f"accuracy {result['accuracy']:.3f} on {result['n']} cases",
    )
    return result


@command(app, device=False, out=False)
def sandbox(
    run: Run,
    code: Path = typer.Option(None, "--code", help="Python file to run (default: a bundled one)"),
    timeout: float = typer.Option(5.0, help="wall-clock seconds"),
    memory_mb: int = typer.Option(256, help="address-space limit"),
    max_output: int = typer.Option(64 * 1024, help="bytes of output allowed"),
) -> dict:
    """Run a Python file in the sandbox: time, memory and output limits, no network."""
    from ch19_agents.sandbox import Limits, run_code

    if timeout <= 0 or timeout > 600:
        raise UserError("--timeout must be between 0 and 600 seconds")
    if memory_mb < 32:
        raise UserError("--memory-mb must be at least 32")
    source = code.read_text(encoding="utf-8") if code else (DATA / "sandbox_example.py").read_text()
    result = run_code(source, Limits(timeout, memory_mb, max_output)).to_dict()
    run.table([{k: str(v)[:80] for k, v in result.items()}])
    return result


@command(app, device=False, out=False)
def smarthome(
    run: Run,
    request: list[str] = typer.Option(None, "--request", "-r", help="a request (repeatable)"),
    backend: str = typer.Option("rules", help="rules (offline), local (constrained LM) or openai"),
    base_url: str = typer.Option(None, help="OpenAI-compatible endpoint for --backend openai"),
    model: str = typer.Option(None, help="model name (openai) or model folder (local)"),
    approve_unlock: bool = typer.Option(False, help="approve door unlocks (human in the loop)"),
    audit: Path = typer.Option(None, help="append the audit log (JSONL) here"),
) -> dict:
    """The smart-home agent: ReAct over typed tools, a simulated home and a weather service."""
    from ch19_agents.labs import smarthome_session

    result = smarthome_session(
        request or DEFAULT_REQUESTS,
        backend=backend,
        base_url=base_url,
        model=model,
        approve_unlock=approve_unlock,
        audit=audit,
    )
    run.table(
        [
            {
                "request": t["request"][:45],
                "status": t["status"],
                "calls": t["calls"],
                "answer": t["answer"][:60],
            }
            for t in result["turns"]
        ]
    )
    return result


@command(app, device=False, out=False)
def plan(
    run: Run,
    goal: str = typer.Option("guests are coming, warm the house to 35 degrees", help="the goal"),
) -> dict:
    """Plan-and-execute with replanning on the simulated home."""
    from dataclasses import asdict

    from ch19_agents.planning import RulePlanner, plan_and_execute
    from ch19_agents.smarthome import Home, home_toolbox

    home = Home()
    result = plan_and_execute(RulePlanner(), home_toolbox(home), goal)
    run.table(
        [
            {
                "subgoal": e["subgoal"],
                "tool": e["tool"],
                "arguments": str(e["arguments"]),
                "ok": e["ok"],
                "error": (e["error"] or "")[:50],
            }
            for e in result.executed
        ],
        title=f"{result.status} after {result.replans} replans",
    )
    return {**asdict(result), "home": home.snapshot()}


# --------------------------------------------------------------------------- workflows


@command(workflow_app, "run", device=False, out=False)
def workflow_run(
    run: Run,
    name: str = typer.Option("evening", help="workflow name"),
    db: Path = typer.Option(None, help="SQLite file (default: $LLMPATH_HOME/ch19/workflows.db)"),
    city: str = typer.Option("Oslo", help="input: city"),
    guest: str = typer.Option("Ada", help="input: guest name"),
    crash: str = typer.Option(None, help="inject a crash: after:STEP or during:STEP"),
    run_id: str = typer.Option(None, "--id", help="run id (default: a new one)"),
) -> dict:
    """Start a workflow run (it stops at approval gates; --crash ends the process there)."""
    from dataclasses import asdict

    from ch19_agents.workflow import default_engine

    engine = default_engine(_db(db), crash=crash, hard=crash is not None)
    if crash and not any(
        crash == f"{w}:{s.name}"
        for w in ("after", "during")
        for s in engine.workflows.get(name, engine.workflows["evening"]).steps
    ):
        raise UserError(f"--crash must be after:STEP or during:STEP of workflow {name!r}")
    if run_id and engine.db.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone():
        raise UserError(f"run id {run_id!r} exists already in {_db(db)}")
    status = engine.start(name, {"city": city, "guest": guest}, run_id=run_id)
    _show_status(run, status)
    return asdict(status)


@command(workflow_app, "status", device=False, out=False)
def workflow_status(
    run: Run,
    run_id: str = typer.Option(None, "--id", help="run id (default: list every run)"),
    db: Path = typer.Option(None, help="SQLite file"),
) -> dict:
    """Show one run (steps, outputs) or list the runs."""
    from dataclasses import asdict

    from ch19_agents.workflow import default_engine

    engine = default_engine(_db(db))
    if run_id is None:
        runs = engine.runs()
        run.table(runs or [{"id": "(none)"}])
        return {"runs": runs}
    status = engine.status(run_id)
    _show_status(run, status)
    return {**asdict(status), "events": [list(e) for e in engine.events(run_id)]}


@command(workflow_app, "approve", device=False, out=False)
def workflow_approve(
    run: Run,
    run_id: str = typer.Option(None, "--id", help="run id (default: the latest waiting run)"),
    db: Path = typer.Option(None, help="SQLite file"),
    reject: bool = typer.Option(False, help="reject instead of approve"),
    by: str = typer.Option("cli-user", help="who decides"),
) -> dict:
    """Approve (or reject) the gate a run waits on, then resume it."""
    from dataclasses import asdict

    from ch19_agents.workflow import default_engine

    engine = default_engine(_db(db))
    if run_id is None:
        waiting = [r for r in engine.runs() if r["status"] == "waiting_approval"]
        if not waiting:
            raise UserError(f"no run is waiting for an approval in {_db(db)}")
        run_id = waiting[-1]["id"]
    status = engine.approve(run_id, by=by, ok=not reject)
    _show_status(run, status)
    return asdict(status)


@command(workflow_app, "resume", device=False, out=False)
def workflow_resume(
    run: Run,
    run_id: str = typer.Option(None, "--id", help="run id (default: the latest unfinished run)"),
    db: Path = typer.Option(None, help="SQLite file"),
) -> dict:
    """Resume a run after a crash (finished steps are not run again)."""
    from dataclasses import asdict

    from ch19_agents.workflow import default_engine

    engine = default_engine(_db(db))
    if run_id is None:
        open_runs = [r for r in engine.runs() if r["status"] in ("running", "failed")]
        if not open_runs:
            raise UserError(f"no unfinished run to resume in {_db(db)}")
        run_id = open_runs[-1]["id"]
    status = engine.resume(run_id)
    _show_status(run, status)
    return {**asdict(status), "effects": [list(e) for e in engine.effects(run_id)]}


def _show_status(run: Run, status) -> None:
    run.table(
        [
            {
                "step": s["name"],
                "status": s["status"],
                "attempts": s["attempts"],
                "error": (s["error"] or "")[:50],
            }
            for s in status.steps
        ],
        title=f"run {status.id} ({status.workflow}): {status.status}"
        + (f", waiting on {status.waiting_on}" if status.waiting_on else ""),
    )


# --------------------------------------------------------------------------- more labs


@command(app, "langgraph", device=False, out=False)
def langgraph_cmd(run: Run) -> dict:
    """Our loop and workflow next to langgraph StateGraphs: the traces must be equal."""
    from ch19_agents.labs import langgraph_comparison

    result = langgraph_comparison(DEFAULT_REQUESTS)
    run.table(result["rows"])
    return result


@command(app, device=False, out=False)
def team(
    run: Run,
    fail_agent: str = typer.Option(None, help="inject a failure: sentiment or technical"),
) -> dict:
    """The multi-agent market-analysis team on generated market data and news."""
    from ch19_agents.labs import team_lab

    if fail_agent not in (None, "sentiment", "technical"):
        raise UserError("--fail-agent must be sentiment or technical")
    result = team_lab(seed=run.seed, fail_agent=fail_agent)
    run.table(result["table"], title="hit rate of buy/sell calls vs the next 10 days' return")
    return result


@command(app, device=False, out=False)
def repair(run: Run) -> dict:
    """The code assistant: doc lookup, code in the sandbox, repair until the tests pass."""
    from ch19_agents.labs import repair_lab

    result = repair_lab()
    run.table(result["history"])
    return result


@command(app, out=False)
def bench(
    run: Run,
    n: int = typer.Option(8, help="cases per category"),
    finetuned: Path = typer.Option(None, help="a fine-tuned model folder (ch19-agents finetune)"),
    base: bool = typer.Option(True, "--base/--no-base", help="include the constrained base model"),
) -> dict:
    """Tool-call accuracy per BFCL category: scripted oracle, constrained model(s)."""
    from ch19_agents.labs import tool_call_benchmark

    if n < 1:
        raise UserError("--n must be at least 1")
    if finetuned is not None and not (finetuned / "config.json").is_file():
        raise UserError(f"{finetuned} is not a model folder (no config.json)")
    result = tool_call_benchmark(n, finetuned=finetuned, base=base, device=run.device)
    run.table(result["table"], title=f"tool-call accuracy, {n} cases per category")
    return result


@command(app)
def finetune(
    run: Run,
    steps: int = typer.Option(150, help="optimizer steps"),
    n_train: int = typer.Option(30, help="training cases per category"),
    batch_size: int = typer.Option(8, help="examples per step"),
    lr: float = typer.Option(3e-3, help="peak learning rate"),
) -> dict:
    """Fine-tune the default model to emit calls (training split of the bundled benchmark).

    Takes several minutes on 2 CPU cores (the README's run: 150 steps, 882 s on a shared box)."""
    from ch19_agents.constrained import finetune as do_finetune
    from llmpath_core import artefact_path

    if steps < 1:
        raise UserError("--steps must be at least 1")
    out = run.out_path(artefact_path("ch19", "toolcall-ft"))
    if batch_size < 1 or lr <= 0:
        raise UserError("--batch-size must be at least 1 and --lr positive")
    result = do_finetune(
        out,
        steps=steps,
        n_train=n_train,
        batch_size=batch_size,
        lr=lr,
        seed=run.seed,
        device=str(run.device),
    )
    run.table([result])
    return result


@command(app, device=False, out=False)
def demo(run: Run) -> dict:
    """The smart-home agent, a workflow that survives a crash and waits for approval, and the
    tool-call benchmark table."""
    from ch19_agents.labs import demo as run_demo

    result = run_demo(seed=run.seed, log=run.log)
    for title, rows in result["tables"].items():
        run.table(rows, title=title)
    return result


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()
