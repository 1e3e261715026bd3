"""Parameters after N steps of every optimizer, with weight decay, clipping and each schedule,
equal torch.optim / torch.optim.lr_scheduler from the same start (≤ 1e-7)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ch01_nn.autodiff import Tensor
from ch01_nn.optim import clip_grad_norm, clip_grad_value, make_optimizer
from ch01_nn.schedules import Schedule, Scheduler

TOL = 1e-7
STEPS = 40

# (our name, torch class, torch kwargs): the same settings on both sides
CASES = {
    "sgd": (torch.optim.SGD, {"lr": 0.05}),
    "momentum": (torch.optim.SGD, {"lr": 0.05, "momentum": 0.9}),
    "nesterov": (torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    "rmsprop": (torch.optim.RMSprop, {"lr": 0.01}),
    "adam": (torch.optim.Adam, {"lr": 0.01}),
    "adamw": (torch.optim.AdamW, {"lr": 0.01}),
}


def quadratic_grad(w: np.ndarray, t: int) -> np.ndarray:
    """A gradient that depends on the weights and the step (a noisy, ill-conditioned bowl)."""
    scales = np.linspace(0.1, 10, w.size).reshape(w.shape)
    noise = np.sin(np.arange(w.size).reshape(w.shape) * 1.7 + t)
    return scales * w + 0.5 * noise


def torch_scheduler(opt, schedule: Schedule):
    sched = torch.optim.lr_scheduler
    if schedule.kind == "step":
        return sched.StepLR(opt, schedule.step_size, schedule.gamma)
    if schedule.kind == "cosine":
        return sched.CosineAnnealingLR(opt, schedule.total_steps, eta_min=0.0)
    warm = sched.LinearLR(opt, schedule.start_factor, 1.0, total_iters=schedule.warmup_steps)
    if schedule.kind == "warmup":
        return warm
    cos = sched.CosineAnnealingLR(opt, schedule.total_steps - schedule.warmup_steps)
    return sched.SequentialLR(opt, [warm, cos], milestones=[schedule.warmup_steps])


def run_both(name, *, weight_decay=None, clip=None, clip_value=None, schedule=None):
    cls, kwargs = CASES[name]
    kwargs = dict(kwargs)
    start = np.random.default_rng(0).normal(size=(3, 4))
    ours_p = [Tensor(start.copy(), True)]
    opt = make_optimizer(name, ours_p, kwargs["lr"], weight_decay=weight_decay)
    if weight_decay is not None:
        kwargs["weight_decay"] = weight_decay
    ref_p = torch.tensor(start.copy(), requires_grad=True)
    ref_opt = cls([ref_p], **kwargs)
    ours_sched = Scheduler(opt, schedule) if schedule else None
    ref_sched = torch_scheduler(ref_opt, schedule) if schedule else None
    lrs = []
    for t in range(STEPS):
        ours_p[0].grad = quadratic_grad(ours_p[0].data, t)
        ref_p.grad = torch.from_numpy(quadratic_grad(ref_p.detach().numpy(), t))
        if clip is not None:
            clip_grad_norm(ours_p, clip)
            torch.nn.utils.clip_grad_norm_([ref_p], clip)
        if clip_value is not None:
            clip_grad_value(ours_p, clip_value)
            torch.nn.utils.clip_grad_value_([ref_p], clip_value)
        lrs.append((opt.lr, ref_opt.param_groups[0]["lr"]))
        opt.step()
        ref_opt.step()
        if schedule:
            ours_sched.step()
            ref_sched.step()
    diff = float(np.max(np.abs(ours_p[0].data - ref_p.detach().numpy())))
    moved = float(np.max(np.abs(ours_p[0].data - start)))
    return diff, moved, lrs


@pytest.mark.parametrize("name", sorted(CASES))
def test_plain_updates_match_torch(name):
    diff, moved, _ = run_both(name)
    assert moved > 0.05  # the parameters really moved
    assert diff <= TOL


@pytest.mark.parametrize("name", sorted(CASES))
def test_weight_decay_and_clipping_match_torch(name):
    diff, _, _ = run_both(name, weight_decay=0.1, clip=1.0)
    assert diff <= TOL
    diff, _, _ = run_both(name, clip_value=0.3)
    assert diff <= TOL


@pytest.mark.parametrize(
    "schedule",
    [
        Schedule("step", step_size=7, gamma=0.5),
        Schedule("cosine", total_steps=STEPS),
        Schedule("warmup", warmup_steps=10, start_factor=0.1),
        Schedule("warmup-cosine", total_steps=STEPS, warmup_steps=8, start_factor=0.2),
    ],
    ids=lambda s: s.kind,
)
@pytest.mark.parametrize("name", ["momentum", "adamw", "rmsprop"])
def test_schedules_match_torch(name, schedule):
    diff, _, lrs = run_both(name, schedule=schedule)
    np.testing.assert_allclose([a for a, _ in lrs], [b for _, b in lrs], rtol=1e-12, atol=1e-15)
    assert len({round(a, 12) for a, _ in lrs}) > 3  # the rate really changed
    assert diff <= TOL


def test_adamw_decay_is_decoupled_from_adam_l2():
    """AdamW and Adam-with-L2 differ (Loshchilov & Hutter): the decay is not rescaled."""
    a, _, _ = run_both("adamw", weight_decay=0.5)
    b, _, _ = run_both("adam", weight_decay=0.5)
    assert a <= TOL and b <= TOL
    start = np.ones((2, 2))
    p1, p2 = [Tensor(start.copy(), True)], [Tensor(start.copy(), True)]
    o1 = make_optimizer("adamw", p1, 0.1, weight_decay=0.5)
    o2 = make_optimizer("adam", p2, 0.1, weight_decay=0.5)
    for _ in range(5):
        p1[0].grad = np.zeros((2, 2))
        p2[0].grad = np.zeros((2, 2))
        o1.step()
        o2.step()
    # zero loss gradient: AdamW shrinks by (1 - lr*wd)^5, Adam's L2 goes through the normaliser
    np.testing.assert_allclose(p1[0].data, (1 - 0.05) ** 5)
    assert abs(p2[0].data[0, 0] - (1 - 0.05) ** 5) > 0.1


def test_clip_grad_norm_returns_the_norm_and_bounds_it():
    p = [Tensor(np.zeros(3), True), Tensor(np.zeros(2), True)]
    p[0].grad, p[1].grad = np.array([3.0, 0.0, 0.0]), np.array([0.0, 4.0])
    assert clip_grad_norm(p, 1.0) == pytest.approx(5.0)
    total = np.sqrt(sum(np.sum(q.grad**2) for q in p))
    assert total == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(p[0].grad[0] / p[1].grad[1], 0.75)


def test_unknown_optimizer_is_a_value_error():
    with pytest.raises(ValueError, match="unknown optimizer"):
        make_optimizer("adagrad", [Tensor(np.zeros(2), True)])
