"""pytest plugin (registered as ``llmpath`` in the ``pytest11`` entry points of llmpath-core).

Declares the ``gpu`` and ``slow`` markers and skips them where they cannot or should not run:
``gpu`` tests without CUDA, ``slow`` tests unless ``LLMPATH_SLOW=1``. Because the plugin ships with
llmpath-core, a chapter's tests behave the same in the monorepo and in an environment holding only
that chapter.
"""

from __future__ import annotations

import os

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "gpu: needs a CUDA device; skipped without one")
    config.addinivalue_line("markers", "slow: long-running; skipped unless LLMPATH_SLOW=1")


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency of llmpath-core
        return False
    return torch.cuda.is_available()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    run_slow = os.environ.get("LLMPATH_SLOW") == "1"
    has_gpu = None
    for item in items:
        if "slow" in item.keywords and not run_slow:
            item.add_marker(pytest.mark.skip(reason="slow test: set LLMPATH_SLOW=1 to run"))
        if "gpu" in item.keywords:
            if has_gpu is None:
                has_gpu = _cuda_available()
            if not has_gpu:
                item.add_marker(pytest.mark.skip(reason="needs CUDA"))
