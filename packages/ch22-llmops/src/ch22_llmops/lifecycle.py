"""The model lifecycle on MLflow: train, evaluate, log, register, alias, serve, roll back.

Everything goes through MLflow's own tracking and registry APIs, so the same code runs on the
embedded store (``sqlite:///...``, the default, under ``$LLMPATH_HOME``) and on a team's
``mlflow server`` (``http://host:port``):

- a *run* per candidate holds its parameters, held-out metrics, the Hugging Face model folder
  (artefact ``model/``), the evaluation's per-window numbers (``eval.json``, what the gate needs
  to compare two models pair by pair) and a generated model card (``model_card.md``);
- the registered model gets one *version* per candidate; the aliases ``champion`` and
  ``challenger`` say which version serves and which is under review (MLflow 2.9+ aliases
  replace the deprecated stages);
- promotion moves ``champion`` and records the version it replaced in the new version's tag
  ``llmpath.previous_champion``, which is what :func:`rollback` reads;
- serving resolves ``models:/NAME@champion``, downloads that folder and loads it.
"""

from __future__ import annotations

import json
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from llmpath_core import UserError

EXPERIMENT = "llmpath-ch22-lifecycle"
DEFAULT_MODEL_NAME = "llmpath-default"
CHAMPION, CHALLENGER = "champion", "challenger"
PREVIOUS_TAG = "llmpath.previous_champion"


def default_tracking_uri(root: str | Path | None = None) -> str:
    """``sqlite:///<root>/mlflow.db``; ``root`` defaults to ``$LLMPATH_HOME/ch22-llmops``."""
    from llmpath_core import artefact_path

    folder = Path(root) if root is not None else artefact_path("ch22-llmops", "mlflow.db").parent
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(folder / 'mlflow.db').resolve()}"


def check_tracking_uri(uri: str, timeout: float = 5.0) -> None:
    """Fail with one clear line if the tracking store cannot be used."""
    if uri.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout) as reply:
                if reply.status != 200:
                    raise UserError(f"MLflow server at {uri} answered /health with {reply.status}")
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise UserError(
                f"cannot reach the MLflow tracking server at {uri} ({reason}): start it with "
                "`mlflow server --backend-store-uri sqlite:///mlflow.db` or use a sqlite:/// URI"
            ) from None
    elif uri.startswith("sqlite:///"):
        parent = Path(uri.removeprefix("sqlite:///")).parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create the sqlite store's folder {parent}: {exc}") from None
    elif not uri.startswith(("postgresql://", "mysql://", "mssql://")):
        raise UserError(f"unsupported tracking URI {uri!r}: use sqlite:///PATH or http(s)://HOST")


def connect(uri: str):
    """Point MLflow at ``uri`` (checked first) and return an ``MlflowClient``."""
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    check_tracking_uri(uri)
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


def experiment_id(client, uri: str, name: str = EXPERIMENT) -> str:
    """The experiment's id, created if needed (artefacts next to a sqlite store, not in cwd)."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = None
    if uri.startswith("sqlite:///"):
        location = (Path(uri.removeprefix("sqlite:///")).parent / "artifacts").resolve().as_uri()
    return client.create_experiment(name, artifact_location=location)


def log_candidate(
    client,
    uri: str,
    folder: str | Path,
    evaluation: dict[str, Any],
    *,
    role: str,
    params: dict[str, Any] | None = None,
) -> str:
    """Log a model folder, its evaluation and a model card as one MLflow run; return the run id."""
    import mlflow

    from llmpath_core.models import summary

    exp = experiment_id(client, uri)
    with mlflow.start_run(experiment_id=exp, run_name=role) as run:
        mlflow.set_tags({"llmpath.role": role, "llmpath.chapter": "ch22-llmops"})
        mlflow.log_params({k: str(v)[:250] for k, v in (params or {}).items()})
        metrics = summary(evaluation)
        mlflow.log_metrics(
            {f"eval_{k}": float(v) for k, v in metrics.items() if isinstance(v, (int, float))}
        )
        mlflow.log_artifacts(str(folder), artifact_path="model")
        mlflow.log_dict(evaluation, "eval.json")
        run_id = run.info.run_id
    card = model_card(client, run_id)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model_card.md"
        path.write_text(card)
        client.log_artifact(run_id, str(path))
    return run_id


def model_card(client, run_id: str, name: str | None = None, version: str | None = None) -> str:
    """A Markdown model card generated from the run's parameters, metrics and tags."""
    run = client.get_run(run_id)
    data = run.data
    lines = [
        f"# Model card: {name or 'candidate'}" + (f" v{version}" if version else ""),
        "",
        f"- MLflow run: `{run_id}` (experiment {run.info.experiment_id})",
        f"- Role: {data.tags.get('llmpath.role', '?')}",
        "- Base: llmpath's default model (Llama, 3.4M parameters, byte-level BPE)",
        "- Intended use: teaching LLMOps; not for production text generation",
        "",
        "## Evaluation (held-out `mix:validation`, fixed windows)",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    for key in sorted(data.metrics):
        lines.append(f"| {key} | {data.metrics[key]:.4f} |")
    lines += ["", "## Parameters", "", "| parameter | value |", "|---|---|"]
    for key in sorted(data.params):
        lines.append(f"| {key} | {data.params[key]} |")
    return "\n".join(lines) + "\n"


def register(client, name: str, run_id: str, description: str | None = None) -> str:
    """Register the run's ``model/`` folder as a new version of ``name``; return the version."""
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name, description="llmpath ch22 lifecycle")
    version = client.create_model_version(
        name, source=f"runs:/{run_id}/model", run_id=run_id, description=description
    )
    return str(version.version)


def alias_version(client, name: str, alias: str) -> str | None:
    """The version ``alias`` points at, or None."""
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def run_evaluation(client, run_id: str) -> dict[str, Any]:
    """The ``eval.json`` a run logged (per-window numbers included)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = client.download_artifacts(run_id, "eval.json", dst_path=tmp)
        return json.loads(Path(path).read_text())


def promote(client, name: str, version: str) -> str | None:
    """Make ``version`` the champion; remember the one it replaces. Returns the old champion."""
    previous = alias_version(client, name, CHAMPION)
    if previous is not None and previous != version:
        client.set_model_version_tag(name, version, PREVIOUS_TAG, previous)
    client.set_registered_model_alias(name, CHAMPION, version)
    if alias_version(client, name, CHALLENGER) == version:
        client.delete_registered_model_alias(name, CHALLENGER)
    client.set_model_version_tag(name, version, "llmpath.gate", "promoted")
    return previous


def rollback(client, name: str) -> dict[str, str]:
    """Point ``champion`` back at the version the current champion replaced."""
    current = alias_version(client, name, CHAMPION)
    if current is None:
        raise UserError(f"registered model {name!r} has no champion to roll back")
    previous = client.get_model_version(name, current).tags.get(PREVIOUS_TAG)
    if previous is None:
        raise UserError(f"champion v{current} of {name!r} replaced no earlier version")
    client.set_registered_model_alias(name, CHAMPION, previous)
    client.set_model_version_tag(name, current, "llmpath.gate", "rolled-back")
    return {"from_version": int(current), "to_version": int(previous)}


def download_version(client, name: str, alias: str, dst: str | Path) -> Path:
    """Download the model folder behind ``models:/name@alias`` into ``dst``."""
    version = client.get_model_version_by_alias(name, alias)
    return Path(client.download_artifacts(version.run_id, "model", dst_path=str(dst)))
