"""Merges against mergekit on the same tiny models; bad inputs."""

from __future__ import annotations

import pytest
import torch

from ch16_enhancement.merge import merge_states, random_drop
from llmpath_core import UserError
from llmpath_core.testing import tiny_llama

mergekit = pytest.importorskip("mergekit")


def _family(tmp_path):
    """A base and two 'fine-tunes' near it (so SLERP is not in its linear fallback)."""
    base = tiny_llama(0, vocab=64, hidden=32, layers=1, heads=2)
    members = {}
    for seed, name in ((1, "a"), (2, "b")):
        m = tiny_llama(seed, vocab=64, hidden=32, layers=1, heads=2)
        with torch.no_grad():
            for p, q in zip(m.parameters(), base.parameters(), strict=True):
                p.copy_(q + 0.1 * (p - q))
        members[name] = m
    folders = {}
    for name, m in (("base", base), *members.items()):
        folders[name] = tmp_path / name
        m.save_pretrained(folders[name])
    states = {
        n: {k: v.detach() for k, v in m.state_dict().items()}
        for n, m in (("base", base), *members.items())
    }
    return folders, states


def _mergekit(config: dict, out):
    from mergekit.config import MergeConfiguration
    from mergekit.merge import MergeOptions, run_merge
    from safetensors.torch import load_file

    run_merge(
        MergeConfiguration.model_validate({**config, "dtype": "float32"}),
        str(out),
        MergeOptions(copy_tokenizer=False, quiet=True, write_model_card=False),
    )
    return load_file(str(out / "model.safetensors"))


def test_merges_equal_mergekit(tmp_path):
    # tolerance: 1e-6 absolute on weights of size ~0.1 (we measured 0 to 4e-9)
    f, s = _family(tmp_path)
    a, b, base = str(f["a"]), str(f["b"]), str(f["base"])
    cases = {
        "linear": (
            {
                "merge_method": "linear",
                "models": [
                    {"model": a, "parameters": {"weight": 0.7}},
                    {"model": b, "parameters": {"weight": 0.3}},
                ],
            },
            merge_states([s["a"], s["b"]], "linear", weights=[0.7, 0.3]),
        ),
        "slerp": (
            {
                "merge_method": "slerp",
                "base_model": base,
                "models": [{"model": base}, {"model": a}],
                "parameters": {"t": 0.3},
            },
            merge_states([s["a"]], "slerp", base=s["base"], t=0.3),
        ),
        "task_arithmetic": (
            {
                "merge_method": "task_arithmetic",
                "base_model": base,
                "models": [
                    {"model": a, "parameters": {"weight": 0.7}},
                    {"model": b, "parameters": {"weight": 0.5}},
                ],
                "parameters": {"lambda": 0.9},
            },
            merge_states(
                [s["a"], s["b"]], "task_arithmetic", base=s["base"], weights=[0.7, 0.5], lam=0.9
            ),
        ),
        "ties": (
            {
                "merge_method": "ties",
                "base_model": base,
                "models": [
                    {"model": a, "parameters": {"weight": 0.7, "density": 0.4}},
                    {"model": b, "parameters": {"weight": 0.5, "density": 0.4}},
                ],
            },
            merge_states([s["a"], s["b"]], "ties", base=s["base"], weights=[0.7, 0.5], density=0.4),
        ),
    }
    for method, (config, ours) in cases.items():
        theirs = _mergekit(config, tmp_path / f"out-{method}")
        assert set(theirs) == set(ours), method
        for key in theirs:
            torch.testing.assert_close(
                ours[key], theirs[key], rtol=0, atol=1e-6, msg=f"{method} {key}"
            )
    # the merges differ from each other (a wrong dispatch would make two of them equal)
    assert not torch.allclose(
        cases["ties"][1]["lm_head.weight"], cases["task_arithmetic"][1]["lm_head.weight"]
    )


def test_dare_drop_equals_mergekit_bernoulli():
    # same RNG stream: mergekit draws from torch's global generator, we from a seeded one
    from mergekit.sparsify import RescaleNorm, SparsificationMethod, sparsify

    delta = torch.randn(48, 32, generator=torch.Generator().manual_seed(3))
    torch.manual_seed(7)
    theirs = sparsify(
        delta, density=0.3, method=SparsificationMethod.random, rescale_norm=RescaleNorm.l1
    )
    ours = random_drop(delta, 0.3, generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-7)
    kept = (ours != 0).float().mean()
    assert 0.2 < float(kept) < 0.4
    assert float(ours.abs().sum()) == pytest.approx(float(delta.abs().sum()), rel=1e-5)


def test_different_shapes_are_a_user_error(tmp_path):
    from typer.testing import CliRunner

    from ch16_enhancement.cli import app

    small = tiny_llama(0, vocab=64, hidden=32, layers=1, heads=2)
    wide = tiny_llama(0, vocab=64, hidden=48, layers=1, heads=2)
    with pytest.raises(UserError, match="shape"):
        merge_states([small.state_dict(), wide.state_dict()], "linear")
    small.save_pretrained(tmp_path / "small")
    wide.save_pretrained(tmp_path / "wide")
    out = tmp_path / "merged"
    done = CliRunner().invoke(
        app,
        [
            "merge",
            "--model",
            str(tmp_path / "small"),
            "--model",
            str(tmp_path / "wide"),
            "--method",
            "linear",
            "--out",
            str(out),
        ],
    )
    assert done.exit_code == 2
    assert "shape" in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()


def test_cli_merge_writes_a_loadable_folder_equal_to_the_library(tmp_path):
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM
    from typer.testing import CliRunner

    from ch16_enhancement.cli import app

    f, s = _family(tmp_path)
    out = tmp_path / "merged"
    args = ["merge", "--model", str(f["a"]), "--model", str(f["b"]), "--base", str(f["base"])]
    args += ["--method", "ties", "--density", "0.4", "--weights", "0.7,0.5", "--out", str(out)]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    ours = merge_states([s["a"], s["b"]], "ties", base=s["base"], weights=[0.7, 0.5], density=0.4)
    written = load_file(str(out / "model.safetensors"))
    for key, tensor in ours.items():
        torch.testing.assert_close(written[key], tensor, rtol=0, atol=0)
    model = AutoModelForCausalLM.from_pretrained(out)
    assert model.config.hidden_size == 32
