"""RWKV-4 (Peng et al., 2023): attention-free time mixing in a parallel and a recurrent form.

Time mixing computes, per channel, with decay ``w = exp(time_decay) > 0`` and bonus
``u = time_first`` for the current token:

    wkv_t = (sum_{s<t} e^{-(t-1-s) w + k_s} v_s + e^{u + k_t} v_t)
            / (sum_{s<t} e^{-(t-1-s) w + k_s} + e^{u + k_t})

* the **parallel form** (training): for each channel a ``T x T`` matrix of scores
  ``k_s - (t-1-s) w`` (``u + k_t`` on the diagonal, -inf above it); ``wkv`` is its softmax
  over ``s`` times ``v`` — attention with a fixed, position-decaying bias, all tokens at once;
* the **recurrent form** (inference): the numerator, denominator and a running maximum (for
  stability) are a three-number state per channel, updated once per token — constant memory
  however long the generation (``transformers``' ``rwkv_linear_attention_cpu``).

Token shift mixes each position with the previous one (``time_mix_*``), channel mixing is a
squared-ReLU MLP gated by a sigmoid receptance. :class:`RwkvLM` uses ``RwkvForCausalLM``'s
parameter names, so its ``state_dict`` loads unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ch15_architectures.mamba import LMOutput


def wkv_parallel(time_decay, time_first, k, v):
    """``wkv`` for all positions at once; ``k, v`` ``(b, T, C)``."""
    t = k.shape[1]
    w = torch.exp(time_decay.float())  # (C,)
    pos = torch.arange(t, device=k.device, dtype=torch.float)
    gap = pos[:, None] - 1 - pos[None, :]  # t - 1 - s
    kf = k.float()
    scores = kf[:, None, :, :] - gap[None, :, :, None] * w  # (b, t, s, C)
    diag = torch.eye(t, dtype=torch.bool, device=k.device)[None, :, :, None]
    scores = torch.where(diag, (time_first.float() + kf)[:, None, :, :].expand_as(scores), scores)
    future = torch.ones(t, t, dtype=torch.bool, device=k.device).triu(1)[None, :, :, None]
    scores = scores.masked_fill(future, float("-inf"))
    return (scores.softmax(dim=2) * v.float()[:, None, :, :]).sum(2).to(k.dtype)


def wkv_step(time_decay, time_first, k, v, state):
    """One recurrent step: ``k, v`` ``(b, C)``; ``state`` = (num, den, max). Returns wkv, state."""
    num, den, mx = state
    kf = k.float()
    out_max = torch.maximum(mx, kf + time_first)
    e1, e2 = torch.exp(mx - out_max), torch.exp(kf + time_first - out_max)
    wkv = (e1 * num + e2 * v) / (e1 * den + e2)
    new_max = torch.maximum(mx - torch.exp(time_decay), kf)
    e1, e2 = torch.exp(mx - torch.exp(time_decay) - new_max), torch.exp(kf - new_max)
    return wkv.to(k.dtype), (e1 * num + e2 * v, e1 * den + e2, new_max)


@dataclass
class RwkvConfig:
    """An RWKV-4 LM; field meanings follow ``transformers.RwkvConfig``."""

    vocab_size: int = 4096
    hidden_size: int = 64
    num_hidden_layers: int = 2
    attention_hidden_size: int | None = None
    intermediate_size: int | None = None
    layer_norm_epsilon: float = 1e-5
    tie_word_embeddings: bool = False
    max_position_embeddings: int = 256


class TimeMix(nn.Module):
    def __init__(self, config: RwkvConfig, layer: int) -> None:
        super().__init__()
        d = config.hidden_size
        a = config.attention_hidden_size or d
        ratio = 1 - layer / max(1, config.num_hidden_layers)
        ramp = (torch.arange(d) / d)[None, None]
        self.time_decay = nn.Parameter(-5 + 8 * (torch.arange(a) / max(1, a - 1)) ** 0.7)
        self.time_first = nn.Parameter(torch.full((a,), 0.3).log())
        self.time_mix_key = nn.Parameter(ramp**ratio)
        self.time_mix_value = nn.Parameter(ramp**ratio)
        self.time_mix_receptance = nn.Parameter(ramp ** (0.5 * ratio))
        self.key = nn.Linear(d, a, bias=False)
        self.value = nn.Linear(d, a, bias=False)
        self.receptance = nn.Linear(d, a, bias=False)
        self.output = nn.Linear(a, d, bias=False)

    def _rkv(self, x, prev):
        k = self.key(x * self.time_mix_key + prev * (1 - self.time_mix_key))
        v = self.value(x * self.time_mix_value + prev * (1 - self.time_mix_value))
        r = torch.sigmoid(
            self.receptance(x * self.time_mix_receptance + prev * (1 - self.time_mix_receptance))
        )
        return r, k, v

    def forward(self, x):
        prev = nn.functional.pad(x, (0, 0, 1, -1))
        r, k, v = self._rkv(x, prev)
        return self.output(r * wkv_parallel(self.time_decay, self.time_first, k, v))

    def step(self, x, state):
        """``x`` ``(b, 1, d)``; ``state`` = (previous x, num, den, max)."""
        prev, *wkv_state = state
        r, k, v = self._rkv(x, prev)
        wkv, wkv_state = wkv_step(self.time_decay, self.time_first, k, v, wkv_state)
        return self.output(r * wkv), (x, *wkv_state)


class ChannelMix(nn.Module):
    def __init__(self, config: RwkvConfig, layer: int) -> None:
        super().__init__()
        d = config.hidden_size
        hidden = config.intermediate_size or 4 * d
        ratio = 1 - layer / max(1, config.num_hidden_layers)
        ramp = (torch.arange(d) / d)[None, None]
        self.time_mix_key = nn.Parameter(ramp**ratio)
        self.time_mix_receptance = nn.Parameter(ramp**ratio)
        self.key = nn.Linear(d, hidden, bias=False)
        self.receptance = nn.Linear(d, d, bias=False)
        self.value = nn.Linear(hidden, d, bias=False)

    def _mix(self, x, prev):
        k = torch.square(
            torch.relu(self.key(x * self.time_mix_key + prev * (1 - self.time_mix_key)))
        )
        r = torch.sigmoid(
            self.receptance(x * self.time_mix_receptance + prev * (1 - self.time_mix_receptance))
        )
        return r * self.value(k)

    def forward(self, x):
        return self._mix(x, nn.functional.pad(x, (0, 0, 1, -1)))

    def step(self, x, prev):
        return self._mix(x, prev), x


class RwkvBlock(nn.Module):
    def __init__(self, config: RwkvConfig, layer: int) -> None:
        super().__init__()
        d, eps = config.hidden_size, config.layer_norm_epsilon
        if layer == 0:
            self.pre_ln = nn.LayerNorm(d, eps=eps)
        self.ln1 = nn.LayerNorm(d, eps=eps)
        self.ln2 = nn.LayerNorm(d, eps=eps)
        self.attention = TimeMix(config, layer)
        self.feed_forward = ChannelMix(config, layer)

    def forward(self, x):
        if hasattr(self, "pre_ln"):
            x = self.pre_ln(x)
        x = x + self.attention(self.ln1(x))
        return x + self.feed_forward(self.ln2(x))

    def step(self, x, state):
        att_state, ffn_prev = state
        if hasattr(self, "pre_ln"):
            x = self.pre_ln(x)
        a, att_state = self.attention.step(self.ln1(x), att_state)
        x = x + a
        f, ffn_prev = self.feed_forward.step(self.ln2(x), ffn_prev)
        return x + f, (att_state, ffn_prev)


class _Body(nn.Module):
    def __init__(self, config: RwkvConfig) -> None:
        super().__init__()
        self.embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.blocks = nn.ModuleList(RwkvBlock(config, i) for i in range(config.num_hidden_layers))
        self.ln_out = nn.LayerNorm(config.hidden_size)


class RwkvLM(nn.Module):
    """RWKV-4 language model with ``RwkvForCausalLM``'s parameter names."""

    def __init__(self, config: RwkvConfig) -> None:
        super().__init__()
        self.config = config
        self.rwkv = _Body(config)
        nn.init.normal_(self.rwkv.embeddings.weight, std=0.02)
        self.head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        if config.tie_word_embeddings:
            self.head.weight = self.rwkv.embeddings.weight

    def forward(self, input_ids: torch.Tensor) -> LMOutput:
        """Parallel form: every position at once."""
        x = self.rwkv.embeddings(input_ids)
        for block in self.rwkv.blocks:
            x = block(x)
        return LMOutput(self.head(self.rwkv.ln_out(x)))

    def init_state(self, batch: int = 1):
        """Zero state per layer: token-shift inputs and (num, den, max) of the wkv."""
        d = self.config.hidden_size
        a = self.config.attention_hidden_size or d
        p = next(self.parameters())
        zeros = lambda n: torch.zeros(batch, 1, n, device=p.device, dtype=torch.float32)  # noqa: E731
        return [
            ((zeros(d), zeros(a), zeros(a), zeros(a) - 1e38), zeros(d)) for _ in self.rwkv.blocks
        ]

    def step(self, token: torch.Tensor, state):
        """Recurrent form: logits ``(b, V)`` for one token ``(b,)`` and the next state."""
        x = self.rwkv.embeddings(token)[:, None]
        new_state = []
        for block, layer_state in zip(self.rwkv.blocks, state, strict=True):
            x, layer_state = block.step(x, layer_state)
            new_state.append(layer_state)
        return self.head(self.rwkv.ln_out(x))[:, 0], new_state

    def forward_recurrent(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Logits of every position computed token by token with the recurrent state."""
        state = self.init_state(input_ids.shape[0])
        out = []
        for t in range(input_ids.shape[1]):
            logits, state = self.step(input_ids[:, t], state)
            out.append(logits)
        return torch.stack(out, dim=1)

    @torch.no_grad()
    def generate(self, input_ids: torch.Tensor, max_new_tokens: int) -> torch.Tensor:
        """Greedy generation with the recurrent state: memory does not grow with length."""
        state = self.init_state(input_ids.shape[0])
        for t in range(input_ids.shape[1]):
            logits, state = self.step(input_ids[:, t], state)
        out = [input_ids]
        for _ in range(max_new_tokens):
            token = logits.argmax(-1)
            out.append(token[:, None])
            logits, state = self.step(token, state)
        return torch.cat(out, dim=1)
