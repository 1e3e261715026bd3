"""Every operation, activation, layer and loss against torch autograd in float64 (rel ≤ 1e-10),
and the autodiff against finite differences on randomly generated graphs (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from ch01_nn.autodiff import Tensor, no_grad, where
from ch01_nn.losses import cross_entropy, huber, l1_penalty, l2_penalty, mse
from ch01_nn.nn import BatchNorm1d

REL = 1e-10


def rel_err(ours: np.ndarray, ref: torch.Tensor) -> float:
    ref = ref.detach().numpy()
    return float(np.max(np.abs(ours - ref)) / max(np.max(np.abs(ref)), 1e-300))


def check(fn_ours, fn_torch, *arrays: np.ndarray) -> None:
    """Same forward value and same gradient for every input, upstream gradient random."""
    ours_in = [Tensor(a.copy(), True) for a in arrays]
    torch_in = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out, ref = fn_ours(*ours_in), fn_torch(*torch_in)
    assert out.shape == tuple(ref.shape)
    assert rel_err(out.data, ref) <= REL
    upstream = np.random.default_rng(1).normal(size=out.shape)
    out.backward(upstream)
    ref.backward(torch.tensor(upstream))
    for a, b in zip(ours_in, torch_in, strict=True):
        assert a.grad is not None and b.grad is not None
        assert rel_err(a.grad, b.grad) <= REL, rel_err(a.grad, b.grad)


RNG = np.random.default_rng(0)
X = RNG.normal(size=(5, 4))
Y = RNG.normal(size=(5, 4))
ROW = RNG.normal(size=(1, 4))
POS = RNG.uniform(0.5, 2.0, size=(5, 4))

UNARY = {
    "sigmoid": (Tensor.sigmoid, torch.sigmoid),
    "tanh": (Tensor.tanh, torch.tanh),
    "relu": (Tensor.relu, torch.relu),
    "gelu": (Tensor.gelu, F.gelu),
    "silu": (Tensor.silu, F.silu),
    "exp": (Tensor.exp, torch.exp),
    "abs": (Tensor.abs, torch.abs),
    "neg": (lambda a: -a, lambda a: -a),
    "pow3": (lambda a: a**3, lambda a: a**3),
    "sum0": (lambda a: a.sum(axis=0), lambda a: a.sum(0)),
    "mean1k": (lambda a: a.mean(axis=1, keepdims=True), lambda a: a.mean(1, keepdim=True)),
    "transpose": (lambda a: a.T, lambda a: a.T),
    "reshape": (lambda a: a.reshape(2, 10), lambda a: a.reshape(2, 10)),
    "index": (lambda a: a[[0, 2, 2], [1, 3, 3]], lambda a: a[[0, 2, 2], [1, 3, 3]]),
    "log_softmax": (lambda a: a.log_softmax(1), lambda a: torch.log_softmax(a, 1)),
    "softmax": (lambda a: a.softmax(1), lambda a: torch.softmax(a, 1)),
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_ops_match_torch(name):
    ours, ref = UNARY[name]
    check(ours, ref, X)


@pytest.mark.parametrize("name", ["log", "sqrt", "pow-half"])
def test_positive_domain_ops_match_torch(name):
    ours, ref = {
        "log": (Tensor.log, torch.log),
        "sqrt": (Tensor.sqrt, torch.sqrt),
        "pow-half": (lambda a: a**-0.5, lambda a: a**-0.5),
    }[name]
    check(ours, ref, POS)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
@pytest.mark.parametrize("broadcast", [False, True])
def test_binary_ops_with_broadcasting_match_torch(op, broadcast):
    f = {
        "add": lambda a, b: a + b,
        "sub": lambda a, b: a - b,
        "mul": lambda a, b: a * b,
        "div": lambda a, b: a / b,
    }[op]
    other = ROW if broadcast else Y
    if op == "div":
        other = np.abs(other) + 0.5
    check(f, f, X, other)


def test_matmul_and_where_match_torch():
    w = RNG.normal(size=(4, 3))
    check(lambda a, b: a @ b, lambda a, b: a @ b, X, w)
    cond = X > 0.1
    check(
        lambda a, b: where(cond, a * a, b),
        lambda a, b: torch.where(torch.tensor(cond), a * a, b),
        X,
        Y,
    )


def test_losses_match_torch():
    targets = np.array([0, 3, 1, 1, 2])
    check(
        lambda a: cross_entropy(a, targets),
        lambda a: F.cross_entropy(a, torch.tensor(targets)),
        X * 3,
    )
    check(lambda a, b: mse(a, b), F.mse_loss, X, Y)
    check(lambda a, b: huber(a, b), lambda a, b: F.huber_loss(a, b), X * 2, Y)
    check(lambda a, b: huber(a, b, 0.3), lambda a, b: F.huber_loss(a, b, delta=0.3), X, Y)
    check(
        lambda a, b: l1_penalty([a, b]) + l2_penalty([a, b]),
        lambda a, b: a.abs().sum() + b.abs().sum() + (a * a).sum() + (b * b).sum(),
        X,
        Y,
    )


def test_batchnorm_matches_torch_in_training_and_eval():
    bn = BatchNorm1d(4, dtype=np.float64)
    bn.weight.data = RNG.normal(size=4)
    bn.bias.data = RNG.normal(size=4)
    ref = torch.nn.BatchNorm1d(4).double()
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(bn.weight.data))
        ref.bias.copy_(torch.tensor(bn.bias.data))
    x = Tensor(X * 2 + 1, True)
    xt = torch.tensor(X * 2 + 1, requires_grad=True)
    out, out_t = bn(x), ref(xt)
    up = RNG.normal(size=out.shape)
    out.backward(up)
    out_t.backward(torch.tensor(up))
    assert rel_err(out.data, out_t) <= REL
    assert rel_err(x.grad, xt.grad) <= REL
    assert rel_err(bn.weight.grad, ref.weight.grad) <= REL
    assert rel_err(bn.bias.grad, ref.bias.grad) <= REL
    assert rel_err(bn.running_mean, ref.running_mean) <= REL
    assert rel_err(bn.running_var, ref.running_var) <= REL
    bn.eval()
    ref.eval()
    assert rel_err(bn(Tensor(Y)).data, ref(torch.tensor(Y))) <= REL


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "gelu", "silu"])
@pytest.mark.parametrize("loss", ["cross-entropy", "mse", "huber"])
def test_mlp_gradients_match_torch(activation, loss):
    from ch01_nn.gradcheck import compare_with_torch

    report = compare_with_torch([6, 9, 7, 4], activation, loss, seed=3)
    assert report["max_rel_diff"] <= REL
    assert len(report["parameters"]) == 6


def test_gradient_accumulates_over_reuse_and_calls():
    a = Tensor(np.array([1.0, 2.0]), True)
    (a * a + a).sum().backward()  # d/da = 2a + 1
    np.testing.assert_allclose(a.grad, [3.0, 5.0])
    (a * 2).sum().backward()  # accumulates like torch
    np.testing.assert_allclose(a.grad, [5.0, 7.0])
    with no_grad():
        assert not (a * 2).requires_grad


# -- finite differences on random graphs ---------------------------------------------------

UNARY_SAFE = ["tanh", "sigmoid", "gelu", "silu", "exp_small", "square", "softplus"]
BINARY = ["add", "sub", "mul", "div_safe"]


def _apply_unary(kind: str, t: Tensor) -> Tensor:
    # squashed first where the op could blow up, so that values stay finite through depth
    if kind == "exp_small":
        return t.tanh().exp()
    if kind == "square":
        return t * t.tanh()
    if kind == "softplus":
        return (t.tanh().exp() + 1).log()
    return getattr(t, kind)()


def _apply_binary(kind: str, a: Tensor, b: Tensor) -> Tensor:
    if kind == "add":
        return a + b
    if kind == "sub":
        return a - b
    if kind == "mul":
        return a.tanh() * b
    return a / (b * b + 1.0)


graph_ops = st.lists(
    st.one_of(
        st.tuples(st.just("u"), st.sampled_from(UNARY_SAFE), st.integers(0, 100)),
        st.tuples(st.just("b"), st.sampled_from(BINARY), st.integers(0, 100), st.integers(0, 100)),
        st.tuples(st.just("m"), st.integers(0, 100), st.integers(0, 100)),
    ),
    min_size=1,
    max_size=12,
)


def build_graph(ops, leaves: list[Tensor]) -> Tensor:
    """Each op takes earlier nodes (chosen by index mod count): a random DAG with reuse."""
    nodes = list(leaves)
    for op in ops:
        if op[0] == "u":
            nodes.append(_apply_unary(op[1], nodes[op[2] % len(nodes)]))
        elif op[0] == "b":
            nodes.append(_apply_binary(op[1], nodes[op[2] % len(nodes)], nodes[op[3] % len(nodes)]))
        else:  # (3,3) @ (3,3) keeps every node square
            nodes.append(nodes[op[1] % len(nodes)].tanh() @ nodes[op[2] % len(nodes)] * 0.5)
    # weight every node a little so that intermediate values all reach the output
    return sum((n.tanh().sum() * (0.5**i) for i, n in enumerate(nodes)), Tensor(0.0))


@settings(max_examples=40, deadline=None)
@given(ops=graph_ops, seed=st.integers(0, 2**16))
def test_autodiff_matches_finite_differences_on_random_graphs(ops, seed):
    rng = np.random.default_rng(seed)
    values = [rng.normal(size=(3, 3)) * 0.8 for _ in range(2)]
    leaves = [Tensor(v.copy(), True) for v in values]
    build_graph(ops, leaves).backward()
    h = 1e-6
    for k, v in enumerate(values):
        numeric = np.zeros_like(v)
        for idx in np.ndindex(v.shape):
            plus = [x.copy() for x in values]
            minus = [x.copy() for x in values]
            plus[k][idx] += h
            minus[k][idx] -= h
            f_plus = build_graph(ops, [Tensor(x) for x in plus]).item()
            f_minus = build_graph(ops, [Tensor(x) for x in minus]).item()
            numeric[idx] = (f_plus - f_minus) / (2 * h)
        np.testing.assert_allclose(leaves[k].grad, numeric, rtol=1e-5, atol=1e-7)
