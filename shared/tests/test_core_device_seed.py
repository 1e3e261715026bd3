import random

import numpy as np
import pytest
import torch

from llmpath_core import UserError, resolve_device, resolve_dtype, seed_everything
from llmpath_core import device as device_module


def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto").type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device_module, "_mps_available", lambda: True)
    assert resolve_device("auto").type == "mps"
    monkeypatch.setattr(device_module, "_mps_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device(None) == torch.device("cpu")


def test_explicit_cuda_without_cuda_is_a_clean_user_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UserError, match="CUDA is not available"):
        resolve_device("cuda")
    with pytest.raises(UserError, match="CUDA is not available"):
        resolve_device("cuda:0")


def test_bad_device_names(monkeypatch):
    monkeypatch.setattr(device_module, "_mps_available", lambda: False)
    with pytest.raises(UserError, match="unknown device"):
        resolve_device("tpu")
    with pytest.raises(UserError, match="takes no index"):
        resolve_device("cpu:1")
    with pytest.raises(UserError, match="MPS is not available"):
        resolve_device("mps")
    assert resolve_device(" CPU ") == torch.device("cpu")


def test_dtypes():
    cpu = torch.device("cpu")
    assert resolve_dtype("auto", cpu) is torch.float32
    assert resolve_dtype("bf16") is torch.bfloat16
    assert resolve_dtype("float16") is torch.float16
    assert resolve_dtype(torch.float64) is torch.float64
    with pytest.raises(UserError, match="unknown dtype"):
        resolve_dtype("int3")


def _draw():
    return random.random(), np.random.rand(3), torch.randn(4), torch.randint(0, 100, (5,))


def test_seed_everything_reproduces_all_streams():
    seed_everything(123)
    first = _draw()
    seed_everything(123)
    second = _draw()
    assert first[0] == second[0]
    np.testing.assert_array_equal(first[1], second[1])
    assert torch.equal(first[2], second[2]) and torch.equal(first[3], second[3])
    seed_everything(124)
    third = _draw()
    assert first[0] != third[0] and not torch.equal(first[2], third[2])


def test_seed_range():
    with pytest.raises(ValueError):
        seed_everything(-1)
