"""``ch22-llmops``: lifecycle, gate, serve, rollback, drift, abtest, abtest-sim, monitor, cost,
iac, workflow, demo."""

from __future__ import annotations

from pathlib import Path

import typer

from llmpath_core import UserError
from llmpath_core.cli import Run, command, make_app, run_app

app = make_app(
    "ch22-llmops",
    "LLMOps: the model lifecycle on MLflow, CI/CD gates and rollback, monitoring and drift, "
    "A/B testing and cost control.",
)

URI_HELP = "MLflow tracking URI: sqlite:///PATH or http://HOST:PORT (default: sqlite under --out)"
NAME_HELP = "registered model name"


def _home(name: str) -> Path:
    from llmpath_core import artefact_path

    return artefact_path("ch22-llmops", name, "x").parent


def _uri(uri: str | None, run: Run) -> str:
    from ch22_llmops.lifecycle import check_tracking_uri, default_tracking_uri

    uri = uri or default_tracking_uri(run.out)
    check_tracking_uri(uri)
    return uri


@command(app, device=False, out_help="folder of the default sqlite store")
def lifecycle(
    run: Run,
    tracking_uri: str = typer.Option(None, "--tracking-uri", help=URI_HELP),
    model_name: str = typer.Option("llmpath-default", "--model-name", help=NAME_HELP),
    train_steps: int = typer.Option(12, help="fine-tuning steps of the challenger"),
    noise: float = typer.Option(0.3, help="weight noise of the degraded challenger"),
    margin: float = typer.Option(0.005, help="allowed relative loss regression at the gate"),
    rollback: bool = typer.Option(
        True, "--rollback/--no-rollback", help="end with a rollback drill"
    ),
) -> dict:
    """Train, evaluate, log, register, alias, serve and roll back the default model on MLflow."""
    from ch22_llmops.gate import GatePolicy
    from ch22_llmops.pipeline import run_lifecycle

    if train_steps < 1 or noise < 0:
        raise UserError("--train-steps must be at least 1 and --noise non-negative")
    uri = _uri(tracking_uri, run)
    result = run_lifecycle(
        uri,
        model_name,
        train_steps=train_steps,
        noise=noise,
        rollback_drill=rollback,
        policy=GatePolicy(margin=margin),
        seed=run.seed,
    )
    run.table(
        [{k: s[k] for k in ("version", "role", "loss", "gate", "reason")} for s in result["steps"]],
        title=f"{model_name} on {uri}",
    )
    rolled = result["rollback"]
    run.show(
        f"served v{result['served']['version']}: {result['served']['sample']!r}\n"
        + (f"rolled back v{rolled['from_version']} -> v{rolled['to_version']}\n" if rolled else "")
        + f"champion: v{result['champion_version']} (run {result['run_id']})"
    )
    return result


@command(app, device=False, out=False)
def gate(
    run: Run,
    candidate: Path = typer.Option(None, help="HF model folder (default: the default model)"),
    tracking_uri: str = typer.Option(None, "--tracking-uri", help=URI_HELP),
    model_name: str = typer.Option("llmpath-default", "--model-name", help=NAME_HELP),
    margin: float = typer.Option(0.005, help="allowed relative loss regression"),
    max_loss: float = typer.Option(None, help="absolute ceiling on the held-out loss"),
) -> dict:
    """Evaluate a candidate, register it and promote it only if the gate passes (exit 1 if not)."""
    from ch22_llmops import lifecycle as lc
    from ch22_llmops.gate import GatePolicy
    from ch22_llmops.pipeline import gate_candidate
    from llmpath_core import default_model_path

    folder = Path(candidate) if candidate is not None else default_model_path()
    if not (folder / "config.json").is_file():
        raise UserError(f"{folder} is not a Hugging Face model folder (no config.json)")
    uri = _uri(tracking_uri, run)
    client = lc.connect(uri)
    result = gate_candidate(
        client,
        uri,
        model_name,
        folder,
        role="candidate",
        policy=GatePolicy(margin=margin, max_loss=max_loss),
        params={"source": str(folder)},
    )
    champion = lc.alias_version(client, model_name, lc.CHAMPION)
    result["champion_version"] = None if champion is None else int(champion)
    run.table([result])
    if result["gate"] != "promoted":
        run.fail(1)
    return result


@command(app, device=False, out=False)
def serve(
    run: Run,
    tracking_uri: str = typer.Option(None, "--tracking-uri", help=URI_HELP),
    model_name: str = typer.Option("llmpath-default", "--model-name", help=NAME_HELP),
    tolerance: float = typer.Option(1e-4, help="allowed |served - logged| loss"),
) -> dict:
    """Load models:/NAME@champion, generate, and re-check its loss (exit 1 on a mismatch)."""
    from ch22_llmops import lifecycle as lc
    from ch22_llmops.pipeline import serve_champion

    client = lc.connect(_uri(tracking_uri, run))
    if lc.alias_version(client, model_name, lc.CHAMPION) is None:
        raise UserError(f"registered model {model_name!r} has no champion alias")
    result = serve_champion(client, model_name)
    result["ok"] = abs(result["loss"] - result["logged_loss"]) <= tolerance
    if not result["ok"]:
        run.fail(1)
    return result


@command(app, device=False, out=False)
def rollback(
    run: Run,
    tracking_uri: str = typer.Option(None, "--tracking-uri", help=URI_HELP),
    model_name: str = typer.Option("llmpath-default", "--model-name", help=NAME_HELP),
) -> dict:
    """Point the champion alias back at the version the current champion replaced."""
    from ch22_llmops import lifecycle as lc

    client = lc.connect(_uri(tracking_uri, run))
    result = lc.rollback(client, model_name)
    return {"model_name": model_name, **result, "champion_version": result["to_version"]}


@command(app, device=False, out=False)
def drift(
    run: Run,
    reference: Path = typer.Option(None, help="reference CSV (default: simulated request logs)"),
    current: Path = typer.Option(None, help="current CSV with the same columns"),
    alpha: float = typer.Option(0.05, help="significance level"),
    categorical: list[str] = typer.Option([], help="treat this column as categorical"),
    embeddings: bool = typer.Option(
        False, help="also test embedding drift (default model; stories vs stories and prose)"
    ),
) -> dict:
    """Per-column drift: KS for numeric columns, chi² for categorical ones (+ PSI)."""
    from ch22_llmops import drift as d

    if (reference is None) != (current is None):
        raise UserError("give both --reference and --current, or neither")
    if reference is None:
        from ch22_llmops.labs import simulated_tables

        ref, cur = simulated_tables(run.seed)
    else:
        ref, cur = d.read_csv(reference), d.read_csv(current)
    report: dict = d.drift_report(ref, cur, alpha=alpha, categorical=categorical)
    run.table([{"column": c, **r} for c, r in report.items()])
    if embeddings:
        from ch22_llmops.labs import embedding_drift

        report["embeddings"] = embedding_drift(run.seed)
        run.table([{"pair": k, **v} for k, v in report["embeddings"].items()], title="embeddings")
    return report


@command(app, device=False, out=False)
def abtest(
    run: Run,
    control: str = typer.Option("200/2000", help="control conversions/N"),
    treatment: str = typer.Option("245/2000", help="treatment conversions/N"),
    alpha: float = typer.Option(0.05, help="significance level"),
) -> dict:
    """Two-proportion z-test of treatment against control: z, p-value, lift, interval."""
    from ch22_llmops.abtest import parse_counts, two_proportion_ztest

    if not 0 < alpha < 1:
        raise UserError("--alpha must be between 0 and 1")
    c, n_c = parse_counts(control)
    t, n_t = parse_counts(treatment)
    return two_proportion_ztest(c, n_c, t, n_t, alpha)


@command(app, "abtest-sim", device=False, out=False)
def abtest_sim(
    run: Run,
    experiments: int = typer.Option(2000, help="simulated experiments"),
    peeks: int = typer.Option(20, help="looks at the data per experiment"),
) -> dict:
    """A/A false positives, the peeking problem vs mSPRT, power, and a guarded rollout."""
    from ch22_llmops.labs import ab_simulations

    if experiments < 100 or peeks < 1:
        raise UserError("--experiments must be at least 100 and --peeks at least 1")
    result = ab_simulations(experiments=experiments, peeks=peeks, seed=run.seed)
    run.table(result["table"])
    return result


@command(app, device=False, out_help="folder for metrics.prom, the dashboard and the plot")
def monitor(
    run: Run,
    minutes: int = typer.Option(120, help="minutes of simulated traffic"),
    incident_at: int = typer.Option(80, help="minute an incident starts (-1: none)"),
) -> dict:
    """Request logs -> Prometheus metrics, Grafana dashboard, plot, alerts and remediation."""
    from ch22_llmops.labs import monitoring_lab

    if minutes < 40:
        raise UserError("--minutes must be at least 40 (the detectors need a 30-minute baseline)")
    out = run.out_path(_home("monitor"))
    result = monitoring_lab(out, minutes, None if incident_at < 0 else incident_at, run.seed)
    run.table(result["actions"] or [{"alerts": "none"}], title="alerts and remediation")
    return result


@command(app, device=False, out=False)
def cost(
    run: Run,
    model: str = typer.Option("llmpath-default", help="model to price"),
    budget: float = typer.Option(0.05, help="budget per tenant, USD"),
) -> dict:
    """Token accounting per tenant, budgets, cache savings, fleet cost, recommendations."""
    from ch22_llmops.cost import run_cost_lab

    if budget <= 0:
        raise UserError("--budget must be positive")
    result = run_cost_lab(model, budget, run.seed)
    run.table(result["recommendations"], title="savings recommendations")
    return result


@command(app, device=False, out=False)
def iac(
    run: Run,
    folder: Path = typer.Option(None, "--dir", help="Terraform folder (default: the bundled one)"),
) -> dict:
    """Parse the tracking server's Terraform offline and check it against policy rules."""
    from ch22_llmops.iac import check_terraform

    if folder is not None and not folder.is_dir():
        raise UserError(f"no such folder: {folder}")
    result = check_terraform(folder)
    run.table([f for f in result["findings"] if not f["ok"]] or [{"all checks": "passed"}])
    if not result["passed"]:
        run.fail(1)
    return result


@command(app, device=False, out_help="folder to write the workflow into")
def workflow(run: Run) -> dict:
    """Write the GitHub Actions gate workflow and check it with actionlint."""
    from ch22_llmops.workflow import actionlint, write_workflow

    out = run.out_path(_home("workflow"))
    path = write_workflow(out)
    lint = actionlint(path)
    if not lint["ok"]:
        run.fail(1)
    return {"path": str(path), **lint}


@command(app, device=False, out_help="folder of the demo's sqlite store and outputs")
def demo(run: Run) -> dict:
    """The lifecycle on an embedded MLflow store, a drift check and an A/B simulation."""
    from ch22_llmops.labs import run_demo

    out = run.out_path(_home("demo"))
    result = run_demo(out, seed=run.seed)
    run.table(result["table"], title="ch22-llmops demo")
    return result


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()
