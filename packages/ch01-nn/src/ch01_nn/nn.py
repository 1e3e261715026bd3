"""Layers: ``Linear``, the activations, ``Dropout``, ``BatchNorm1d`` and a ``Sequential`` MLP.

The modules mirror ``torch.nn`` (same weight layout, same training/eval behaviour, same batch-norm
statistics) so that a network can be copied into torch and its gradients compared one to one.
:func:`mlp` builds the multilayer perceptron every lab uses from a list of layer sizes.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

import numpy as np

from ch01_nn.autodiff import Tensor
from ch01_nn.init import init_weight

ACTIVATIONS = ("sigmoid", "tanh", "relu", "gelu", "silu")


class Module:
    """A callable with parameters and a training flag (what ``torch.nn.Module`` is, minus hooks)."""

    training: bool = True

    def __call__(self, x: Tensor) -> Tensor:
        return self.forward(x)

    def forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def children(self) -> Sequence[Module]:
        return ()

    def own_parameters(self) -> list[Tensor]:
        return []

    def parameters(self) -> list[Tensor]:
        """Every trainable tensor, in a fixed order (this module's, then its children's)."""
        params = list(self.own_parameters())
        for child in self.children():
            params += child.parameters()
        return params

    def train(self, mode: bool = True) -> Module:
        self.training = mode
        for child in self.children():
            child.train(mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def astype(self, dtype) -> Module:
        """Cast every parameter in place (float64 for gradient checks, float32 to train)."""
        for p in self.parameters():
            p.data = p.data.astype(dtype)
        return self


class Linear(Module):
    """``y = x Wᵀ + b`` with ``W`` of shape ``(out_features, in_features)`` as in torch."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        init: str = "xavier",
        rng: np.random.Generator | None = None,
        dtype=np.float32,
    ) -> None:
        if in_features < 1 or out_features < 1:
            raise ValueError(f"layer sizes must be positive, got {in_features}->{out_features}")
        rng = rng if rng is not None else np.random.default_rng(0)
        self.in_features, self.out_features = in_features, out_features
        self.weight = Tensor(init_weight(init, in_features, out_features, rng).astype(dtype), True)
        self.bias = Tensor(np.zeros(out_features, dtype=dtype), True)

    def own_parameters(self) -> list[Tensor]:
        return [self.weight, self.bias]

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear({self.in_features}, {self.out_features}) got inputs of width {x.shape[-1]}"
            )
        return x @ self.weight.T + self.bias

    def __repr__(self) -> str:
        return f"Linear({self.in_features}, {self.out_features})"


class Activation(Module):
    """One of :data:`ACTIVATIONS`, applied elementwise."""

    def __init__(self, name: str) -> None:
        if name not in ACTIVATIONS:
            raise ValueError(f"unknown activation {name!r}: use one of {', '.join(ACTIVATIONS)}")
        self.name = name

    def forward(self, x: Tensor) -> Tensor:
        return getattr(x, self.name)()

    def __repr__(self) -> str:
        return self.name


class Dropout(Module):
    """Zero each activation with probability ``p`` in training and scale the rest by 1/(1−p).

    Inverted dropout (Srivastava et al., 2014, as torch does it): evaluation is the identity.
    """

    def __init__(self, p: float, rng: np.random.Generator | None = None) -> None:
        if not 0 <= p < 1:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p
        self.rng = rng if rng is not None else np.random.default_rng(0)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        keep = (self.rng.random(x.shape) >= self.p).astype(x.dtype) / (1 - self.p)
        return x * keep

    def __repr__(self) -> str:
        return f"Dropout({self.p})"


class BatchNorm1d(Module):
    """Normalise each feature over the batch, then scale and shift (Ioffe & Szegedy, 2015).

    Training uses the batch mean and biased variance and updates running statistics with the
    unbiased variance and ``momentum``, as ``torch.nn.BatchNorm1d``; evaluation uses the running
    statistics.
    """

    def __init__(
        self, features: int, *, momentum: float = 0.1, eps: float = 1e-5, dtype=np.float32
    ) -> None:
        self.features, self.momentum, self.eps = features, momentum, eps
        self.weight = Tensor(np.ones(features, dtype=dtype), True)
        self.bias = Tensor(np.zeros(features, dtype=dtype), True)
        self.running_mean = np.zeros(features, dtype=dtype)
        self.running_var = np.ones(features, dtype=dtype)

    def own_parameters(self) -> list[Tensor]:
        return [self.weight, self.bias]

    def forward(self, x: Tensor) -> Tensor:
        if self.training:
            n = x.shape[0]
            if n < 2:
                raise ValueError("batch norm needs at least 2 examples per batch in training")
            mean = x.mean(axis=0, keepdims=True)
            centred = x - mean
            var = (centred * centred).mean(axis=0, keepdims=True)
            m = self.momentum
            self.running_mean = (1 - m) * self.running_mean + m * mean.data[0]
            self.running_var = (1 - m) * self.running_var + m * var.data[0] * n / (n - 1)
            x_hat = centred / (var + self.eps).sqrt()
        else:
            x_hat = (x - self.running_mean) / np.sqrt(self.running_var + self.eps)
        return x_hat * self.weight + self.bias

    def __repr__(self) -> str:
        return f"BatchNorm1d({self.features})"


class Sequential(Module):
    """Modules applied in order; Linear layers must chain (each input is the previous output)."""

    def __init__(self, *layers: Module) -> None:
        widths = [m for m in layers if isinstance(m, Linear)]
        for a, b in itertools.pairwise(widths):
            if a.out_features != b.in_features:
                raise ValueError(
                    f"layer sizes do not chain: {a!r} outputs {a.out_features} but "
                    f"{b!r} takes {b.in_features}"
                )
        self.layers = list(layers)

    def children(self) -> Sequence[Module]:
        return self.layers

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return x

    def linears(self) -> list[Linear]:
        return [m for m in self.layers if isinstance(m, Linear)]

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)

    def __repr__(self) -> str:
        return "Sequential(" + ", ".join(map(repr, self.layers)) + ")"


def mlp(
    sizes: Sequence[int],
    activation: str = "relu",
    *,
    init: str = "he",
    dropout: float = 0.0,
    batchnorm: bool = False,
    seed: int = 0,
    dtype=np.float32,
) -> Sequential:
    """A multilayer perceptron ``sizes[0] → … → sizes[-1]``: Linear, [BatchNorm], act, [Dropout].

    The last Linear has no activation (it outputs logits or regression values).
    """
    if len(sizes) < 2:
        raise ValueError(f"an MLP needs at least an input and an output size, got {list(sizes)}")
    if any(int(s) < 1 for s in sizes):
        raise ValueError(f"layer sizes must be positive integers, got {list(sizes)}")
    rng = np.random.default_rng(seed)
    layers: list[Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(Linear(int(a), int(b), init=init, rng=rng, dtype=dtype))
        if i < len(sizes) - 2:
            if batchnorm:
                layers.append(BatchNorm1d(int(b), dtype=dtype))
            layers.append(Activation(activation))
            if dropout > 0:
                layers.append(Dropout(dropout, rng=np.random.default_rng(seed + 1000 + i)))
    return Sequential(*layers)


__all__ = [
    "ACTIVATIONS",
    "Activation",
    "BatchNorm1d",
    "Dropout",
    "Linear",
    "Module",
    "Sequential",
    "mlp",
]
