"""Monitoring (Prometheus parser, Grafana), cost arithmetic, Terraform rules, actionlint."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ch22_llmops import cost, iac, monitoring, workflow
from llmpath_core import UserError


@pytest.fixture(scope="module")
def log():
    return monitoring.simulate_requests(minutes=100, incident_at=70, seed=0)


def test_prometheus_exposition_parses_and_counts(log):
    families = {f.name: f for f in text_string_to_metric_families(monitoring.prometheus_text(log))}
    requests = families["llm_requests"].samples
    total = sum(s.value for s in requests if s.name == "llm_requests_total")
    errors = sum(
        s.value
        for s in requests
        if s.name == "llm_requests_total" and s.labels["status"] == "error"
    )
    assert total == len(log) and errors == sum(r["error"] for r in log)
    hist = families["llm_request_latency_seconds"].samples
    for model in {r["model"] for r in log}:
        mine = [r["latency_s"] for r in log if r["model"] == model]
        count = next(
            s.value for s in hist if s.name.endswith("_count") and s.labels["model"] == model
        )
        total_s = next(
            s.value for s in hist if s.name.endswith("_sum") and s.labels["model"] == model
        )
        le1 = next(
            s.value
            for s in hist
            if s.name.endswith("_bucket") and s.labels["model"] == model and s.labels["le"] == "1.0"
        )
        assert count == len(mine) and total_s == pytest.approx(sum(mine), rel=1e-9)
        assert le1 == sum(x <= 1.0 for x in mine)
    tokens = sum(s.value for s in families["llm_tokens"].samples if s.name == "llm_tokens_total")
    assert tokens == sum(r["prompt_tokens"] + r["completion_tokens"] for r in log)


def test_grafana_panels_query_exported_metrics(log):
    text = monitoring.prometheus_text(log)
    exported = {s.name for f in text_string_to_metric_families(text) for s in f.samples}
    dash = json.loads(json.dumps(monitoring.grafana_dashboard()))
    assert len(dash["panels"]) == 5
    for panel in dash["panels"]:
        names = set(re.findall(r"\bllm_[a-z_]+", panel["targets"][0]["expr"]))
        assert names and names <= exported, (panel["title"], names - exported)


def test_incident_detected_quickly_and_clean_traffic_is_quiet(log):
    alerts = monitoring.detect(monitoring.per_minute(log))
    assert alerts and all(a["minute"] >= 70 for a in alerts)
    assert min(a["minute"] for a in alerts) <= 73
    for seed in (1, 2, 3):
        clean = monitoring.simulate_requests(minutes=100, incident_at=None, seed=seed)
        assert monitoring.detect(monitoring.per_minute(clean)) == []
    calls = []
    manager = monitoring.AlertManager()
    manager.register("error_rate", lambda a: calls.append(a["minute"]) or "rollback")
    actions = manager.handle(alerts)
    manager.handle(alerts)  # the same incident again: no second call
    assert len(calls) == 1 and any(a["action"] == "rollback" for a in actions)


def test_monitor_writes_files(tmp_path):
    from ch22_llmops.labs import monitoring_lab

    res = monitoring_lab(tmp_path, minutes=60, incident_at=45)
    assert res["detection_delay_min"] is not None and 0 <= res["detection_delay_min"] <= 3
    assert (tmp_path / "metrics.prom").read_text().startswith("# HELP")
    assert (tmp_path / "monitoring.png").read_bytes()[:4] == b"\x89PNG"


def test_cost_accounting_budget_cache_routing():
    ledger = cost.CostLedger()
    assert ledger.record("a", "llmpath-default", 1_000_000, 500_000) == pytest.approx(0.4 + 0.4)
    ledger.record("b", "large-api", 1000, 1000)
    ledger.record("a", "llmpath-draft", 2000, 0)
    by_tenant, by_model = ledger.totals("tenant"), ledger.totals("model")
    assert sum(v["usd"] for v in by_tenant.values()) == pytest.approx(ledger.total_usd)
    assert by_tenant["a"]["requests"] == 2 and by_model["large-api"]["usd"] == pytest.approx(0.018)
    budget = cost.Budget(1.0)
    assert (
        budget.charge(0.6) == [0.5] and budget.charge(0.3) == [0.8] and budget.charge(0.15) == [1.0]
    )
    assert not budget.allows(0.01)
    cache = cost.ResponseCache(capacity=2)
    cache.put("Hello  World", 1)
    assert cache.get("hello world") == 1
    cache.put("b", 2)
    cache.put("c", 3)  # capacity 2: evicts the least recently used entry, "hello world"
    assert cache.get("hello world") is None and cache.get("b") == 2
    assert cache.hits == 2 and cache.misses == 1
    options = {
        "s": {"cost": 1, "quality": 0.6},
        "m": {"cost": 3, "quality": 0.8},
        "l": {"cost": 9, "quality": 0.9},
    }
    for floor in (0.5, 0.7, 0.85, 0.95):
        brute = min(
            [(v["cost"], k) for k, v in options.items() if v["quality"] >= floor],
            default=(None, None),
        )[1]
        assert cost.cheapest_meeting(options, floor) == brute


def test_cascade_meets_the_floor_cheaper_than_always_large():
    rng = np.random.default_rng(0)
    difficulty = rng.random(2000)
    conf = 1 - difficulty + rng.normal(0, 0.1, 2000)
    small_ok = difficulty < 0.6
    large_ok = difficulty < 0.95
    best = cost.cascade_threshold(conf, small_ok, large_ok, 1.0, 10.0, quality_floor=0.9)
    assert best["accuracy"] >= 0.9 and best["cost_per_request"] < 1.0 + 10.0
    assert 0 < best["escalated"] < 1


def test_fleet_cost_policies():
    demand = cost.diurnal_demand()
    fleet = cost.fleet_cost(demand)
    replicas = np.maximum(1, np.ceil(demand * 1.2 / 5.0))
    for cloud in fleet.values():
        assert cloud["gpu_hours"] == replicas.sum()
        assert cloud["autoscaled_spot"] < cloud["autoscaled"] < cloud["static_peak"]
    lab = cost.run_cost_lab()
    assert lab["math_check"] and lab["usd_saved_by_cache"] > 0 and lab["blocked_by_budget"] > 0


def test_terraform_bundled_passes_and_mutations_fail(tmp_path):
    result = iac.check_terraform()
    assert result["passed"] and result["resources"] == 8
    bad = tmp_path / "tf"
    shutil.copytree(iac.bundled_dir(), bad)
    main = (bad / "main.tf").read_text()
    main = main.replace("publicly_accessible     = false", "publicly_accessible     = true")
    main = main.replace('status = "Enabled"', 'status = "Suspended"')
    main = main.replace("region = var.region", "region = var.zone")
    (bad / "main.tf").write_text(main)
    failed = {f["rule"] for f in iac.check_terraform(bad)["findings"] if not f["ok"]}
    assert {"db-private", "bucket-versioned", "variable-declared", "variable-used"} <= failed
    (bad / "broken.tf").write_text('resource "x" {\n')
    with pytest.raises(UserError, match="not valid HCL"):
        iac.check_terraform(bad)


def test_workflow_template_passes_actionlint(tmp_path):
    path = workflow.write_workflow(tmp_path)
    assert workflow.actionlint(path)["ok"]
    broken = tmp_path / "broken.yml"
    broken.write_text(workflow.workflow_text().replace("needs: gate\n", "needs: gates\n"))
    lint = workflow.actionlint(broken)
    assert not lint["ok"] and "gates" in lint["output"]


def _fake_eval(nats, seq_len=10):
    nats = list(map(float, nats))
    return {
        "seq_len": seq_len,
        "loss": sum(nats) / (len(nats) * seq_len),
        "window_nats": nats,
        "window_bytes": [30.0] * len(nats),
    }


def test_gate_is_a_paired_non_inferiority_test():
    from ch22_llmops.gate import GatePolicy, decide

    rng = np.random.default_rng(0)
    champion = _fake_eval(rng.normal(40, 8, 50))  # windows differ a lot in difficulty
    noise = rng.normal(0, 0.05, 50)
    same = _fake_eval(np.array(champion["window_nats"]) + noise)
    worse = _fake_eval(np.array(champion["window_nats"]) * 1.02 + noise)  # +2 % loss
    better = _fake_eval(np.array(champion["window_nats"]) * 0.99 + noise)
    assert decide(same, champion).passed
    assert decide(better, champion).passed
    blocked = decide(worse, champion)
    assert not blocked.passed and blocked.upper_bound_rel > 0.005
    assert blocked.loss_diff == pytest.approx(worse["loss"] - champion["loss"], rel=1e-9)
    assert decide(worse, champion, GatePolicy(margin=0.03)).passed  # a looser margin
    assert not decide(same, champion, GatePolicy(max_loss=1.0)).passed  # absolute ceiling
    assert decide(same, None).reason == "no champion yet"
