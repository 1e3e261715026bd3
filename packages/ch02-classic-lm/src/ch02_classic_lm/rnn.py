"""RNN, LSTM and GRU cells written out in PyTorch, a character LM on them, and BPTT diagnostics.

The cells keep PyTorch's parameter layout (``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``;
gates ``i, f, g, o`` for the LSTM and ``r, z, n`` for the GRU), so weights copied from
``nn.LSTM``/``nn.GRU`` give the same outputs and gradients:

* RNN (Elman 1990): ``h' = tanh(W_ih x + b_ih + W_hh h + b_hh)``;
* LSTM (Hochreiter & Schmidhuber 1997, forget gate of Gers et al. 2000):
  ``c' = f * c + i * g``, ``h' = o * tanh(c')``;
* GRU (Cho et al. 2014): ``h' = (1 - z) * n + z * h``,
  ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``.

Backpropagation through time multiplies one Jacobian per step. For the vanilla RNN that product
shrinks (or grows) geometrically, so the loss at step T barely sees the input at step 0
(:func:`gradient_per_step`); the LSTM's additive cell path ``c' = f * c + ...`` keeps it alive
while the forget gate stays near 1. Gradient clipping (Pascanu et al. 2013) rescales a gradient
whose norm exceeds a threshold: it tames exploding gradients, it cannot fix vanishing ones.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

CELLS = ("rnn", "lstm", "gru")
INITS = ("default", "orthogonal", "large")
_GATES = {"rnn": 1, "lstm": 4, "gru": 3}


class Cell(nn.Module):
    """One recurrent cell of ``kind`` with PyTorch's parameter names and gate order."""

    def __init__(self, kind: str, input_size: int, hidden_size: int) -> None:
        super().__init__()
        if kind not in CELLS:
            raise ValueError(f"unknown cell {kind!r}: use one of {', '.join(CELLS)}")
        self.kind = kind
        self.hidden_size = hidden_size
        g = _GATES[kind] * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(g, input_size))
        self.weight_hh = nn.Parameter(torch.empty(g, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(g))
        self.bias_hh = nn.Parameter(torch.empty(g))
        self.reset_parameters()

    def reset_parameters(self, init: str = "default", forget_bias: float = 0.0) -> None:
        """``default``: U(-1/sqrt(H), 1/sqrt(H)) as PyTorch; ``orthogonal``: orthogonal recurrent
        blocks; ``large``: recurrent weights N(0, 3/sqrt(H)) (spectral radius ~3: explodes)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)
        H = self.hidden_size
        if init == "orthogonal":
            for j in range(_GATES[self.kind]):
                nn.init.orthogonal_(self.weight_hh.data[j * H : (j + 1) * H])
        elif init == "large":
            nn.init.normal_(self.weight_hh, 0.0, 3.0 / math.sqrt(H))
        elif init != "default":
            raise ValueError(f"unknown init {init!r}: use one of {', '.join(INITS)}")
        if self.kind == "lstm" and forget_bias:
            self.bias_ih.data[H : 2 * H] = forget_bias
            self.bias_hh.data[H : 2 * H] = 0.0

    def initial_state(self, batch: int, like: torch.Tensor):
        h = like.new_zeros(batch, self.hidden_size)
        return (h, h.clone()) if self.kind == "lstm" else h

    def forward(self, x: torch.Tensor, state):
        """One step: ``x`` ``[B, I]``, state ``h`` (or ``(h, c)``) -> new state."""
        gi = x @ self.weight_ih.T + self.bias_ih
        if self.kind == "rnn":
            return torch.tanh(gi + state @ self.weight_hh.T + self.bias_hh)
        if self.kind == "lstm":
            h, c = state
            i, f, g, o = (gi + h @ self.weight_hh.T + self.bias_hh).chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            return torch.sigmoid(o) * torch.tanh(c), c
        gh = state @ self.weight_hh.T + self.bias_hh
        ir, iz, in_ = gi.chunk(3, dim=1)
        hr, hz, hn = gh.chunk(3, dim=1)
        r = torch.sigmoid(ir + hr)
        z = torch.sigmoid(iz + hz)
        n = torch.tanh(in_ + r * hn)
        return (1 - z) * n + z * state


def hidden_of(state) -> torch.Tensor:
    return state[0] if isinstance(state, tuple) else state


class Recurrent(nn.Module):
    """A cell unrolled over time: ``x [B, T, I]`` -> outputs ``[B, T, H]`` and the last state."""

    def __init__(self, kind: str, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.cell = Cell(kind, input_size, hidden_size)

    def forward(self, x: torch.Tensor, state=None):
        if state is None:
            state = self.cell.initial_state(x.shape[0], x)
        outputs = []
        for t in range(x.shape[1]):
            state = self.cell(x[:, t], state)
            outputs.append(hidden_of(state))
        return torch.stack(outputs, dim=1), state

    def load_from_torch(self, module: nn.RNNBase) -> Recurrent:
        """Copy a one-layer ``nn.RNN``/``nn.LSTM``/``nn.GRU``'s weights into this layer."""
        with torch.no_grad():
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(self.cell, name).copy_(getattr(module, f"{name}_l0"))
        return self


class CharLM(nn.Module):
    """Embedding -> recurrent layer -> linear head over characters."""

    def __init__(self, vocab: int, kind: str = "lstm", emb: int = 32, hidden: int = 128) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, emb)
        self.rnn = Recurrent(kind, emb, hidden)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, ids: torch.Tensor, state=None):
        out, state = self.rnn(self.embed(ids), state)
        return self.head(out), state


def gradient_per_step(model: CharLM, ids: torch.Tensor) -> np.ndarray:
    """``||d loss_T / d x_t||`` for every step ``t``: how much the last prediction's loss
    reaches back to each input (the vanishing/exploding gradient, measured)."""
    x = model.embed(ids[:, :-1]).detach().requires_grad_(True)
    out, _ = model.rnn(x)
    logits = model.head(out[:, -1])
    loss = nn.functional.cross_entropy(logits, ids[:, -1])
    (grad,) = torch.autograd.grad(loss, x)
    return grad.norm(dim=2).mean(dim=0).numpy()


@dataclass
class CharCorpus:
    """Text as character ids, with a fixed vocabulary (unknown characters map to id 0)."""

    chars: str

    @classmethod
    def from_text(cls, text: str) -> CharCorpus:
        return cls("\x00" + "".join(sorted(set(text) - {"\x00"})))

    def encode(self, text: str) -> torch.Tensor:
        index = {c: i for i, c in enumerate(self.chars)}
        return torch.tensor([index.get(c, 0) for c in text], dtype=torch.long)


def batches(data: torch.Tensor, seq_len: int, batch: int, generator: torch.Generator):
    """Random windows of ``seq_len + 1`` ids, forever."""
    while True:
        starts = torch.randint(0, len(data) - seq_len - 1, (batch,), generator=generator)
        yield torch.stack([data[s : s + seq_len + 1] for s in starts.tolist()])


@dataclass
class TrainResult:
    kind: str
    losses: list[float]
    grad_norms: list[float]
    val_bits_per_char: float
    seconds: float
    tokens_per_second: float


def evaluate_bits(model: CharLM, data: torch.Tensor, seq_len: int) -> float:
    """Bits per character on ``data``, in consecutive windows with the state carried over."""
    model.eval()
    total, count, state = 0.0, 0, None
    with torch.no_grad():
        for s in range(0, len(data) - 1, seq_len):
            chunk = data[s : s + seq_len + 1].unsqueeze(0)
            if chunk.shape[1] < 2:
                break
            logits, state = model(chunk[:, :-1], state)
            total += nn.functional.cross_entropy(logits[0], chunk[0, 1:], reduction="sum").item()
            count += chunk.shape[1] - 1
    model.train()
    return total / count / math.log(2)


def train_char_lm(
    train_text: str,
    val_text: str,
    kind: str = "lstm",
    *,
    steps: int = 200,
    seq_len: int = 64,
    batch: int = 32,
    hidden: int = 128,
    lr: float = 3e-3,
    clip: float | None = 1.0,
    init: str = "default",
    forget_bias: float = 1.0,
    seed: int = 0,
) -> tuple[CharLM, TrainResult]:
    """Train a character LM with truncated BPTT (windows of ``seq_len``) and Adam."""
    torch.manual_seed(seed)
    corpus = CharCorpus.from_text(train_text)
    model = CharLM(len(corpus.chars), kind, hidden=hidden)
    model.rnn.cell.reset_parameters(init, forget_bias)
    data, val = corpus.encode(train_text), corpus.encode(val_text)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    losses, norms = [], []
    t0 = time.perf_counter()
    for _, ids in zip(range(steps), batches(data, seq_len, batch, gen), strict=False):
        logits, _ = model(ids[:, :-1])
        loss = nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1)
        )
        opt.zero_grad()
        loss.backward()
        total = torch.nn.utils.clip_grad_norm_(
            model.parameters(), clip if clip is not None else float("inf")
        )
        norms.append(float(total))
        opt.step()
        losses.append(loss.item())
    seconds = time.perf_counter() - t0
    bits = evaluate_bits(model, val, seq_len)
    return model, TrainResult(kind, losses, norms, bits, seconds, steps * batch * seq_len / seconds)


def exploding_gradients(
    text: str, *, steps: int = 60, seq_len: int = 40, lr: float = 0.3, seed: int = 0
) -> dict[str, dict]:
    """A vanilla RNN with large recurrent weights (``init="large"``) trained by SGD, without and
    with clipping the gradient norm at 1.

    At this init the gradient grows backwards in time (the first norms are ~10^4). Unclipped, the
    first update moves the weights by ``lr`` times that norm: every tanh unit saturates, the
    recurrence goes dead, and the loss drops to what a model with no memory reaches. Clipped,
    each update moves the weights by at most ``lr`` and the recurrence survives. Returned per run:
    losses, gradient norms, the largest update, the share of saturated units (``|h| > 0.99``) and
    ``reach``, the gradient from the last step to the first input over the one to the last.
    """
    out = {}
    corpus = CharCorpus.from_text(text)
    data = corpus.encode(text)
    for name, clip in (("no clipping", None), ("clip 1.0", 1.0)):
        torch.manual_seed(seed)
        model = CharLM(len(corpus.chars), "rnn", hidden=64)
        model.rnn.cell.reset_parameters("large")
        opt = torch.optim.SGD(model.parameters(), lr=lr)
        gen = torch.Generator().manual_seed(seed)
        losses, norms, updates = [], [], []
        for _, ids in zip(range(steps), batches(data, seq_len, 16, gen), strict=False):
            logits, _ = model(ids[:, :-1])
            loss = nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1)
            )
            opt.zero_grad()
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(
                model.parameters(), clip if clip is not None else float("inf")
            )
            before = model.rnn.cell.weight_hh.detach().clone()
            opt.step()
            updates.append(float((model.rnn.cell.weight_hh.detach() - before).norm()))
            losses.append(loss.item())
            norms.append(float(norm))
        probe = next(batches(data, seq_len, 16, torch.Generator().manual_seed(seed + 1)))
        with torch.no_grad():
            hidden, _ = model.rnn(model.embed(probe))
        reach = gradient_per_step(model, probe)
        out[name] = {
            "losses": losses,
            "grad_norms": norms,
            "max_update": max(updates),
            "saturated": float((hidden.abs() > 0.99).float().mean()),
            "reach": float(reach[0] / reach[-1]),
        }
    return out
