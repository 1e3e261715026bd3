"""Our RDP accountant against opacus' RDPAccountant, and the epsilon command's contract."""

from __future__ import annotations

import json

import pytest

from ch21_security.accountant import RDPAccountant, compute_epsilon, noise_for_epsilon

CASES = [
    (1.1, 0.01, 1000, 1e-5),
    (0.7, 0.05, 300, 1e-6),
    (2.0, 0.001, 10_000, 1e-5),
    (1.0, 1.0, 10, 1e-3),
    (0.5, 0.2, 7, 0.1),
]


@pytest.mark.parametrize("sigma,q,steps,delta", CASES)
def test_epsilon_equals_opacus(sigma, q, steps, delta):
    from opacus.accountants import RDPAccountant as OpacusRDP

    theirs = OpacusRDP()
    theirs.history = [(sigma, q, steps)]
    expected = theirs.get_epsilon(delta)
    ours = compute_epsilon(sigma, q, steps, delta)["epsilon"]
    assert ours == pytest.approx(expected, rel=1e-6)  # the tolerance


def test_accountant_composes_like_opacus():
    from opacus.accountants import RDPAccountant as OpacusRDP

    ours, theirs = RDPAccountant(), OpacusRDP()
    for sigma, q, n in [(1.0, 0.02, 50), (1.5, 0.05, 20)]:
        for _ in range(n):
            ours.step(sigma, q)
            theirs.step(noise_multiplier=sigma, sample_rate=q)
    assert ours.get_epsilon(1e-5) == pytest.approx(theirs.get_epsilon(1e-5), rel=1e-6)


def test_epsilon_falls_with_noise_and_grows_with_steps():
    eps = [compute_epsilon(z, 0.01, 1000, 1e-5)["epsilon"] for z in (0.6, 1.0, 2.0)]
    assert eps[0] > eps[1] > eps[2]
    assert (
        compute_epsilon(1.0, 0.01, 100, 1e-5)["epsilon"]
        < compute_epsilon(1.0, 0.01, 1000, 1e-5)["epsilon"]
    )
    z = noise_for_epsilon(3.0, 0.01, 1000, 1e-5)
    assert (
        compute_epsilon(z, 0.01, 1000, 1e-5)["epsilon"]
        <= 3.0
        < compute_epsilon(z - 0.02, 0.01, 1000, 1e-5)["epsilon"]
    )


def test_epsilon_cli_contract(cli):
    from opacus.accountants import RDPAccountant as OpacusRDP

    out = cli(
        "epsilon",
        "--noise-multiplier",
        "1.3",
        "--sample-rate",
        "0.004",
        "--steps",
        "2500",
        "--delta",
        "1e-5",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    theirs = OpacusRDP()
    theirs.history = [(1.3, 0.004, 2500)]
    assert json.loads(out.stdout)["epsilon"] == pytest.approx(theirs.get_epsilon(1e-5), rel=1e-6)
    res = cli("epsilon", "--delta", "1.5", "--json")
    assert res.returncode == 2
    assert "delta" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert "error" in json.loads(res.stdout)


@pytest.mark.parametrize("bad", ["0", "1", "-0.1"])
def test_epsilon_rejects_delta_outside_unit_interval(bad):
    from ch21_security.cli import app
    from llmpath_core.cli import run_app

    with pytest.raises(SystemExit) as exc:
        run_app(app, ["epsilon", "--delta", bad])
    assert exc.value.code == 2
