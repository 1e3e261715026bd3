"""DDPM (Ho et al., 2020) and DDIM (Song et al., 2021) noise schedulers, written out.

The forward process noises ``x0`` to ``x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps``; a model
predicts ``eps``; a scheduler step goes from ``x_t`` to ``x_{t-k}``. DDPM samples the posterior
``q(x_{t-k} | x_t, x0_hat)`` (with ``fixed_small`` variance); DDIM takes the deterministic
(``eta = 0``) or partly stochastic path through ``x0_hat`` and the predicted noise direction. Both
follow ``diffusers``' ``DDPMScheduler``/``DDIMScheduler`` with their defaults (linear betas
1e-4..0.02 over 1000 steps, "leading" timestep spacing, ``x0_hat`` clipped to [-1, 1]).
"""

from __future__ import annotations

import torch


def make_betas(
    steps: int = 1000, start: float = 1e-4, end: float = 0.02, schedule: str = "linear"
) -> torch.Tensor:
    """Beta schedule: ``linear`` or ``scaled_linear`` (Stable Diffusion's), float32."""
    if schedule == "linear":
        return torch.linspace(start, end, steps, dtype=torch.float32)
    if schedule == "scaled_linear":
        return torch.linspace(start**0.5, end**0.5, steps, dtype=torch.float32) ** 2
    raise ValueError(f"unknown beta schedule {schedule!r}")


class _Base:
    def __init__(
        self,
        num_train_timesteps: int = 1000,
        beta_start: float = 1e-4,
        beta_end: float = 0.02,
        beta_schedule: str = "linear",
        clip_sample: bool = True,
    ) -> None:
        self.num_train_timesteps = num_train_timesteps
        self.betas = make_betas(num_train_timesteps, beta_start, beta_end, beta_schedule)
        self.alphas_cumprod = torch.cumprod(1.0 - self.betas, dim=0)
        self.clip_sample = clip_sample
        self.num_inference_steps = num_train_timesteps
        self.timesteps = torch.arange(num_train_timesteps).flip(0)

    def set_timesteps(self, num_inference_steps: int) -> None:
        """Evenly spaced ("leading") timesteps, largest first."""
        ratio = self.num_train_timesteps // num_inference_steps
        self.num_inference_steps = num_inference_steps
        self.timesteps = (torch.arange(num_inference_steps) * ratio).flip(0)

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``sqrt(abar_t) x0 + sqrt(1 - abar_t) noise`` for a batch of timesteps ``t``."""
        abar = self.alphas_cumprod.to(x0.device)[t].view(-1, *([1] * (x0.dim() - 1)))
        return abar.sqrt() * x0 + (1 - abar).sqrt() * noise

    def _prev(self, t: int) -> int:
        return t - self.num_train_timesteps // self.num_inference_steps

    def _x0(self, eps: torch.Tensor, t: int, sample: torch.Tensor) -> torch.Tensor:
        abar = self.alphas_cumprod[t]
        x0 = (sample - (1 - abar) ** 0.5 * eps) / abar**0.5
        return x0.clamp(-1, 1) if self.clip_sample else x0


class DDPMScheduler(_Base):
    """Ancestral DDPM sampling with the "fixed_small" posterior variance."""

    def step(
        self,
        eps: torch.Tensor,
        t: int,
        sample: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """``x_{t-k}`` from ``x_t``; the noise is drawn from ``generator`` (as diffusers does)."""
        t = int(t)
        prev = self._prev(t)
        abar = self.alphas_cumprod[t]
        abar_prev = self.alphas_cumprod[prev] if prev >= 0 else torch.tensor(1.0)
        alpha = abar / abar_prev
        beta = 1 - alpha
        x0 = self._x0(eps, t, sample)
        mean = (abar_prev**0.5 * beta / (1 - abar)) * x0 + (
            alpha**0.5 * (1 - abar_prev) / (1 - abar)
        ) * sample
        if t > 0:
            noise = torch.randn(sample.shape, generator=generator, dtype=sample.dtype)
            variance = ((1 - abar_prev) / (1 - abar) * beta).clamp(min=1e-20)
            mean = mean + variance**0.5 * noise
        return mean


class DDIMScheduler(_Base):
    """DDIM: ``x_{t-k} = sqrt(abar_prev) x0_hat + sqrt(1 - abar_prev - s^2) eps + s z``."""

    def step(
        self,
        eps: torch.Tensor,
        t: int,
        sample: torch.Tensor,
        eta: float = 0.0,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """One DDIM step; ``eta = 0`` is deterministic, ``eta = 1`` is DDPM-like."""
        t = int(t)
        prev = self._prev(t)
        abar = self.alphas_cumprod[t]
        abar_prev = self.alphas_cumprod[prev] if prev >= 0 else torch.tensor(1.0)
        x0 = self._x0(eps, t, sample)
        variance = (1 - abar_prev) / (1 - abar) * (1 - abar / abar_prev)
        std = eta * variance**0.5
        prev_sample = abar_prev**0.5 * x0 + (1 - abar_prev - std**2) ** 0.5 * eps
        if eta > 0:
            noise = torch.randn(sample.shape, generator=generator, dtype=sample.dtype)
            prev_sample = prev_sample + std * noise
        return prev_sample
