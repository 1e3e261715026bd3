"""The MLflow lifecycle on a sqlite store and on a live `mlflow server` started by conftest."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json

import pytest

from ch22_llmops import candidates
from ch22_llmops.cli import app
from llmpath_core import default_model_path, load_default_model
from llmpath_core.bench import run_json
from llmpath_core.cli import run_app


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run(args) -> tuple[int, dict]:
    """Run the app in process; return (exit code, the --json object)."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), pytest.raises(SystemExit) as exc:
        run_app(app, [*args, "--json"])
    return exc.value.code, json.loads(buffer.getvalue().strip().splitlines()[-1])


def test_lifecycle_cli_on_sqlite_roundtrips_through_mlflow(tmp_path):
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    out, _ = run_json(
        app, ["lifecycle", "--tracking-uri", uri, "--train-steps", "2", "--model-name", "ch22-test"]
    )
    name = out["model_name"]
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    champion = client.get_model_version_by_alias(name, "champion")
    assert (
        str(champion.version) == str(out["champion_version"]) and champion.run_id == out["run_id"]
    )
    assert isinstance(out["champion_version"], int)
    steps = {s["role"]: s for s in out["steps"]}
    assert [s["version"] for s in out["steps"]] == [1, 2, 3]
    assert steps["base"]["gate"] == "promoted"
    assert steps["degraded"]["gate"] == "blocked"  # the gate blocks a worse challenger
    assert steps["degraded"]["loss"] > steps["base"]["loss"] * 1.02
    assert client.get_model_version(name, "2").tags["llmpath.gate"] == "blocked"
    if steps["finetuned"]["gate"] == "promoted":  # then the drill rolls back to v1
        assert out["rollback"] == {"from_version": 3, "to_version": 1}
        assert client.get_model_version(name, "3").tags["llmpath.gate"] == "rolled-back"
    assert out["champion_version"] == 1
    # runs, metrics, artefacts and the model card round-trip
    run = client.get_run(steps["base"]["run_id"])
    assert run.data.metrics["eval_loss"] == pytest.approx(steps["base"]["loss"], rel=1e-12)
    assert run.data.tags["llmpath.role"] == "base"
    assert {"model", "eval.json", "model_card.md"} <= {
        a.path for a in client.list_artifacts(run.info.run_id)
    }
    client.download_artifacts(run.info.run_id, "model", str(tmp_path / "dl"))
    assert _sha256(tmp_path / "dl" / "model" / "model.safetensors") == _sha256(
        default_model_path() / "model.safetensors"
    )
    assert f"{steps['base']['loss']:.4f}" in client.get_model_version(name, "1").description
    assert out["served"]["loss"] == pytest.approx(out["served"]["logged_loss"], abs=1e-6)
    # v1 replaced nothing: a further rollback is a clean error
    code, err = _run(["rollback", "--tracking-uri", uri, "--model-name", name])
    assert code == 2 and "replaced no earlier version" in err["error"]


def test_gate_and_rollback_on_live_mlflow_server(mlflow_server, tmp_path):
    import mlflow

    name = "ch22-live"
    code, first = _run(["gate", "--tracking-uri", mlflow_server, "--model-name", name])
    assert code == 0 and first["gate"] == "promoted" and first["champion_version"] == 1

    model, tokenizer = load_default_model()
    candidates.degrade(model, noise=0.3)
    bad = candidates.save(model, tokenizer, tmp_path / "degraded")
    code, worse = _run(
        ["gate", "--candidate", str(bad), "--tracking-uri", mlflow_server, "--model-name", name]
    )
    assert code == 1 and worse["gate"] == "blocked" and worse["champion_version"] == 1

    code, again = _run(["gate", "--tracking-uri", mlflow_server, "--model-name", name])
    assert code == 0 and again["gate"] == "promoted" and again["champion_version"] == 3
    code, back = _run(["rollback", "--tracking-uri", mlflow_server, "--model-name", name])
    assert code == 0 and back["champion_version"] == 1

    client = mlflow.MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)
    assert str(client.get_model_version_by_alias(name, "champion").version) == "1"
    assert client.get_model_version(name, "2").tags["llmpath.gate"] == "blocked"
    assert client.get_model_version(name, "3").tags["llmpath.gate"] == "rolled-back"
    run = client.get_run(first["run_id"])
    assert run.data.metrics["eval_loss"] == pytest.approx(first["loss"], rel=1e-12)
    client.download_artifacts(first["run_id"], "model", str(tmp_path / "dl"))
    assert _sha256(tmp_path / "dl" / "model" / "model.safetensors") == _sha256(
        default_model_path() / "model.safetensors"
    )
    path = client.download_artifacts(first["run_id"], "eval.json")
    with open(path) as f:
        evaluation = json.load(f)
    assert evaluation["windows"] == 24 and len(evaluation["window_nats"]) == 24


def test_unreachable_tracking_server_is_one_line_exit_2(cli):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = cli("lifecycle", "--tracking-uri", f"http://127.0.0.1:{port}", "--json")
    assert proc.returncode == 2
    assert "cannot reach the MLflow tracking server" in proc.stderr
    assert "Traceback" not in proc.stderr and json.loads(proc.stdout)["error"]
