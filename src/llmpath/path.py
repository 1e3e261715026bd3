"""A resumable pipeline of stages, each a chapter run through its console script.

A :class:`Stage` names the earlier stages whose artefacts it reads and a function that runs
commands and returns its result (with a one-line ``headline``). :class:`Pipeline` runs the stages
in order under an output folder ``DIR``:

- ``DIR/NAME/`` is the stage's artefact, written atomically (``llmpath_core.atomic_dir``): a failed
  stage leaves the previous good artefact, or nothing, never half a folder;
- ``DIR/records/NAME.json`` is the stage record, written atomically after the artefact: the key
  (a hash of the stage's parameters and its inputs' artefact hashes), the commands run, wall time,
  peak memory (the largest resident set of any of its processes) and the result;
- ``DIR/work/NAME/`` is scratch that survives a crash (checkpoints), so a stage can resume;
- ``DIR/logs/NAME.log`` holds every command's stderr.

A rerun skips a stage whose record has the same key and whose artefact still hashes the same;
``from_stage`` reruns that stage and everything after it. A stage that fails raises
:class:`StageFailed`: one line naming the stage and its log; earlier artefacts stay as they were.
Like ``make``, but the key is content (sha256), not timestamps.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmpath_core.errors import UserError
from llmpath_core.io import atomic_dir, write_json


class StageFailed(UserError):
    """A stage's command failed; the message names the stage and its log file."""


@dataclass
class Stage:
    """One step of the pipeline.

    ``run(ctx)`` writes the artefact into ``ctx.out`` and returns the result dict (JSON-able, with
    a ``headline`` string). ``inputs`` are names of earlier stages whose artefacts it reads
    (``ctx.inputs[name]``); ``params`` enter the stage's key, so changing them reruns it.
    """

    name: str
    run: Callable[[StageContext], dict[str, Any]]
    inputs: Sequence[str] = ()
    params: dict[str, Any] = field(default_factory=dict)
    what: str = ""


@dataclass
class StageContext:
    """What a running stage sees: folders, its inputs' artefacts, and a command runner."""

    stage: Stage
    out: Path
    work: Path
    log_file: Path
    inputs: dict[str, Path]
    records: dict[str, dict[str, Any]]
    commands: list[list[str]] = field(default_factory=list)
    peak_rss_kb: int = 0
    _servers: list[subprocess.Popen] = field(default_factory=list)

    @property
    def params(self) -> dict[str, Any]:
        return self.stage.params

    def stage_inputs_hash(self) -> dict[str, str]:
        """The artefact hashes of this stage's inputs."""
        return {n: self.records[n]["artefact_sha256"] for n in self.stage.inputs}

    def result(self, name: str) -> dict[str, Any]:
        """The result dict of an earlier stage (from its record)."""
        return self.records[name]["result"]

    def _log_header(self, argv: list[str]) -> None:
        with self.log_file.open("a") as log:
            log.write(f"\n$ {' '.join(argv)}\n")

    def run_json(self, argv: Sequence[str], *, check: bool = True) -> dict[str, Any]:
        """Run a command whose stdout is one JSON object (``--json``); stderr goes to the log.

        A non-zero exit fails the stage, unless ``check=False`` (a command whose exit code is a
        verdict, like a gate): then the result gets ``returncode``.
        """
        argv = [resolve_script(argv[0]), *map(str, argv[1:])]
        self.commands.append(argv)
        self._log_header(argv)
        with self.log_file.open("a") as log:
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, text=True)
            stdout = proc.stdout.read() if proc.stdout else ""
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            self.peak_rss_kb = max(self.peak_rss_kb, int(usage.ru_maxrss))
            if stdout.strip():
                log.write(f"[stdout] {stdout.strip()[:4000]}\n")
        if proc.returncode != 0 and check:
            raise StageFailed(
                f"stage {self.stage.name} failed: {Path(argv[0]).name} exited with "
                f"{proc.returncode}; see {self.log_file}"
            )
        try:
            result = json.loads(stdout)
            return result if check else {**result, "returncode": proc.returncode}
        except json.JSONDecodeError as exc:
            raise StageFailed(
                f"stage {self.stage.name} failed: {Path(argv[0]).name} printed no JSON result; "
                f"see {self.log_file}"
            ) from exc

    def start_server(self, argv: Sequence[str], port: int, *, timeout: float = 180.0) -> str:
        """Start a server in the background and wait until it accepts connections on ``port``.

        Returns ``http://127.0.0.1:PORT``; the server is stopped when the stage ends.
        """
        argv = [resolve_script(argv[0]), *map(str, argv[1:])]
        self.commands.append(argv)
        self._log_header(argv)
        log = self.log_file.open("a")
        proc = subprocess.Popen(argv, stdout=log, stderr=log, start_new_session=True)
        log.close()
        self._servers.append(proc)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise StageFailed(
                    f"stage {self.stage.name} failed: {Path(argv[0]).name} exited with "
                    f"{proc.returncode} while starting; see {self.log_file}"
                )
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return f"http://127.0.0.1:{port}"
            except OSError:
                time.sleep(0.5)
        raise StageFailed(
            f"stage {self.stage.name} failed: {Path(argv[0]).name} did not listen on port {port} "
            f"within {timeout:.0f} s; see {self.log_file}"
        )

    def stop_servers(self) -> None:
        """Stop the stage's servers (SIGTERM to their process group, then SIGKILL)."""
        for proc in reversed(self._servers):
            if proc.poll() is None:
                self.peak_rss_kb = max(self.peak_rss_kb, _peak_rss_kb(proc.pid))
                with _quiet():
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    with _quiet():
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        self._servers.clear()


class _quiet:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return exc[0] is not None and issubclass(exc[0], ProcessLookupError)  # type: ignore[arg-type]


def _peak_rss_kb(pid: int) -> int:
    """VmHWM of a live process (Linux), 0 where unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def resolve_script(name: str) -> str:
    """The path of a console script: next to this Python first (the same environment), then PATH."""
    if os.sep in name:
        return name
    here = Path(sys.executable).parent / name
    if here.is_file():
        return str(here)
    found = shutil.which(name)
    if found is None:
        raise UserError(
            f"{name} is not installed: `uv sync --all-packages` in the repo, "
            f"or `uv pip install {name}`"
        )
    return found


def hash_tree(path: Path) -> str:
    """sha256 over a file or a folder's files (relative names and contents), in sorted order."""
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        digest.update(str(file.relative_to(path) if file != path else file.name).encode())
        digest.update(b"\0")
        with file.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


ProgressFn = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Pipeline:
    """Run stages in order under ``out``, skipping the finished ones (see the module docstring)."""

    def __init__(
        self, out: str | os.PathLike, stages: Sequence[Stage], progress: ProgressFn = _stderr
    ) -> None:
        names = [s.name for s in stages]
        if len(set(names)) != len(names):
            raise UserError(f"stage names repeat: {names}")
        for i, stage in enumerate(stages):
            missing = [n for n in stage.inputs if n not in names[:i]]
            if missing:
                raise UserError(f"stage {stage.name} reads {missing}, which do not run before it")
        self.out = Path(out)
        self.stages = list(stages)
        self.progress = progress

    def record_path(self, name: str) -> Path:
        return self.out / "records" / f"{name}.json"

    def load_record(self, name: str) -> dict[str, Any] | None:
        path = self.record_path(name)
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError:
            return None

    def key(self, stage: Stage, records: dict[str, dict[str, Any]]) -> str:
        """sha256 of the stage's name, parameters and its inputs' artefact hashes."""
        payload = {
            "stage": stage.name,
            "params": stage.params,
            "inputs": {n: records[n]["artefact_sha256"] for n in stage.inputs},
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def status(self) -> list[dict[str, Any]]:
        """Per stage: done (a valid record whose key still matches) or to do."""
        records: dict[str, dict[str, Any]] = {}
        rows = []
        for stage in self.stages:
            record = self.load_record(stage.name)
            ok = (
                record is not None
                and all(n in records for n in stage.inputs)
                and record.get("key") == self.key(stage, records)
                and (self.out / stage.name).exists()
            )
            if ok and record is not None:
                records[stage.name] = record
            rows.append({"stage": stage.name, "done": ok})
        return rows

    def run(self, from_stage: str | None = None) -> list[dict]:
        """Run every stage that is not finished (or all from ``from_stage`` on); the records."""
        names = [s.name for s in self.stages]
        if from_stage is not None and from_stage not in names:
            raise UserError(f"--from {from_stage!r}: no such stage (stages: {', '.join(names)})")
        start = names.index(from_stage) if from_stage else len(names)
        for sub in ("records", "logs", "work"):
            (self.out / sub).mkdir(parents=True, exist_ok=True)
        for stale in self.out.glob(".*.tmp"):  # a killed run's half-written artefacts
            shutil.rmtree(stale, ignore_errors=True)
        records: dict[str, dict[str, Any]] = {}
        done: list[dict[str, Any]] = []
        for i, stage in enumerate(self.stages, 1):
            tag = f"[{i}/{len(self.stages)}] {stage.name}"
            key = self.key(stage, records)
            artefact = self.out / stage.name
            record = self.load_record(stage.name)
            if (
                i - 1 < start
                and record is not None
                and record.get("key") == key
                and artefact.exists()
                and record.get("artefact_sha256") == hash_tree(artefact)
            ):
                self.progress(f"{tag}: done, inputs unchanged (skipped)")
                records[stage.name] = record
                done.append({**record, "skipped": True})
                continue
            self.progress(f"{tag}: running ({stage.what or 'stage'})")
            records[stage.name] = self._run_stage(stage, key, records)
            rec = records[stage.name]
            done.append({**rec, "skipped": False})
            self.progress(
                f"{tag}: {rec['result'].get('headline', 'done')} "
                f"({rec['wall_s']:.1f} s, peak {rec['peak_rss_mb']:.0f} MB)"
            )
        return done

    def _run_stage(self, stage: Stage, key: str, records: dict[str, dict]) -> dict[str, Any]:
        log_file = self.out / "logs" / f"{stage.name}.log"
        log_file.write_text(f"# stage {stage.name}, {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        work = self.out / "work" / stage.name
        work.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        with atomic_dir(self.out / stage.name) as tmp:
            ctx = StageContext(
                stage=stage,
                out=tmp,
                work=work,
                log_file=log_file,
                inputs={n: self.out / n for n in stage.inputs},
                records=records,
            )
            try:
                result = stage.run(ctx)
            except StageFailed:
                raise
            except UserError as exc:
                raise StageFailed(f"stage {stage.name} failed: {exc}; see {log_file}") from exc
            except Exception as exc:
                with log_file.open("a") as log:
                    log.write(f"[error] {type(exc).__name__}: {exc}\n")
                raise StageFailed(
                    f"stage {stage.name} failed: {type(exc).__name__}: {exc}; see {log_file}"
                ) from exc
            finally:
                ctx.stop_servers()
        record = {
            "stage": stage.name,
            "what": stage.what,
            "key": key,
            "params": stage.params,
            "inputs": {n: records[n]["artefact_sha256"] for n in stage.inputs},
            "artefact": str(self.out / stage.name),
            "artefact_sha256": hash_tree(self.out / stage.name),
            "commands": [" ".join(c) for c in ctx.commands],
            "wall_s": round(time.perf_counter() - started, 2),
            "peak_rss_mb": round(ctx.peak_rss_kb / 1024, 1),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "log": str(log_file),
            "result": result,
        }
        write_json(self.record_path(stage.name), record)
        return record
