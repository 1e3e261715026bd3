"""Monitoring: request logs -> Prometheus metrics, a Grafana dashboard, anomaly alerts, remediation.

An LLM service is watched on four signals: latency, tokens (cost), errors and quality. This
module turns a log of requests into

- Prometheus metrics in the text exposition format, built with ``prometheus_client``'s own
  registry (``llm_requests_total``, ``llm_tokens_total``, ``llm_request_latency_seconds``
  histogram, ``llm_quality_score``), what a ``/metrics`` endpoint would serve;
- a Grafana dashboard (JSON model) whose PromQL panels read those metrics;
- per-minute series, and alerts from a robust rolling z-score (median and MAD of the trailing
  window) that fire after ``consecutive`` anomalous minutes;
- remediation hooks: callables registered per metric (roll back, scale up, ...) that an alert
  invokes once.

:func:`simulate_requests` makes a seeded request log with an optional incident (latency x3 and
errors x8 from a given minute), the test bed for the detector.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)


def simulate_requests(
    minutes: int = 120,
    per_minute: int = 60,
    incident_at: int | None = 80,
    seed: int = 0,
    models: tuple[str, ...] = ("llmpath-default", "llmpath-draft"),
    tenants: tuple[str, ...] = ("acme", "globex", "initech"),
) -> list[dict[str, Any]]:
    """A request log: minute, model, tenant, latency, tokens, error flag, quality score."""
    rng = np.random.default_rng(seed)
    log = []
    for minute in range(minutes):
        bad = incident_at is not None and minute >= incident_at
        n = rng.poisson(per_minute)
        for _ in range(n):
            model = models[int(rng.random() < 0.3)] if len(models) > 1 else models[0]
            prompt = int(rng.integers(20, 400))
            completion = int(rng.integers(10, 200))
            latency = float(rng.lognormal(np.log(0.02 + completion * 0.004), 0.3))
            latency *= 3.0 if bad else 1.0
            error = bool(rng.random() < (0.08 if bad else 0.01))
            quality = float(np.clip(rng.normal(0.8 if not bad else 0.7, 0.1), 0, 1))
            log.append(
                {
                    "minute": minute,
                    "model": model,
                    "tenant": tenants[int(rng.integers(len(tenants)))],
                    "latency_s": latency,
                    "prompt_tokens": prompt,
                    "completion_tokens": 0 if error else completion,
                    "error": error,
                    "quality": None if error else quality,
                }
            )
    return log


def prometheus_text(requests: list[dict[str, Any]]) -> str:
    """The request log as Prometheus text exposition (prometheus_client's registry)."""
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

    registry = CollectorRegistry()
    total = Counter("llm_requests", "LLM requests", ["model", "status"], registry=registry)
    tokens = Counter("llm_tokens", "Tokens processed", ["model", "kind"], registry=registry)
    latency = Histogram(
        "llm_request_latency_seconds",
        "Request latency",
        ["model"],
        buckets=LATENCY_BUCKETS,
        registry=registry,
    )
    quality = Gauge(
        "llm_quality_score", "Mean quality score of answers", ["model"], registry=registry
    )
    scores: dict[str, list[float]] = {}
    for r in requests:
        total.labels(r["model"], "error" if r["error"] else "ok").inc()
        tokens.labels(r["model"], "prompt").inc(r["prompt_tokens"])
        tokens.labels(r["model"], "completion").inc(r["completion_tokens"])
        latency.labels(r["model"]).observe(r["latency_s"])
        if r["quality"] is not None:
            scores.setdefault(r["model"], []).append(r["quality"])
    for model, values in scores.items():
        quality.labels(model).set(float(np.mean(values)))
    return generate_latest(registry).decode()


def grafana_dashboard(title: str = "LLM service") -> dict[str, Any]:
    """A Grafana dashboard JSON model with one PromQL panel per signal."""
    panels = [
        ("Requests per second", "sum by (model) (rate(llm_requests_total[5m]))", "reqps"),
        (
            "Error ratio",
            'sum(rate(llm_requests_total{status="error"}[5m])) / sum(rate(llm_requests_total[5m]))',
            "percentunit",
        ),
        (
            "p95 latency",
            "histogram_quantile(0.95, sum by (le, model) "
            "(rate(llm_request_latency_seconds_bucket[5m])))",
            "s",
        ),
        ("Tokens per second", "sum by (kind) (rate(llm_tokens_total[5m]))", "short"),
        ("Quality score", "avg by (model) (llm_quality_score)", "percentunit"),
    ]
    return {
        "title": title,
        "uid": "llmpath-ch22",
        "schemaVersion": 39,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "templating": {"list": []},
        "panels": [
            {
                "id": i + 1,
                "type": "timeseries",
                "title": name,
                "gridPos": {"h": 8, "w": 12, "x": 12 * (i % 2), "y": 8 * (i // 2)},
                "datasource": {"type": "prometheus", "uid": "${DS_PROMETHEUS}"},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "targets": [{"refId": "A", "expr": expr}],
            }
            for i, (name, expr, unit) in enumerate(panels)
        ],
    }


def per_minute(requests: list[dict[str, Any]], minutes: int | None = None) -> dict[str, np.ndarray]:
    """Per-minute series: requests, error rate, p95 latency, mean quality, tokens."""
    minutes = minutes or (max(r["minute"] for r in requests) + 1)
    series = {
        k: np.full(minutes, np.nan)
        for k in ("requests", "error_rate", "p95_latency_s", "quality", "tokens")
    }
    by_minute: dict[int, list[dict[str, Any]]] = {}
    for r in requests:
        by_minute.setdefault(r["minute"], []).append(r)
    for m in range(minutes):
        rows = by_minute.get(m, [])
        series["requests"][m] = len(rows)
        if rows:
            series["error_rate"][m] = np.mean([r["error"] for r in rows])
            series["p95_latency_s"][m] = np.percentile([r["latency_s"] for r in rows], 95)
            q = [r["quality"] for r in rows if r["quality"] is not None]
            series["quality"][m] = np.mean(q) if q else np.nan
            series["tokens"][m] = sum(r["prompt_tokens"] + r["completion_tokens"] for r in rows)
    return series


@dataclass
class Detector:
    """Robust rolling z-score: (x - median) / (1.4826 MAD) over the trailing ``window`` minutes."""

    window: int = 30
    threshold: float = 4.0
    consecutive: int = 2
    direction: int = 1  # +1: alert on increases, -1: on decreases
    min_scale: float = 0.0  # floor of the scale: a rate of rare events has a MAD of 0

    def alerts(self, values: np.ndarray, metric: str) -> list[dict[str, Any]]:
        out, run = [], 0
        for t in range(self.window, len(values)):
            history = values[t - self.window : t]
            history = history[~np.isnan(history)]
            if history.size < self.window // 2 or np.isnan(values[t]):
                continue
            med = float(np.median(history))
            mad = max(1.4826 * float(np.median(np.abs(history - med))), self.min_scale, 1e-12)
            z = self.direction * (values[t] - med) / mad
            run = run + 1 if z > self.threshold else 0
            if run == self.consecutive:
                out.append(
                    {
                        "metric": metric,
                        "minute": t,
                        "value": float(values[t]),
                        "baseline": med,
                        "z": float(z),
                    }
                )
        return out


DEFAULT_DETECTORS = {
    # ~ the binomial standard deviation of a 1 % error rate over 60 requests
    "error_rate": Detector(min_scale=0.0125),
    "p95_latency_s": Detector(min_scale=0.05),
    "quality": Detector(direction=-1, min_scale=0.01),
}


@dataclass
class AlertManager:
    """Routes alerts to remediation hooks (one call per metric per incident)."""

    hooks: dict[str, Callable[[dict[str, Any]], str]] = field(default_factory=dict)
    actions: list[dict[str, Any]] = field(default_factory=list)

    def register(self, metric: str, hook: Callable[[dict[str, Any]], str]) -> None:
        self.hooks[metric] = hook

    def handle(self, alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        done = {a["metric"] for a in self.actions}
        for alert in sorted(alerts, key=lambda a: a["minute"]):
            hook = self.hooks.get(alert["metric"])
            if hook is not None and alert["metric"] not in done:
                self.actions.append({**alert, "action": hook(alert)})
                done.add(alert["metric"])
        return self.actions


def detect(series: dict[str, np.ndarray], detectors=None) -> list[dict[str, Any]]:
    """Alerts from every detector on its series, in time order."""
    detectors = detectors or DEFAULT_DETECTORS
    alerts = []
    for metric, detector in detectors.items():
        alerts += detector.alerts(series[metric], metric)
    return sorted(alerts, key=lambda a: a["minute"])


def write_monitoring(out, requests: list[dict[str, Any]], alerts: list[dict[str, Any]]) -> dict:
    """Write metrics.prom, grafana-dashboard.json and monitoring.png under ``out``."""
    from pathlib import Path

    from llmpath_core import line_plot, write_json, write_text

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    prom = write_text(out / "metrics.prom", prometheus_text(requests))
    dash = write_json(out / "grafana-dashboard.json", grafana_dashboard())
    series = per_minute(requests)
    xs = list(range(len(series["requests"])))
    plot = line_plot(
        out / "monitoring.png",
        {
            "p95 latency (s)": (xs, series["p95_latency_s"].tolist()),
            "error rate x10": (xs, (10 * series["error_rate"]).tolist()),
            **({"alerts": ([a["minute"] for a in alerts], [0.0] * len(alerts))} if alerts else {}),
        },
        title="Request metrics per minute (alerts at y=0)",
        xlabel="minute",
        ylabel="value",
        markers=False,
    )
    return {"metrics": str(prom), "dashboard": str(dash), "plot": str(plot)}


__all__ = [
    "AlertManager",
    "Detector",
    "detect",
    "grafana_dashboard",
    "per_minute",
    "prometheus_text",
    "simulate_requests",
    "write_monitoring",
]
