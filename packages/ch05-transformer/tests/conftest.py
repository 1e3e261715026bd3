"""Shared fixtures: tiny random transformers models saved once per session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_hf_models(tmp_path_factory):
    from ch05_transformer.parity import build_tiny_hf_models

    return build_tiny_hf_models(tmp_path_factory.mktemp("ch05-hf"), seed=0)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models run fastest on one thread, and the CI machine's cores are shared."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
