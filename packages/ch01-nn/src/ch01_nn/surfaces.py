"""Classic test surfaces for optimizers, each with its analytic gradient and known minimum.

- Rosenbrock ``(1−x)² + 100(y−x²)²``: a curved, narrow valley; minimum 0 at (1, 1).
- Beale: flat plateaus and steep walls; minimum 0 at (3, 0.5).
- Saddle ``x² + y⁴/4 − y²/2``: a saddle point at the origin between two minima −1/4 at
  (0, ±1); started almost on the ridge, plain gradient descent lingers near the saddle.
- Noisy ill-conditioned quadratic ``½(x² + 50y²)`` whose gradient carries Gaussian noise (a
  stand-in for mini-batch noise); condition number 50, minimum 0 at the origin.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Surface:
    """A 2-D function, its gradient, where to start, the minimum value and the plot window.

    ``f`` and ``grad`` are vectorised: ``grad`` takes points of shape ``(..., 2)``, so one call
    moves a whole batch of runs (one per learning rate) at once.
    """

    name: str
    f: Callable[[np.ndarray, np.ndarray], np.ndarray]
    grad: Callable[[np.ndarray], np.ndarray]
    start: tuple[float, float]
    minimum: float
    minimizers: tuple[tuple[float, float], ...]
    window: tuple[float, float, float, float]  # xmin, xmax, ymin, ymax
    noise: float = 0.0
    tol: float = 1e-4  # converged when f − f* < tol

    def value(self, p: np.ndarray) -> np.ndarray:
        """f at points ``p`` of shape ``(..., 2)``."""
        return self.f(p[..., 0], p[..., 1])

    def noisy_grad(self, p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The gradient at ``p`` (shape ``(..., 2)``), plus N(0, noise²) if the surface is noisy."""
        g = self.grad(p)
        return g + self.noise * rng.normal(size=g.shape) if self.noise else g


def _xy(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return p[..., 0], p[..., 1]


def _rosen_grad(p: np.ndarray) -> np.ndarray:
    x, y = _xy(p)
    return np.stack([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)], axis=-1)


def _beale_terms(x, y):
    return 1.5 - x + x * y, 2.25 - x + x * y**2, 2.625 - x + x * y**3


def _beale(x, y):
    a, b, c = _beale_terms(x, y)
    return a**2 + b**2 + c**2


def _beale_grad(p: np.ndarray) -> np.ndarray:
    x, y = _xy(p)
    a, b, c = _beale_terms(x, y)
    dx = 2 * a * (y - 1) + 2 * b * (y**2 - 1) + 2 * c * (y**3 - 1)
    dy = 2 * a * x + 2 * b * 2 * x * y + 2 * c * 3 * x * y**2
    return np.stack([dx, dy], axis=-1)


SURFACES: dict[str, Surface] = {
    "rosenbrock": Surface(
        "rosenbrock",
        lambda x, y: (1 - x) ** 2 + 100 * (y - x * x) ** 2,
        _rosen_grad,
        start=(-1.5, 2.0),
        minimum=0.0,
        minimizers=((1.0, 1.0),),
        window=(-2.0, 2.0, -1.0, 3.0),
    ),
    "beale": Surface(
        "beale",
        _beale,
        _beale_grad,
        start=(1.0, 1.4),
        minimum=0.0,
        minimizers=((3.0, 0.5),),
        window=(-0.5, 4.0, -1.0, 2.0),
    ),
    "saddle": Surface(
        "saddle",
        lambda x, y: x * x + y**4 / 4 - y * y / 2,
        lambda p: np.stack([2 * p[..., 0], p[..., 1] ** 3 - p[..., 1]], axis=-1),
        start=(1.5, 1e-3),
        minimum=-0.25,
        minimizers=((0.0, 1.0), (0.0, -1.0)),
        window=(-2.0, 2.0, -1.6, 1.6),
    ),
    "noisy-quadratic": Surface(
        "noisy-quadratic",
        lambda x, y: 0.5 * (x * x + 50 * y * y),
        lambda p: np.stack([p[..., 0], 50 * p[..., 1]], axis=-1),
        start=(-3.0, 1.0),
        minimum=0.0,
        minimizers=((0.0, 0.0),),
        window=(-3.5, 3.5, -1.5, 1.5),
        noise=0.5,
        tol=1e-2,
    ),
}


__all__ = ["SURFACES", "Surface"]
