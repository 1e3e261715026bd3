"""The labs behind the CLI: drift tables, A/B simulations, monitoring, the demo."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from ch22_llmops import abtest, drift, monitoring

COLUMNS = ("prompt_tokens", "completion_tokens", "latency_s", "tenant", "model")


def simulated_tables(seed: int = 0, rows: int = 1000) -> tuple[dict, dict]:
    """Reference = an hour of normal traffic; current = an hour during an incident in which
    latency tripled, errors (empty completions) rose and one tenant's share grew."""
    ref = monitoring.simulate_requests(minutes=30, incident_at=None, seed=seed)[:rows]
    cur = monitoring.simulate_requests(
        minutes=30, incident_at=0, seed=seed + 1, tenants=("acme", "acme", "globex", "initech")
    )[:rows]
    return ({c: [r[c] for r in ref] for c in COLUMNS}, {c: [r[c] for r in cur] for c in COLUMNS})


def embedding_drift(seed: int = 0, docs: int = 32) -> dict[str, Any]:
    """Embedding drift with the default model's mean-pooled last hidden states.

    Stories against other stories should not drift; stories against Python documentation
    prose should.
    """
    import torch

    from llmpath_core import load_default_model, load_documents

    model, tokenizer = load_default_model()
    stories = load_documents("stories", split="validation", max_chars=120_000)
    prose = load_documents("pydoc", split="validation", max_chars=120_000)

    def embed(texts: list[str]) -> np.ndarray:
        batch = tokenizer(texts, return_tensors="pt", padding=True, truncation=True, max_length=64)
        with torch.no_grad():
            hidden = model(**batch, output_hidden_states=True).hidden_states[-1]
        mask = batch["attention_mask"].unsqueeze(-1).float()
        return ((hidden * mask).sum(1) / mask.sum(1)).numpy()

    a, b, c = embed(stories[:docs]), embed(stories[docs : 2 * docs]), embed(prose[:docs])
    same = drift.mmd_test(a, b, seed=seed)
    other = drift.mmd_test(a, c, seed=seed)
    return {
        "stories_vs_stories": {**same, "cosine": drift.mean_embedding_distance(a, b)},
        "stories_vs_prose": {**other, "cosine": drift.mean_embedding_distance(a, c)},
    }


def ab_simulations(experiments: int = 2000, peeks: int = 20, seed: int = 0) -> dict[str, Any]:
    """A/A, peeking vs mSPRT (null and a +2-point effect), power check, two guarded rollouts."""
    aa = abtest.simulate_aa(experiments=experiments, seed=seed)
    aa.pop("p_values")
    null = abtest.peeking_simulation(experiments=experiments, peeks=peeks, seed=seed)
    alt = abtest.peeking_simulation(experiments=experiments, peeks=peeks, effect=0.02, seed=seed)
    n = abtest.sample_size_two_proportions(0.10, 0.12, power=0.8)
    rng = np.random.default_rng(seed)
    n_int = int(np.ceil(n))
    c, t = rng.binomial(n_int, 0.10, experiments), rng.binomial(n_int, 0.12, experiments)
    pooled = (c + t) / (2 * n_int)
    z = (t - c) / n_int / np.sqrt(pooled * (1 - pooled) * 2 / n_int)
    empirical = float(np.mean(np.abs(z) > 1.959963984540054))
    bad = abtest.gradual_rollout(0.01, 0.03, seed=seed)
    good = abtest.gradual_rollout(0.01, 0.01, seed=seed)
    table = [
        {
            "check": "A/A false-positive rate",
            "value": aa["false_positive_rate"],
            "expected": f"{aa['interval_99'][0]:.3f}-{aa['interval_99'][1]:.3f}",
        },
        {
            "check": f"naive z-test, {peeks} peeks (A/A)",
            "value": null["naive_peeking_rate"],
            "expected": "<= 0.05 (it is not)",
        },
        {
            "check": f"mSPRT, {peeks} peeks (A/A)",
            "value": null["msprt_rate"],
            "expected": "<= 0.05",
        },
        {"check": "mSPRT power, +2 points", "value": alt["msprt_rate"], "expected": "> 0"},
        {
            "check": f"power at n={n_int}/arm (analytic 0.80)",
            "value": empirical,
            "expected": "0.80",
        },
        {
            "check": "rollout of a 3x-error variant",
            "value": bad["stopped_at_share"],
            "expected": "stopped early",
        },
        {
            "check": "rollout of an equal variant",
            "value": good["completed"],
            "expected": "completes",
        },
    ]
    return {
        "aa": aa,
        "peeking_null": null,
        "peeking_effect": alt,
        "sample_size": n,
        "empirical_power": empirical,
        "rollout_bad": bad,
        "rollout_good": good,
        "table": table,
    }


def monitoring_lab(
    out: str | Path, minutes: int = 120, incident_at: int | None = 80, seed: int = 0
) -> dict[str, Any]:
    """Simulate traffic, export metrics, detect the incident and run the remediation hooks."""
    requests = monitoring.simulate_requests(minutes=minutes, incident_at=incident_at, seed=seed)
    series = monitoring.per_minute(requests, minutes)
    alerts = monitoring.detect(series)
    manager = monitoring.AlertManager()
    manager.register("error_rate", lambda a: "roll back to the previous champion")
    manager.register("p95_latency_s", lambda a: "scale out by 2 replicas")
    manager.register("quality", lambda a: "route traffic to the fallback model")
    actions = manager.handle(alerts)
    files = monitoring.write_monitoring(out, requests, alerts)
    first = min((a["minute"] for a in alerts), default=None)
    return {
        "requests": len(requests),
        "incident_at": incident_at,
        "first_alert": first,
        "detection_delay_min": None
        if first is None or incident_at is None
        else first - incident_at,
        "alerts": len(alerts),
        "actions": [{k: a[k] for k in ("minute", "metric", "value", "action")} for a in actions],
        **files,
    }


def run_demo(out: str | Path, seed: int = 0) -> dict[str, Any]:
    """Lifecycle on an embedded sqlite MLflow store, a drift check, an A/B simulation."""
    from ch22_llmops.lifecycle import default_tracking_uri
    from ch22_llmops.pipeline import run_lifecycle

    started = time.perf_counter()
    out = Path(out)
    uri = default_tracking_uri(out)
    life = run_lifecycle(uri, seed=seed)
    ref, cur = simulated_tables(seed)
    report = drift.drift_report(ref, cur)
    sims = ab_simulations(experiments=1000, seed=seed)
    by_role = {s["role"]: s for s in life["steps"]}
    rolled = life["rollback"]
    drifted = [c for c, r in report.items() if r["drift"]]
    headline = (
        f"gate blocked the degraded challenger (loss {by_role['degraded']['loss']:.3f}) and "
        f"{by_role['finetuned']['gate']} the fine-tune ({by_role['finetuned']['loss']:.3f} vs "
        f"{by_role['base']['loss']:.3f}); naive peeking false-positive rate "
        f"{sims['peeking_null']['naive_peeking_rate']:.1%} vs mSPRT "
        f"{sims['peeking_null']['msprt_rate']:.1%}"
    )
    table = [
        *[
            {
                "lab": f"lifecycle v{s['version']} ({s['role']})",
                "result": s["gate"],
                "detail": s["reason"],
            }
            for s in life["steps"]
        ],
        {
            "lab": "rollback drill",
            "result": "done" if rolled else "skipped",
            "detail": f"v{rolled['from_version']} -> v{rolled['to_version']}" if rolled else "",
        },
        {
            "lab": "drift (KS / chi²)",
            "result": f"{len(drifted)} of {len(report)} columns",
            "detail": ", ".join(drifted),
        },
        *[
            {"lab": "A/B: " + row["check"], "result": row["value"], "detail": row["expected"]}
            for row in sims["table"][:3]
        ],
    ]
    return {
        "showed": "the MLflow lifecycle of the default model (register, gate, promote, serve, "
        "roll back) on an embedded sqlite store, a drift check and A/B peeking simulations",
        "headline": headline,
        "tracking_uri": uri,
        "model_name": life["model_name"],
        "champion_version": life["champion_version"],
        "lifecycle": life,
        "drift": report,
        "ab": {k: v for k, v in sims.items() if k != "table"},
        "table": table,
        "seconds": time.perf_counter() - started,
    }
