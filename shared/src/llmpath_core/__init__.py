"""llmpath-core: the thin core every llmpath chapter stands on.

Device and dtype choice, seeding, CLI scaffolding with clean errors and ``--json``, progress bars,
benchmark helpers, reporting (tables, JSON, PNG plots), artefact paths, bundled data, and
llmpath's default and draft models (``load_default_model``, ``evaluate_lm``).

The names below are imported on first use (PEP 562), so ``import llmpath_core`` stays cheap and a
tool that only needs tables or data does not pay for importing torch.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("llmpath-core")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"

_EXPORTS = {
    "bench": ["Comparison", "Timing", "compare", "machine_info", "measure"],
    "cli": ["Run", "command", "make_app", "run_app"],
    "data": ["load_documents", "load_text", "pydoc_prose", "tiny_stories"],
    "device": ["resolve_device", "resolve_dtype"],
    "errors": ["UserError"],
    "io": ["atomic_dir", "atomic_write", "write_json", "write_text"],
    "models": [
        "default_model_path",
        "draft_model_path",
        "evaluate_lm",
        "load_default_model",
        "load_draft_model",
        "model_card",
        "paired_difference",
    ],
    "paths": ["artefact_path", "llmpath_home"],
    "progress": ["log", "track"],
    "report": ["line_plot", "make_table", "print_table", "to_jsonable"],
    "seed": ["seed_everything"],
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "Comparison",
    "Run",
    "Timing",
    "UserError",
    "__version__",
    "artefact_path",
    "atomic_dir",
    "atomic_write",
    "command",
    "compare",
    "default_model_path",
    "draft_model_path",
    "evaluate_lm",
    "line_plot",
    "llmpath_home",
    "load_default_model",
    "load_documents",
    "load_draft_model",
    "load_text",
    "log",
    "machine_info",
    "make_app",
    "make_table",
    "measure",
    "model_card",
    "paired_difference",
    "print_table",
    "pydoc_prose",
    "resolve_device",
    "resolve_dtype",
    "run_app",
    "seed_everything",
    "tiny_stories",
    "to_jsonable",
    "track",
    "write_json",
    "write_text",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(f"llmpath_core.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'llmpath_core' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from llmpath_core.bench import Comparison, Timing, compare, machine_info, measure
    from llmpath_core.cli import Run, command, make_app, run_app
    from llmpath_core.data import load_documents, load_text, pydoc_prose, tiny_stories
    from llmpath_core.device import resolve_device, resolve_dtype
    from llmpath_core.errors import UserError
    from llmpath_core.io import atomic_dir, atomic_write, write_json, write_text
    from llmpath_core.paths import artefact_path, llmpath_home
    from llmpath_core.progress import log, track
    from llmpath_core.report import line_plot, make_table, print_table, to_jsonable
    from llmpath_core.seed import seed_everything
