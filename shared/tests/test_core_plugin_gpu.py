import pytest
import torch

from llmpath_core import UserError, resolve_device, resolve_dtype, seed_everything
from llmpath_core.bench import measure

pytest_plugins = ["pytester"]

# load the plugin by module whether or not it is installed (entry point "llmpath")
PLUGIN = ("-p", "no:llmpath", "-p", "llmpath_core.pytest_plugin")

MARKED = """
import pytest

@pytest.mark.gpu
def test_needs_cuda():
    pass

@pytest.mark.slow
def test_takes_long():
    pass

def test_plain():
    pass
"""


def test_markers_skip_without_cuda_and_without_llmpath_slow(pytester, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv("LLMPATH_SLOW", raising=False)
    pytester.makepyfile(MARKED)
    pytester.runpytest(*PLUGIN, "--strict-markers").assert_outcomes(passed=1, skipped=2)


def test_markers_run_when_allowed(pytester, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("LLMPATH_SLOW", "1")
    pytester.makepyfile(MARKED)
    pytester.runpytest(*PLUGIN, "--strict-markers").assert_outcomes(passed=3)


@pytest.mark.gpu
def test_cuda_device_choice_seeding_and_timing_on_a_real_gpu():
    assert resolve_device("auto").type == "cuda"
    assert resolve_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(UserError, match="does not exist"):
        resolve_device(f"cuda:{torch.cuda.device_count()}")
    expected = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    assert resolve_dtype("auto", torch.device("cuda")) is expected
    seed_everything(5)
    a = torch.randn(1000, device="cuda")
    seed_everything(5)
    b = torch.randn(1000, device="cuda")
    assert torch.equal(a, b)
    x = torch.randn(2048, 2048, device="cuda")
    timing = measure(lambda: x @ x, warmup=1, repeats=3)  # synchronised: a real kernel time
    assert len(timing.times) == 3 and timing.median > 0
