"""Our merges held to mergekit 0.1.5 on the same tiny models (per-tensor max diff ≤ 1e-6)."""

from __future__ import annotations

import pytest
import torch

from ch09_sft.merge import drop_random, merge_states
from llmpath_core import UserError
from llmpath_core.testing import tiny_llama

TOL = 1e-6  # absolute, fp32 weights of size ~0.1 (measured: 0 to ~1e-8)
SMALL = dict(vocab=64, hidden=32, layers=1, heads=2)


@pytest.fixture(scope="module")
def family(tmp_path_factory):
    """A base and two 'fine-tunes' near it (not collinear, so SLERP takes its spherical path)."""
    root = tmp_path_factory.mktemp("family")
    base = tiny_llama(0, **SMALL)
    models = {"base": base}
    for seed, name in ((1, "a"), (2, "b")):
        m = tiny_llama(seed, **SMALL)
        with torch.no_grad():
            for p, q in zip(m.parameters(), base.parameters(), strict=True):
                p.copy_(q + 0.1 * (p - q))
        models[name] = m
    folders, states = {}, {}
    for name, m in models.items():
        folders[name] = str(root / name)
        m.save_pretrained(folders[name])
        states[name] = {k: v.detach().clone() for k, v in m.state_dict().items()}
    return folders, states


def _mergekit(config: dict, out) -> dict[str, torch.Tensor]:
    from mergekit.config import MergeConfiguration
    from mergekit.merge import MergeOptions, run_merge
    from safetensors.torch import load_file

    run_merge(
        MergeConfiguration.model_validate({**config, "dtype": "float32"}),
        str(out),
        MergeOptions(copy_tokenizer=False, quiet=True, write_model_card=False),
    )
    return load_file(str(out / "model.safetensors"))


def _assert_equal(ours, theirs, what):
    assert set(theirs) <= set(ours), what
    worst = max(float((ours[k] - theirs[k]).abs().max()) for k in theirs)
    assert worst <= TOL, (what, worst)


def test_linear_slerp_task_arithmetic_ties_equal_mergekit(family, tmp_path):
    pytest.importorskip("mergekit")
    f, s = family
    a, b = [s["a"], s["b"]]
    two = lambda extra_a, extra_b: [  # noqa: E731
        {"model": f["a"], "parameters": extra_a},
        {"model": f["b"], "parameters": extra_b},
    ]
    cases = {
        "linear": (
            {"merge_method": "linear", "models": two({"weight": 0.7}, {"weight": 0.3})},
            merge_states([a, b], "linear", weights=[0.7, 0.3]),
        ),
        "slerp": (
            {
                "merge_method": "slerp",
                "base_model": f["base"],
                "models": [{"model": f["base"]}, {"model": f["a"]}],
                "parameters": {"t": 0.3},
            },
            merge_states([a], "slerp", base=s["base"], t=0.3),
        ),
        "task_arithmetic": (
            {
                "merge_method": "task_arithmetic",
                "base_model": f["base"],
                "models": two({"weight": 0.7}, {"weight": 0.5}),
                "parameters": {"lambda": 0.9},
            },
            merge_states([a, b], "task_arithmetic", base=s["base"], weights=[0.7, 0.5], lam=0.9),
        ),
        "ties": (
            {
                "merge_method": "ties",
                "base_model": f["base"],
                "models": two({"weight": 0.7, "density": 0.4}, {"weight": 0.5, "density": 0.4}),
            },
            merge_states([a, b], "ties", base=s["base"], weights=[0.7, 0.5], density=0.4),
        ),
    }
    for method, (config, ours) in cases.items():
        _assert_equal(ours, _mergekit(config, tmp_path / method), method)
    # the methods really differ (a wrong dispatch would make two of them equal)
    key = "model.layers.0.mlp.up_proj.weight"
    outs = [c[1][key] for c in cases.values()]
    for i in range(len(outs)):
        for j in range(i):
            assert (outs[i] - outs[j]).abs().max() > 1e-4
    # SLERP is not linear interpolation on these rows
    lin = 0.7 * s["base"][key] + 0.3 * a[key]
    assert (cases["slerp"][1][key] - lin).abs().max() > 1e-6


@pytest.mark.parametrize("method", ["dare_ties", "dare_linear"])
def test_seeded_dare_equals_mergekit_tensor_by_tensor(family, method):
    """mergekit draws DARE masks from torch's global generator inside its merge kernel; seeding it
    with ``seed + k`` before tensor ``k`` (sorted keys) reproduces our seeded merge exactly."""
    pytest.importorskip("mergekit")
    from mergekit.merge_methods import merge_tensors

    _, s = family
    ours = merge_states(
        [s["a"], s["b"]], method, base=s["base"], weights=[0.6, 0.4], density=0.3, seed=11
    )
    for k, key in enumerate(sorted(s["a"])):
        torch.manual_seed(11 + k)
        theirs = merge_tensors(
            [s["base"][key], s["a"][key], s["b"][key]],
            method,
            base_index=0,
            parameters={"weight": {1: 0.6, 2: 0.4}, "density": {1: 0.3, 2: 0.3}},
        )
        assert (ours[key] - theirs).abs().max() <= TOL, key
    # about 30% of each task vector survives, and another seed draws another mask
    key = "model.layers.0.mlp.down_proj.weight"
    delta = ours[key] - s["base"][key]
    assert 0.15 < float((delta != 0).float().mean()) < 0.6
    other = merge_states(
        [s["a"], s["b"]], method, base=s["base"], weights=[0.6, 0.4], density=0.3, seed=12
    )
    assert (other[key] - ours[key]).abs().max() > 1e-4


def test_dare_drop_keeps_l1_norm_and_density():
    delta = torch.randn(64, 64, generator=torch.Generator().manual_seed(0))
    kept = drop_random(delta, 0.25, torch.Generator().manual_seed(1))
    assert abs(float((kept != 0).float().mean()) - 0.25) < 0.03
    assert float(kept.abs().sum()) == pytest.approx(float(delta.abs().sum()), rel=1e-5)


def test_bad_merges_raise_user_error():
    small = tiny_llama(0, **SMALL).state_dict()
    wide = tiny_llama(0, **{**SMALL, "hidden": 48}).state_dict()
    with pytest.raises(UserError, match="shape"):
        merge_states([small, wide], "linear")
    with pytest.raises(UserError, match="base"):
        merge_states([small, small], "ties")
    with pytest.raises(UserError, match="method"):
        merge_states([small], "average")
