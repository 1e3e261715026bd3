"""Shared fixtures for ch19: offline env, one torch thread, the CLI in a subprocess."""

from __future__ import annotations

import importlib
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from llmpath_core.testing import cli_runner, torch_threads, use_offline_env

use_offline_env()


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """One intra-op thread: the models are tiny and the CI box is shared."""
    with torch_threads(1):
        yield


@pytest.fixture(scope="session")
def cli():
    """``cli(*args)``: the console script in a subprocess (offline, one thread, no progress)."""
    return cli_runner("ch19_agents.cli")


# ----------------------------------------------------------------- BFCL's own checker
# BFCL's own AST checker (PyPI ``bfcl-eval``) in a side folder, and prediction perturbations.
#
# ``bfcl-eval`` pins numpy 1.26, tree-sitter 0.21, faiss 1.11 and a dozen API clients, so it
# cannot join the workspace lock. Its AST checker (``bfcl_eval/eval_checker/ast_eval``) only needs
# the standard library and two constants modules, so the wheel is installed without its
# dependencies into ``packages/ch19-agents/.ci-work/bfcl`` (``uv pip install --no-deps --target``)
# and imported from there. The one module the checker imports that would pull the model handlers
# in (``constants.model_config``, used only to rewrite dotted function names for some API models)
# is replaced by an empty mapping: no function name here contains a dot.
#
# Imports of ``bfcl_eval`` go through ``importlib`` because it is not a workspace dependency.

BFCL_VERSION = "2026.3.23"
SIDE = Path(__file__).resolve().parents[1] / ".ci-work" / "bfcl"


def load_bfcl() -> Any | None:
    """The ``ast_checker`` module of bfcl-eval, installing it into the side folder if needed."""
    if not (SIDE / "bfcl_eval").is_dir():
        try:
            subprocess.run(
                [
                    "uv",
                    "pip",
                    "install",
                    "--no-deps",
                    "--target",
                    str(SIDE),
                    f"bfcl-eval=={BFCL_VERSION}",
                ],
                check=True,
                capture_output=True,
                timeout=120,
            )
        except (OSError, subprocess.SubprocessError):
            return None
    if str(SIDE) not in sys.path:
        sys.path.insert(0, str(SIDE))
    stub = types.ModuleType("bfcl_eval.constants.model_config")
    stub.MODEL_CONFIG_MAPPING = {}
    sys.modules.setdefault("bfcl_eval.constants.model_config", stub)
    return importlib.import_module("bfcl_eval.eval_checker.ast_eval.ast_checker")


def bfcl_valid(checker: Any, case: dict, predicted: list[dict]) -> bool:
    """BFCL's verdict on ``predicted`` (``[{"name", "arguments"}]``) for a BFCL-layout case."""
    decoded = [{c["name"]: c["arguments"]} for c in predicted]
    if case["category"] == "irrelevance":
        # eval_runner: success = not contain_func_call, where an empty decoded output
        # (utils.is_empty_output: [] or [{}]) is not a call
        return len(decoded) == 0 or (len(decoded) == 1 and len(decoded[0]) == 0)
    enums = importlib.import_module("bfcl_eval.constants.enums")
    result = checker.ast_checker(
        case["function"],
        decoded,
        case["ground_truth"],
        enums.Language.PYTHON,
        case["category"],
        "gorilla-openfunctions-v2",
    )
    return bool(result["valid"])


@pytest.fixture(scope="session")
def bfcl():
    """``bfcl(case, predicted) -> bool``: bfcl-eval's verdict (skips if it cannot install)."""
    checker = load_bfcl()
    if checker is None:
        pytest.skip("bfcl-eval could not be installed into the side folder (offline?)")
    return lambda case, predicted: bfcl_valid(checker, case, predicted)
