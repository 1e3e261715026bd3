"""``ch12-reasoning``: the chapter's console script (a thin layer over the library)."""

from __future__ import annotations

from pathlib import Path

import typer

from llmpath_core.cli import Run, command, make_app, run_app
from llmpath_core.errors import UserError

app = make_app(
    "ch12-reasoning",
    "Reasoning: chain-of-thought supervision vs RL on verifiable rewards, process reward models, "
    "tree search and test-time compute scaling, measured on a small model trained here.",
)

MODEL_HELP = "policy folder (default: the checkpoint bundled with the package)"


def _policy(model: Path | None):
    from ch12_reasoning.policy import load_policy

    return load_policy(model)


@command(app, "train", out_help="policy folder to write (default: $LLMPATH_HOME/ch12/policy)")
def train(
    run: Run,
    steps: int = typer.Option(1500, help="SFT steps on solver-written rationales"),
    batch: int = typer.Option(32, help="sequences per step"),
) -> dict:
    """Train the policy from scratch on rationales (the defaults reproduce the bundled one)."""
    import time

    from ch12_reasoning.policy import TrainConfig, config_dict, save_policy, train_policy
    from llmpath_core.paths import artefact_path

    if steps < 1 or batch < 1:
        raise UserError("--steps and --batch must be at least 1")
    cfg = TrainConfig(steps=steps, batch=batch, seed=run.seed)
    start = time.perf_counter()
    model, losses = train_policy(cfg, progress=not run.json)
    tail = losses[-min(100, len(losses)) :]
    info = {
        "config": config_dict(cfg),
        "loss_first": losses[0],
        "loss_last_100": sum(tail) / len(tail),
        "seconds": time.perf_counter() - start,
        "command": f"ch12-reasoning train --steps {steps} --batch {batch} --seed {run.seed}",
    }
    out = run.out_path(artefact_path("ch12", "policy"))
    save_policy(model, out, info)
    run.table(
        [{"steps": steps, "loss first": info["loss_first"], "loss last 100": info["loss_last_100"]}]
    )
    return {"out": str(out), **info}


@command(app, "solve")
def solve(
    run: Run,
    method: str = typer.Option(
        "cot",
        help="cot, self-consistency, prm-best-of-n (also orm-, random-, oracle-best-of-n, "
        "self-critique: n = rounds of PRM critique and rewrite)",
    ),
    n: int = typer.Option(1, "--n", help="chains per problem (cot always uses one greedy chain)"),
    temperature: float | None = typer.Option(
        None,
        help="sampling temperature for n chains (0 = greedy; default 0.4 for self-consistency, "
        "chosen on validation problems, 1.0 for best-of-N)",
    ),
    problems: Path | None = typer.Option(
        None, help='JSONL of {"question": "7+5*3-4"} (default: bundled held-out set)'
    ),
    limit: int = typer.Option(200, help="use the first LIMIT problems"),
    model: Path | None = typer.Option(None, help=MODEL_HELP),
) -> dict:
    """Arithmetic with test-time compute on held-out problems: accuracy and generated tokens."""
    from ch12_reasoning import problems as P
    from ch12_reasoning.solve import METHODS, solve_arithmetic

    if method not in METHODS:
        raise UserError(f"--method {method!r}: choose from {', '.join(METHODS)}")
    if n < 1:
        raise UserError("--n must be at least 1")
    if temperature is not None and temperature < 0:
        raise UserError("--temperature must be >= 0")
    items = P.load_problems(problems) if problems is not None else P.heldout_arithmetic()
    items = items[: max(limit, 1)]
    policy, tok = _policy(model)
    rewards = None
    if method in ("prm-best-of-n", "orm-best-of-n", "self-critique"):
        from ch12_reasoning.labs import heads

        rewards = heads(policy, tok, model)[0]
    result = solve_arithmetic(
        policy, tok, items, method, n, temperature=temperature, rewards=rewards, seed=run.seed
    )
    result.pop("chains")
    run.table(
        [
            {
                "method": method,
                "n": result["n"],
                "accuracy": result["accuracy"],
                "tokens/problem": result["tokens"],
                **{f"d{d}": a for d, a in result["by_difficulty"].items()},
            }
        ]
    )
    return result


@command(app, "game24")
def game24(
    run: Run,
    method: str = typer.Option("tot", help="cot or tot"),
    numbers: list[str] | None = typer.Option(
        None, help='four integers, e.g. "4 7 8 8" (repeatable; default: 20 held-out puzzles)'
    ),
    budget: int | None = typer.Option(
        None, help="model calls per puzzle (default: 1 for cot, 40 for tot)"
    ),
    search: str = typer.Option("bfs", help="tot search: bfs or dfs"),
    model: Path | None = typer.Option(None, help=MODEL_HELP),
) -> dict:
    """Game of 24 with chain-of-thought or tree-of-thoughts; every solution is checked exactly."""
    from ch12_reasoning import problems as P
    from ch12_reasoning.game24 import Game24Solver, run_game24

    if method not in ("cot", "tot"):
        raise UserError(f"--method {method!r}: choose cot or tot")
    if search not in ("bfs", "dfs"):
        raise UserError(f"--search {search!r}: choose bfs or dfs")
    if budget is None:
        budget = 1 if method == "cot" else 40
    if budget < 1:
        raise UserError(f"--budget {budget}: must be at least 1 model call")
    puzzles = (
        [P.parse_numbers(s) for s in numbers]
        if numbers
        else [list(p) for p in P.g24_split()[1][:20]]
    )
    policy, tok = _policy(model)
    value = None
    if method == "tot":
        from ch12_reasoning.labs import heads

        value = heads(policy, tok, model, seed=0)[1]
    solver = Game24Solver(policy, tok, value)
    result = (
        run_game24(solver, puzzles, method, budget, search=search)
        if method == "tot"
        else run_game24(solver, puzzles, method, budget)
    )
    run.table(
        [
            {"numbers": " ".join(map(str, r["numbers"])), "solution": r["solution"] or "-"}
            for r in result["results"][:20]
        ],
        title=f"{method}: solved {result['solved']}/{result['total']} "
        f"with {result['model_calls']} model calls",
    )
    return result


@command(app, "demo")
def demo(
    run: Run,
    problems: int = typer.Option(100, help="held-out arithmetic problems"),
    puzzles: int = typer.Option(20, help="held-out Game-of-24 puzzles"),
    model: Path | None = typer.Option(None, help=MODEL_HELP),
) -> dict:
    """Accuracy vs test-time compute (CoT, self-consistency, PRM/ORM best-of-N) and ToT vs CoT."""
    from ch12_reasoning import problems as P
    from ch12_reasoning.game24 import Game24Solver, run_game24
    from ch12_reasoning.labs import budget_curves, heads
    from llmpath_core.paths import artefact_path
    from llmpath_core.report import line_plot

    if problems < 4 or puzzles < 1:
        raise UserError("--problems must be >= 4 and --puzzles >= 1")
    policy, tok = _policy(model)
    rewards, value, value_acc = heads(policy, tok, model, seed=run.seed)
    items = P.heldout_arithmetic(problems)
    curves = budget_curves(policy, tok, items, rewards, ns=(1, 2, 4, 8), seed=run.seed)
    rows = [
        {"method": m, "N": r["n"], "accuracy": r["accuracy"], "tokens/problem": r["tokens"]}
        for m, rs in curves.items()
        for r in rs
    ]
    run.table(rows, title=f"arithmetic, {problems} held-out problems")
    solver = Game24Solver(policy, tok, value)
    test = [list(p) for p in P.g24_split()[1][:puzzles]]
    tot = run_game24(solver, test, "tot", 40)
    matched = max(1, round(tot["model_calls"] / len(test)))
    cot1 = run_game24(solver, test, "cot", 1)
    cotm = run_game24(solver, test, "cot", matched)
    g24 = [
        {
            "method": "cot (1 chain)",
            "solved": cot1["solved"],
            "calls": cot1["model_calls"],
            "tokens": cot1["tokens"],
        },
        {
            "method": f"cot ({matched} chains)",
            "solved": cotm["solved"],
            "calls": cotm["model_calls"],
            "tokens": cotm["tokens"],
        },
        {
            "method": "tot bfs (budget 40)",
            "solved": tot["solved"],
            "calls": tot["model_calls"],
            "tokens": tot["tokens"],
        },
    ]
    run.table(g24, title=f"Game of 24, {len(test)} held-out puzzles")
    series = {
        m: ([r["tokens"] for r in rs], [r["accuracy"] for r in rs]) for m, rs in curves.items()
    }
    plot = line_plot(
        run.out_path(artefact_path("ch12", "demo_accuracy_vs_tokens.png")),
        series,
        title="Held-out arithmetic: accuracy vs generated tokens",
        xlabel="generated tokens per problem",
        ylabel="accuracy",
        logx=True,
    )
    sc, prm = curves["self-consistency"], curves["prm-best-of-n"]
    headline = (
        f"accuracy {curves['cot'][0]['accuracy']:.2f} with greedy CoT, "
        f"{sc[-1]['accuracy']:.2f} with self-consistency@{sc[-1]['n']} and "
        f"{prm[-1]['accuracy']:.2f} with PRM best-of-{prm[-1]['n']}; Game of 24: ToT solved "
        f"{tot['solved']}/{len(test)} vs CoT {cotm['solved']}/{len(test)} at "
        f"{matched} calls per puzzle"
    )
    return {
        "showed": "accuracy vs generated tokens for CoT, self-consistency and ORM/PRM best-of-N on "
        "held-out arithmetic, and tree-of-thoughts vs chain-of-thought on Game of 24",
        "headline": headline,
        "curves": curves,
        "prm_step_accuracy": rewards.prm_step_accuracy,
        "orm_accuracy": rewards.orm_accuracy,
        "value_accuracy": value_acc,
        "game24": g24,
        "plot": str(plot),
    }


def main() -> None:
    """Console-script entry point."""
    run_app(app)


if __name__ == "__main__":
    main()
