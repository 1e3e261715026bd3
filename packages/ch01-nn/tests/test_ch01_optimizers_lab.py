"""The optimizer visualiser: surfaces' gradients, batched sweeps, race effects and the files."""

from __future__ import annotations

import numpy as np
import pytest

from ch01_nn.surfaces import SURFACES
from ch01_nn.visualiser import animate, plot_trajectories, race, run_sweep


@pytest.mark.parametrize("name", sorted(SURFACES))
def test_surface_gradients_match_finite_differences(name):
    s = SURFACES[name]
    p = np.array([[0.7, -0.4], [1.3, 0.9]])
    h = 1e-6
    num = np.stack([(s.value(p + h * e) - s.value(p - h * e)) / (2 * h)
                    for e in np.eye(2)], axis=-1)  # fmt: skip
    np.testing.assert_allclose(s.grad(p), num, rtol=1e-6, atol=1e-6)
    for m in s.minimizers:
        assert s.value(np.array(m)) == pytest.approx(s.minimum)


def test_batched_sweep_equals_separate_runs():
    s = SURFACES["beale"]
    batched = run_sweep(s, "adam", np.array([0.01, 0.1]), max_steps=300)
    single = run_sweep(s, "adam", np.array([0.1]), max_steps=300)
    np.testing.assert_allclose(batched.paths[:, 1], single.paths[:, 0])


def test_momentum_beats_plain_sgd_and_adam_solves_rosenbrock():
    rows, _ = race(["rosenbrock", "saddle"], ["sgd", "momentum", "adam"], max_steps=1500)
    by = {(r["surface"], r["optimizer"]): r for r in rows}
    assert by["rosenbrock", "sgd"]["steps"] is None  # the valley is too slow for plain GD
    assert by["rosenbrock", "momentum"]["steps"] is not None
    assert by["rosenbrock", "adam"]["steps"] is not None
    assert by["saddle", "momentum"]["final_gap"] < 1e-4


def test_plots_and_gif_are_written(tmp_path):
    from PIL import Image

    _, paths = race(["saddle"], ["sgd", "adam"], max_steps=60)
    png = plot_trajectories(paths, tmp_path / "t.png")
    gif = animate("saddle", paths["saddle"], tmp_path / "a.gif", frames=8)
    assert png.read_bytes()[:4] == b"\x89PNG"
    with Image.open(gif) as im:
        assert im.format == "GIF" and im.n_frames >= 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.gif", "t.png"]  # no temp files left
