"""Durable workflows on SQLite: resume after a crash, retries with backoff, approval gates.

A :class:`Workflow` is a list of :class:`Step` s. :class:`Engine` runs a workflow *run* and keeps
everything it needs to continue in one SQLite file:

- ``runs``: id, workflow, status (running, waiting_approval, done, failed, rejected), input;
- ``steps``: per step its status, attempts and JSON output; a step marked done is never run
  again, and its output is what later steps read;
- ``effects``: the idempotency ledger. A step's side effect goes through ``ctx.effect(key, fn)``:
  the first time it runs ``fn`` and stores the result in the same database; after a crash in
  the middle of the step, the re-run step finds the key and gets the stored result back instead
  of acting twice. Steps are therefore *effectively once*: every effect happens exactly once;
- ``approvals``: a gate before a step stops the run (status ``waiting_approval``) until a human
  approves (``ch19-agents workflow approve --id RUN``) or rejects;
- ``events``: an append-only log (step started, retried, crashed, done, approved...).

A failing step is retried up to ``retries`` times, sleeping ``backoff_s * 2**(attempt-1)``
(exponential backoff) between attempts. ``crash`` injects a crash for the tests and the demo:
``"after:STEP"`` (just after STEP is committed) or ``"during:STEP"`` (after its effect is
recorded, before the step is marked done); ``hard=True`` ends the process with ``os._exit``, a
real crash, otherwise :class:`InjectedCrash` is raised.

Postgres is not supported here (no Postgres driver in the workspace): the SQL is plain enough
that swapping ``sqlite3`` for a DB-API driver is the change.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmpath_core import UserError

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (id TEXT PRIMARY KEY, workflow TEXT, status TEXT, input TEXT,
    waiting_on TEXT, created REAL, updated REAL);
CREATE TABLE IF NOT EXISTS steps (run_id TEXT, name TEXT, status TEXT, attempts INTEGER,
    output TEXT, error TEXT, PRIMARY KEY (run_id, name));
CREATE TABLE IF NOT EXISTS effects (key TEXT PRIMARY KEY, run_id TEXT, step TEXT, result TEXT,
    at REAL);
CREATE TABLE IF NOT EXISTS approvals (run_id TEXT, step TEXT, decision TEXT, by TEXT, at REAL,
    PRIMARY KEY (run_id, step));
CREATE TABLE IF NOT EXISTS events (run_id TEXT, at REAL, kind TEXT, step TEXT, detail TEXT);
"""


class InjectedCrash(RuntimeError):
    """Raised where an injected crash happens (``hard=False``)."""


@dataclass
class StepContext:
    """What a step sees: the run's input, earlier outputs, the attempt number, and effects."""

    engine: Engine
    run_id: str
    step: str
    input: dict[str, Any]
    outputs: dict[str, Any]
    attempt: int

    def effect(self, key: str, fn: Callable[[], Any]) -> Any:
        """Run side effect ``fn`` once per (run, step, key); later calls return its result."""
        full = f"{self.run_id}/{self.step}/{key}"
        row = self.engine.db.execute("SELECT result FROM effects WHERE key = ?", (full,)).fetchone()
        if row:
            self.engine._event(self.run_id, "effect_reused", self.step, key)
            return json.loads(row[0])
        result = fn()
        with self.engine.db:
            self.engine.db.execute(
                "INSERT INTO effects VALUES (?, ?, ?, ?, ?)",
                (full, self.run_id, self.step, json.dumps(result), time.time()),
            )
        self.engine._event(self.run_id, "effect", self.step, key)
        self.engine._maybe_crash(self.run_id, "during", self.step)
        return result


@dataclass
class Step:
    """One step: ``fn(ctx) -> JSON-able output``; ``approval`` puts a human gate before it."""

    name: str
    fn: Callable[[StepContext], Any]
    retries: int = 0
    backoff_s: float = 0.05
    approval: bool = False


@dataclass
class Workflow:
    name: str
    steps: list[Step]


@dataclass
class RunStatus:
    id: str
    workflow: str
    status: str
    waiting_on: str | None
    steps: list[dict[str, Any]]
    outputs: dict[str, Any]


@dataclass
class Engine:
    """Runs :class:`Workflow` s durably in the SQLite file ``path``."""

    path: str | Path
    workflows: dict[str, Workflow]
    sleep: Callable[[float], None] = time.sleep
    crash: str | None = None
    hard: bool = False
    db: sqlite3.Connection = field(init=False)

    def __post_init__(self) -> None:
        self.db = sqlite3.connect(str(self.path), isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)

    # ------------------------------------------------------------------ the public API

    def start(self, workflow: str, input: dict[str, Any] | None = None, run_id=None) -> RunStatus:
        """Create a run of ``workflow`` and run it until done, failed or waiting for approval."""
        if workflow not in self.workflows:
            raise UserError(f"unknown workflow {workflow!r}: known are {sorted(self.workflows)}")
        run_id = run_id or uuid.uuid4().hex[:12]
        now = time.time()
        with self.db:
            self.db.execute(
                "INSERT INTO runs VALUES (?, ?, 'running', ?, NULL, ?, ?)",
                (run_id, workflow, json.dumps(input or {}), now, now),
            )
            for step in self.workflows[workflow].steps:
                self.db.execute(
                    "INSERT INTO steps VALUES (?, ?, 'pending', 0, NULL, NULL)", (run_id, step.name)
                )
        self._event(run_id, "started", None, workflow)
        return self.resume(run_id)

    def resume(self, run_id: str) -> RunStatus:
        """Continue a run from its last committed step (after a crash, an approval, a retry)."""
        run = self._run(run_id)
        if run["status"] in ("done", "rejected"):
            return self.status(run_id)
        wf = self.workflows[run["workflow"]]
        self._set_run(run_id, "running", None)
        for step in wf.steps:
            row = self.db.execute(
                "SELECT status, attempts FROM steps WHERE run_id = ? AND name = ?",
                (run_id, step.name),
            ).fetchone()
            if row[0] == "done":
                continue
            if step.approval:
                decision = self._decision(run_id, step.name)
                if decision is None:
                    self._set_run(run_id, "waiting_approval", step.name)
                    self._event(run_id, "waiting_approval", step.name, "")
                    return self.status(run_id)
                if decision == "rejected":
                    self._set_run(run_id, "rejected", step.name)
                    return self.status(run_id)
            if not self._run_step(run_id, run, step, row[1]):
                self._set_run(run_id, "failed", step.name)
                return self.status(run_id)
            self._maybe_crash(run_id, "after", step.name)
        self._set_run(run_id, "done", None)
        self._event(run_id, "done", None, "")
        return self.status(run_id)

    def approve(self, run_id: str, step: str | None = None, by: str = "human", ok: bool = True):
        """Record a human decision for the gate the run waits on (or ``step``); then resume."""
        run = self._run(run_id)
        step = step or run["waiting_on"]
        if step is None or run["status"] != "waiting_approval":
            raise UserError(f"run {run_id} is not waiting for an approval (it is {run['status']})")
        decision = "approved" if ok else "rejected"
        with self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO approvals VALUES (?, ?, ?, ?, ?)",
                (run_id, step, decision, by, time.time()),
            )
        self._event(run_id, decision, step, by)
        return self.resume(run_id)

    def status(self, run_id: str) -> RunStatus:
        run = self._run(run_id)
        rows = self.db.execute(
            "SELECT name, status, attempts, output, error FROM steps WHERE run_id = ? "
            "ORDER BY rowid",
            (run_id,),
        ).fetchall()
        steps = [{"name": n, "status": s, "attempts": a, "error": e} for n, s, a, _o, e in rows]
        outputs = {n: json.loads(o) for n, s, _a, o, _e in rows if s == "done" and o}
        return RunStatus(run_id, run["workflow"], run["status"], run["waiting_on"], steps, outputs)

    def runs(self) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT id, workflow, status, waiting_on FROM runs ORDER BY created")
        return [{"id": i, "workflow": w, "status": s, "waiting_on": o} for i, w, s, o in rows]

    def events(self, run_id: str) -> list[tuple[str, str | None, str]]:
        rows = self.db.execute(
            "SELECT kind, step, detail FROM events WHERE run_id = ? ORDER BY rowid", (run_id,)
        )
        return list(rows)

    def effects(self, run_id: str) -> list[tuple[str, Any]]:
        rows = self.db.execute(
            "SELECT key, result FROM effects WHERE run_id = ? ORDER BY at", (run_id,)
        )
        return [(k, json.loads(r)) for k, r in rows]

    # ------------------------------------------------------------------ internals

    def _run_step(self, run_id: str, run: dict, step: Step, attempts: int) -> bool:
        outputs = self.status(run_id).outputs
        while True:
            attempts += 1
            with self.db:
                self.db.execute(
                    "UPDATE steps SET status = 'running', attempts = ? WHERE run_id = ? AND "
                    "name = ?",
                    (attempts, run_id, step.name),
                )
            self._event(run_id, "step_started", step.name, str(attempts))
            ctx = StepContext(self, run_id, step.name, run["input"], outputs, attempts)
            try:
                output = step.fn(ctx)
            except InjectedCrash:
                raise
            except Exception as exc:  # a failing step: retry with backoff, or give up
                error = f"{type(exc).__name__}: {exc}"
                with self.db:
                    self.db.execute(
                        "UPDATE steps SET status = 'error', error = ? "
                        "WHERE run_id = ? AND name = ?",
                        (error, run_id, step.name),
                    )
                if attempts > step.retries:
                    self._event(run_id, "step_failed", step.name, error)
                    return False
                delay = step.backoff_s * 2 ** (attempts - 1)
                self._event(run_id, "retry", step.name, f"{error}; sleeping {delay:g} s")
                self.sleep(delay)
                continue
            with self.db:
                self.db.execute(
                    "UPDATE steps SET status = 'done', output = ?, error = NULL WHERE run_id = ? "
                    "AND name = ?",
                    (json.dumps(output), run_id, step.name),
                )
            self._event(run_id, "step_done", step.name, "")
            return True

    def _maybe_crash(self, run_id: str, where: str, step: str) -> None:
        if self.crash == f"{where}:{step}":
            self.crash = None
            self._event(run_id, "crash", step, where)
            if self.hard:
                os._exit(3)
            raise InjectedCrash(f"injected crash {where} step {step}")

    def _run(self, run_id: str) -> dict[str, Any]:
        row = self.db.execute(
            "SELECT workflow, status, input, waiting_on FROM runs WHERE id = ?", (run_id,)
        ).fetchone()
        if row is None:
            raise UserError(f"unknown workflow run id {run_id!r} in {self.path}")
        if row[0] not in self.workflows:
            raise UserError(f"run {run_id} is of workflow {row[0]!r}, which is not defined here")
        return {
            "workflow": row[0],
            "status": row[1],
            "input": json.loads(row[2]),
            "waiting_on": row[3],
        }

    def _set_run(self, run_id: str, status: str, waiting_on: str | None) -> None:
        with self.db:
            self.db.execute(
                "UPDATE runs SET status = ?, waiting_on = ?, updated = ? WHERE id = ?",
                (status, waiting_on, time.time(), run_id),
            )

    def _decision(self, run_id: str, step: str) -> str | None:
        row = self.db.execute(
            "SELECT decision FROM approvals WHERE run_id = ? AND step = ?", (run_id, step)
        ).fetchone()
        return row[0] if row else None

    def _event(self, run_id: str, kind: str, step: str | None, detail: str) -> None:
        with self.db:
            self.db.execute(
                "INSERT INTO events VALUES (?, ?, ?, ?, ?)",
                (run_id, time.time(), kind, step, detail),
            )


# --------------------------------------------------------------------------- the lab's workflow


def _flaky(ctx: StepContext, fails: int) -> None:
    """A service that answers 'unavailable' to the first ``fails`` attempts of each run."""
    if ctx.attempt <= fails:
        raise ConnectionError(f"service unavailable (attempt {ctx.attempt})")


def evening_workflow(fails: int = 1) -> Workflow:
    """Smart-home "guest arrives" flow: forecast, plan, heat, lights, gate, unlock, notify.

    ``heat`` talks to a flaky thermostat service (retried with backoff); ``unlock`` waits for a
    human approval. Every device action is an idempotent effect.
    """

    def forecast(ctx: StepContext) -> dict:
        city = ctx.input.get("city", "Oslo")
        h = zlib.crc32(city.lower().encode())
        return {"city": city, "outside_c": round(-5 + (h % 200) / 10, 1)}

    def plan(ctx: StepContext) -> dict:
        outside = ctx.outputs["forecast"]["outside_c"]
        target = 22.0 if outside < 10 else 20.0
        return {"target_c": target, "rooms": ["living room", "kitchen"]}

    def heat(ctx: StepContext) -> dict:
        _flaky(ctx, fails)
        target = ctx.outputs["plan"]["target_c"]
        return ctx.effect("thermostat", lambda: {"living room": target})

    def lights(ctx: StepContext) -> dict:
        rooms = ctx.outputs["plan"]["rooms"]
        return ctx.effect("lights", lambda: {r: "on" for r in rooms})

    def unlock(ctx: StepContext) -> dict:
        return ctx.effect("front_door", lambda: {"front": "unlocked"})

    def notify(ctx: StepContext) -> dict:
        guest = ctx.input.get("guest", "guest")
        return ctx.effect("message", lambda: {"sent": f"Welcome {guest}, the door is open."})

    return Workflow(
        "evening",
        [
            Step("forecast", forecast),
            Step("plan", plan),
            Step("heat", heat, retries=3, backoff_s=0.05),
            Step("lights", lights),
            Step("unlock", unlock, approval=True),
            Step("notify", notify),
        ],
    )


WORKFLOWS: dict[str, Callable[[], Workflow]] = {"evening": evening_workflow}


def default_engine(path: str | Path, **kwargs: Any) -> Engine:
    """An engine on ``path`` knowing the lab's workflows."""
    return Engine(path, {name: make() for name, make in WORKFLOWS.items()}, **kwargs)
