"""Data lineage: which inputs, which stage, which parameters made an output file.

:func:`write_lineage` writes ``OUT.lineage.json`` beside a pipeline output: the stage name, its
parameters, the package version, and the SHA-256 and size of every input and output file (a
folder of shards counts file by file). :func:`verify_lineage` re-hashes and says what changed,
so a training run can check that the data it reads is the data a report describes, and a stage
can be skipped when its inputs, parameters and output are unchanged.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from llmpath_core import UserError


def file_digest(path: Path) -> dict[str, Any]:
    """``{"path", "sha256", "bytes"}`` of one file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return {"path": str(path), "sha256": h.hexdigest(), "bytes": path.stat().st_size}


def digests(path: str | Path) -> list[dict[str, Any]]:
    """Digests of a file, or of every file under a folder (sorted by path)."""
    path = Path(path)
    if path.is_dir():
        return [file_digest(p) for p in sorted(path.rglob("*")) if p.is_file()]
    if not path.is_file():
        raise UserError(f"{path}: no such file or folder to hash")
    return [file_digest(path)]


def lineage_path(output: str | Path) -> Path:
    """Where the lineage record of ``output`` lives: ``OUT.lineage.json`` beside it."""
    output = Path(output)
    return output.with_name(output.name + ".lineage.json")


def write_lineage(
    stage: str,
    inputs: list[str | Path],
    outputs: list[str | Path],
    params: dict[str, Any],
    *,
    generated_inputs: dict[str, Any] | None = None,
) -> Path:
    """Write the lineage record beside ``outputs[0]``; return its path.

    ``generated_inputs`` describes inputs that are not files (a generator and its seed).
    """
    from importlib.metadata import version

    from llmpath_core.io import write_json

    record = {
        "stage": stage,
        "params": params,
        "inputs": [d for p in inputs for d in digests(p)],
        "generated_inputs": generated_inputs or {},
        "outputs": [d for p in outputs for d in digests(p)],
        "package": f"ch06-data {version('ch06-data')}",
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    path = lineage_path(outputs[0])
    write_json(path, record)
    return path


def verify_lineage(path: str | Path) -> list[str]:
    """What no longer matches a lineage record (empty list: inputs and outputs unchanged)."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: not a readable lineage record ({exc})") from None
    problems = []
    for kind in ("inputs", "outputs"):
        for old in record[kind]:
            p = Path(old["path"])
            if not p.is_file():
                problems.append(f"{kind[:-1]} {p} is missing")
            elif file_digest(p)["sha256"] != old["sha256"]:
                problems.append(f"{kind[:-1]} {p} changed")
    return problems
