"""A small, vectorised reverse-mode autodiff: a ``Tensor`` that remembers how it was made.

Every operation returns a new :class:`Tensor` holding a NumPy array, its parents and a function
that maps the gradient of the output to the gradients of the parents (the vector-Jacobian
product). :meth:`Tensor.backward` sorts the graph topologically and runs those functions from
the output back to the leaves, summing gradients where a value is used more than once. This is
micrograd (Karpathy) on arrays instead of scalars, and the same rule PyTorch's autograd uses;
the tests hold every operation to ``torch.autograd`` in float64 (relative error ≤ 1e-10).

Broadcasting follows NumPy: a gradient flowing into a broadcast operand is summed back over the
broadcast axes (:func:`unbroadcast`). Matrix products of 16-bit arrays accumulate in float32 and
round the result, as tensor cores do, so that float16/bfloat16 training is not a slow NumPy loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from scipy.special import erf

ArrayLike = Any
_GRAD_ENABLED = True


@contextmanager
def no_grad() -> Iterator[None]:
    """Build no graph inside the block (evaluation, optimizer updates)."""
    global _GRAD_ENABLED
    before, _GRAD_ENABLED = _GRAD_ENABLED, False
    try:
        yield
    finally:
        _GRAD_ENABLED = before


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added to or stretched in ``shape``."""
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad


def _matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.dtype.itemsize == 2 and b.dtype.itemsize == 2:  # float16 / bfloat16
        return (a.astype(np.float32) @ b.astype(np.float32)).astype(a.dtype)
    return a @ b


class Tensor:
    """An array with an optional gradient and the recipe that produced it.

    ``requires_grad`` leaves (parameters) get ``.grad`` filled in by :meth:`backward`, summed
    over calls as in PyTorch (call :meth:`zero_grad` or set ``.grad = None`` between steps).
    """

    __slots__ = ("_backward", "_parents", "data", "grad", "name", "requires_grad")
    __array_ufunc__ = None  # ``ndarray op Tensor`` defers to our reflected operators

    def __init__(
        self,
        data: ArrayLike,
        requires_grad: bool = False,
        *,
        name: str = "",
        dtype: Any = None,
        _parents: tuple[Tensor, ...] = (),
        _backward: Callable[[np.ndarray], Sequence[np.ndarray | None]] | None = None,
    ) -> None:
        array = np.asarray(data, dtype=dtype)
        if array.dtype.kind in "iub":
            array = array.astype(np.float64)
        self.data: np.ndarray = array
        self.grad: np.ndarray | None = None
        self.requires_grad = requires_grad
        self.name = name
        self._parents = _parents
        self._backward = _backward

    # -- plumbing -------------------------------------------------------------------------

    @staticmethod
    def _make(
        data: np.ndarray,
        parents: tuple[Tensor, ...],
        backward: Callable[[np.ndarray], Sequence[np.ndarray | None]],
    ) -> Tensor:
        if _GRAD_ENABLED and any(p.requires_grad for p in parents):
            return Tensor(data, True, _parents=parents, _backward=backward)
        return Tensor(data)

    def _lift(self, other: ArrayLike) -> Tensor:
        if isinstance(other, Tensor):
            return other
        return Tensor(np.asarray(other, dtype=self.data.dtype))

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def T(self) -> Tensor:
        return self.transpose()

    def numpy(self) -> np.ndarray:
        return self.data

    def item(self) -> float:
        return float(self.data)

    def zero_grad(self) -> None:
        self.grad = None

    def detach(self) -> Tensor:
        return Tensor(self.data)

    def __repr__(self) -> str:
        flag = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({self.data!r}{flag})"

    def __len__(self) -> int:
        return len(self.data)

    # -- the backward pass ----------------------------------------------------------------

    def graph(self) -> list[Tensor]:
        """Every node that leads to this one, in topological order (this one last)."""
        order: list[Tensor] = []
        seen: set[int] = set()
        stack: list[tuple[Tensor, bool]] = [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            for parent in node._parents:
                if id(parent) not in seen and parent.requires_grad:
                    stack.append((parent, False))
        return order

    def backward(self, grad: ArrayLike | None = None) -> None:
        """Fill ``.grad`` of every leaf that requires a gradient with d(self)/d(leaf).

        ``grad`` is the upstream gradient; it defaults to 1 for a scalar output.
        """
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require a gradient")
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError("backward() needs a gradient argument for a non-scalar output")
            grad = np.ones_like(self.data)
        grads: dict[int, np.ndarray] = {id(self): np.asarray(grad, dtype=self.data.dtype)}
        for node in reversed(self.graph()):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            if node._backward is None:  # a leaf
                node.grad = g.copy() if node.grad is None else node.grad + g
                continue
            for parent, pg in zip(node._parents, node._backward(g), strict=True):
                if pg is None or not parent.requires_grad:
                    continue
                key = id(parent)
                grads[key] = grads[key] + pg if key in grads else pg

    # -- arithmetic -----------------------------------------------------------------------

    def __add__(self, other: ArrayLike) -> Tensor:
        o = self._lift(other)
        return Tensor._make(
            self.data + o.data,
            (self, o),
            lambda g: (unbroadcast(g, self.shape), unbroadcast(g, o.shape)),
        )

    __radd__ = __add__

    def __neg__(self) -> Tensor:
        return Tensor._make(-self.data, (self,), lambda g: (-g,))

    def __sub__(self, other: ArrayLike) -> Tensor:
        o = self._lift(other)
        return Tensor._make(
            self.data - o.data,
            (self, o),
            lambda g: (unbroadcast(g, self.shape), unbroadcast(-g, o.shape)),
        )

    def __rsub__(self, other: ArrayLike) -> Tensor:
        return self._lift(other) - self

    def __mul__(self, other: ArrayLike) -> Tensor:
        o = self._lift(other)
        return Tensor._make(
            self.data * o.data,
            (self, o),
            lambda g: (unbroadcast(g * o.data, self.shape), unbroadcast(g * self.data, o.shape)),
        )

    __rmul__ = __mul__

    def __truediv__(self, other: ArrayLike) -> Tensor:
        o = self._lift(other)
        out = self.data / o.data
        return Tensor._make(
            out,
            (self, o),
            lambda g: (
                unbroadcast(g / o.data, self.shape),
                unbroadcast(-g * out / o.data, o.shape),
            ),
        )

    def __rtruediv__(self, other: ArrayLike) -> Tensor:
        return self._lift(other) / self

    def __pow__(self, exponent: float) -> Tensor:
        if isinstance(exponent, Tensor):
            raise TypeError("only a constant exponent is supported: use exp(b * log(a))")
        p = float(exponent)
        return Tensor._make(self.data**p, (self,), lambda g: (g * p * self.data ** (p - 1),))

    def __matmul__(self, other: ArrayLike) -> Tensor:
        o = self._lift(other)
        if self.ndim != 2 or o.ndim != 2:
            raise ValueError(f"matmul needs two matrices, got shapes {self.shape} and {o.shape}")
        if self.shape[1] != o.shape[0]:
            raise ValueError(f"matmul shapes do not chain: {self.shape} @ {o.shape}")
        return Tensor._make(
            _matmul(self.data, o.data),
            (self, o),
            lambda g: (_matmul(g, o.data.T), _matmul(self.data.T, g)),
        )

    # -- elementwise functions ------------------------------------------------------------

    def exp(self) -> Tensor:
        out = np.exp(self.data)
        return Tensor._make(out, (self,), lambda g: (g * out,))

    def log(self) -> Tensor:
        return Tensor._make(np.log(self.data), (self,), lambda g: (g / self.data,))

    def sqrt(self) -> Tensor:
        out = np.sqrt(self.data)
        return Tensor._make(out, (self,), lambda g: (g / (2 * out),))

    def abs(self) -> Tensor:
        # sign(0) = 0, as torch's abs backward
        return Tensor._make(np.abs(self.data), (self,), lambda g: (g * np.sign(self.data),))

    def tanh(self) -> Tensor:
        out = np.tanh(self.data)
        return Tensor._make(out, (self,), lambda g: (g * (1 - out * out),))

    def sigmoid(self) -> Tensor:
        out = _sigmoid(self.data)
        return Tensor._make(out, (self,), lambda g: (g * out * (1 - out),))

    def relu(self) -> Tensor:
        mask = self.data > 0  # the gradient at 0 is 0, as in torch
        return Tensor._make(self.data * mask, (self,), lambda g: (g * mask,))

    def gelu(self) -> Tensor:
        """x·Φ(x) with the exact normal CDF (torch's default ``approximate='none'``)."""
        x = self.data
        cdf = 0.5 * (1 + erf(x / np.sqrt(2)))
        pdf = np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)
        return Tensor._make(x * cdf, (self,), lambda g: (g * (cdf + x * pdf),))

    def silu(self) -> Tensor:
        x = self.data
        s = _sigmoid(x)
        return Tensor._make(x * s, (self,), lambda g: (g * s * (1 + x * (1 - s)),))

    def astype(self, dtype: Any) -> Tensor:
        """A cast; the gradient is cast back (mixed precision: float32 loss on float16 logits)."""
        src = self.data.dtype
        return Tensor._make(self.data.astype(dtype), (self,), lambda g: (g.astype(src),))

    # -- reductions and shape -------------------------------------------------------------

    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        def backward(g: np.ndarray) -> tuple[np.ndarray]:
            if axis is not None and not keepdims:
                g = np.expand_dims(g, axis)
            return (np.broadcast_to(g, self.shape).copy(),)

        return Tensor._make(self.data.sum(axis=axis, keepdims=keepdims), (self,), backward)

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        axes = range(self.ndim) if axis is None else np.atleast_1d(axis)
        count = int(np.prod([self.shape[a] for a in axes]))
        return self.sum(axis, keepdims) * (1.0 / count)

    def reshape(self, *shape: int) -> Tensor:
        return Tensor._make(self.data.reshape(*shape), (self,), lambda g: (g.reshape(self.shape),))

    def transpose(self) -> Tensor:
        return Tensor._make(self.data.T, (self,), lambda g: (g.T,))

    def __getitem__(self, index: Any) -> Tensor:
        def backward(g: np.ndarray) -> tuple[np.ndarray]:
            full = np.zeros_like(self.data)
            np.add.at(full, index, g)  # repeated indices accumulate
            return (full,)

        return Tensor._make(self.data[index], (self,), backward)

    def log_softmax(self, axis: int = -1) -> Tensor:
        """log(softmax(x)) computed stably (max subtracted) as one operation."""
        shifted = self.data - self.data.max(axis=axis, keepdims=True)
        out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        soft = np.exp(out)
        return Tensor._make(out, (self,), lambda g: (g - soft * g.sum(axis=axis, keepdims=True),))

    def softmax(self, axis: int = -1) -> Tensor:
        return self.log_softmax(axis).exp()


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # split by sign so that exp never overflows
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1 / (1 + np.exp(-x[pos]))
    e = np.exp(x[~pos])
    out[~pos] = e / (1 + e)
    return out


def where(condition: np.ndarray, a: Tensor | ArrayLike, b: Tensor | ArrayLike) -> Tensor:
    """Elementwise ``a if condition else b``; the gradient goes to the branch that was taken."""
    cond = np.asarray(condition, dtype=bool)
    ta = a if isinstance(a, Tensor) else Tensor(a)
    tb = b if isinstance(b, Tensor) else Tensor(b)
    return Tensor._make(
        np.where(cond, ta.data, tb.data),
        (ta, tb),
        lambda g: (unbroadcast(g * cond, ta.shape), unbroadcast(g * ~cond, tb.shape)),
    )


def tensor(data: ArrayLike, requires_grad: bool = False, dtype: Any = np.float64) -> Tensor:
    """A new leaf tensor (float64 unless ``dtype`` says otherwise)."""
    return Tensor(np.array(data, dtype=dtype), requires_grad)


__all__ = ["Tensor", "no_grad", "tensor", "unbroadcast", "where"]
