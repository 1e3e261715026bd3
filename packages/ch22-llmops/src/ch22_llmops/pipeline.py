"""The whole lifecycle on one tracking URI, and the gate runner that CI calls.

:func:`gate_candidate` is one step of a release pipeline: evaluate a model folder, log and
register it, mark it ``challenger``, compare it with the champion (:mod:`ch22_llmops.gate`)
and either promote it or block it. :func:`run_lifecycle` strings the steps together on the
default model: the base model becomes the champion, a degraded copy is blocked, a short
fine-tune is promoted, the champion is served from the registry by its alias, and a rollback
drill puts the previous champion back.
"""

from __future__ import annotations

import copy
import tempfile
import time
from pathlib import Path
from typing import Any

from ch22_llmops import candidates, lifecycle
from ch22_llmops.gate import GatePolicy, decide


def gate_candidate(
    client,
    uri: str,
    name: str,
    folder: str | Path,
    *,
    role: str,
    evaluation: dict[str, Any] | None = None,
    policy: GatePolicy | None = None,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Evaluate, log, register and gate one candidate folder; promote it if the gate passes."""
    champion = lifecycle.alias_version(client, name, lifecycle.CHAMPION)
    champion_eval = None
    if champion is not None:
        champion_run = client.get_model_version(name, champion).run_id
        champion_eval = lifecycle.run_evaluation(client, champion_run)
    if evaluation is None:
        # score the candidate on exactly the champion's windows, so the gate can pair them
        same = champion_eval or {}
        evaluation = candidates.evaluate_folder(
            folder, max_windows=same.get("windows", 24), seq_len=same.get("seq_len", 128)
        )
    run_id = lifecycle.log_candidate(client, uri, folder, evaluation, role=role, params=params)
    version = lifecycle.register(client, name, run_id, description=f"{role} candidate")
    if champion is not None:
        client.set_registered_model_alias(name, lifecycle.CHALLENGER, version)
    decision = decide(evaluation, champion_eval, policy)
    client.update_model_version(name, version, lifecycle.model_card(client, run_id, name, version))
    if decision.passed:
        lifecycle.promote(client, name, version)
    else:
        client.set_model_version_tag(name, version, "llmpath.gate", "blocked")
        client.delete_registered_model_alias(name, lifecycle.CHALLENGER)
    return {
        "role": role,
        "version": int(version),
        "run_id": run_id,
        "loss": evaluation["loss"],
        "bits_per_byte": evaluation["bits_per_byte"],
        "gate": "promoted" if decision.passed else "blocked",
        "reason": decision.reason,
        "champion_before": None if champion is None else int(champion),
    }


def serve_champion(client, name: str) -> dict[str, Any]:
    """Resolve ``models:/name@champion``, load it and generate; re-check its logged loss."""
    import torch

    version = lifecycle.alias_version(client, name, lifecycle.CHAMPION)
    with tempfile.TemporaryDirectory() as tmp:
        folder = lifecycle.download_version(client, name, lifecycle.CHAMPION, tmp)
        model, tokenizer = candidates.load_folder(folder)
        evaluation = candidates.evaluate(model, tokenizer)
        prompt = "Once upon a time"
        ids = tokenizer(prompt, return_tensors="pt").input_ids
        with torch.no_grad():
            out = model.generate(ids, max_new_tokens=24, do_sample=False, pad_token_id=0)
        text = tokenizer.decode(out[0], skip_special_tokens=True)
    logged = client.get_run(client.get_model_version(name, version).run_id).data.metrics
    return {
        "version": int(version),
        "loss": evaluation["loss"],
        "logged_loss": logged["eval_loss"],
        "sample": text,
    }


def run_lifecycle(
    uri: str,
    name: str = lifecycle.DEFAULT_MODEL_NAME,
    *,
    train_steps: int = 12,
    noise: float = 0.3,
    rollback_drill: bool = True,
    policy: GatePolicy | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Base -> champion, degraded challenger blocked, fine-tune gated, serve, roll back."""
    from llmpath_core import default_model_path, load_default_model

    started = time.perf_counter()
    client = lifecycle.connect(uri)
    model, tokenizer = load_default_model()
    steps = []
    with tempfile.TemporaryDirectory() as tmp:
        base_eval = candidates.evaluate(model, tokenizer)
        steps.append(
            gate_candidate(
                client,
                uri,
                name,
                default_model_path(),
                role="base",
                evaluation=base_eval,
                policy=policy,
                params={"source": "llmpath default model"},
            )
        )
        broken = copy.deepcopy(model)
        candidates.degrade(broken, noise=noise, seed=seed)
        folder = candidates.save(broken, tokenizer, Path(tmp) / "degraded")
        steps.append(
            gate_candidate(
                client,
                uri,
                name,
                folder,
                role="degraded",
                evaluation=candidates.evaluate(broken, tokenizer),
                policy=policy,
                params={"source": "default + weight noise", "noise": noise},
            )
        )
        del broken
        tuned = copy.deepcopy(model)
        losses = candidates.fine_tune(tuned, tokenizer, steps=train_steps, seed=seed)
        folder = candidates.save(tuned, tokenizer, Path(tmp) / "finetuned")
        steps.append(
            gate_candidate(
                client,
                uri,
                name,
                folder,
                role="finetuned",
                evaluation=candidates.evaluate(tuned, tokenizer),
                policy=policy,
                params={
                    "source": "default + fine-tune",
                    "steps": train_steps,
                    "lr": 1e-4,
                    "train_loss_last": round(losses[-1], 4) if losses else None,
                },
            )
        )
    served = serve_champion(client, name)
    rolled = lifecycle.rollback(client, name) if rollback_drill and _promoted_twice(steps) else None
    champion = lifecycle.alias_version(client, name, lifecycle.CHAMPION)
    champion_mv = client.get_model_version(name, champion)
    return {
        "model_name": name,
        "champion_version": int(champion),
        "run_id": champion_mv.run_id,
        "tracking_uri": uri,
        "steps": steps,
        "served": served,
        "rollback": rolled,
        "seconds": time.perf_counter() - started,
    }


def _promoted_twice(steps: list[dict[str, Any]]) -> bool:
    """A rollback needs a champion that replaced an earlier one in this run."""
    return sum(s["gate"] == "promoted" for s in steps) >= 2 and steps[-1]["gate"] == "promoted"
