"""Seq2seq with attention on a deterministic task: dates written in free text -> ISO 8601.

``"we met on the 3rd of March 1998 by the river"`` -> ``"1998-03-03"``. Characters in, characters
out. The encoder is a bidirectional GRU; the decoder a GRU cell fed the previous character and a
context vector:

* ``none``: the context is the encoder's final states for every step (Sutskever et al. 2014,
  Cho et al. 2014): the whole input squeezed into one vector;
* ``bahdanau``: additive attention ``v^T tanh(W_s s + W_h h_j)`` over the encoder states, from
  the previous decoder state (Bahdanau et al. 2015);
* ``luong``: multiplicative ("general") attention ``s^T W h_j`` from the current decoder state
  (Luong et al. 2015).

Decoding: greedy, or beam search keeping ``beam`` hypotheses and ranking finished ones by
``log P / length ** alpha`` (length normalisation; ``alpha = 0`` is plain log-probability, which
favours short outputs). With ``beam = 1`` beam search is greedy search.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import torch
from torch import nn

ATTENTIONS = ("none", "bahdanau", "luong")
MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
]  # fmt: skip
FILLER = [
    "we",
    "met",
    "on",
    "by",
    "the",
    "river",
    "after",
    "lunch",
    "she",
    "said",
    "it",
    "was",
    "raining",
    "that",
    "day",
    "the",
    "letter",
    "arrived",
    "and",
    "nobody",
    "remembered",
    "what",
    "happened",
    "next",
    "at",
    "the",
    "old",
    "station",
    "before",
    "the",
    "storm",
]
PAD, BOS, EOS = 0, 1, 2
CHARS = "".join(chr(c) for c in range(32, 127))


def _suffix(day: int) -> str:
    if day in (11, 12, 13):
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def render_date(year: int, month: int, day: int, style: int) -> str:
    """One of six ways people write a date."""
    name = MONTHS[month - 1]
    return [
        f"{day} {name} {year}",
        f"{name} {day}, {year}",
        f"the {day}{_suffix(day)} of {name} {year}",
        f"{name[:3]} {day} {year}",
        f"{day:02d}.{month:02d}.{year}",
        f"{year}/{month:02d}/{day:02d}",
    ][style]


def date_pairs(n: int, seed: int, filler: tuple[int, int] = (0, 3)) -> list[tuple[str, str]]:
    """``n`` (free text, ISO date) pairs; ``filler`` words on each side, uniformly in the range."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        year, month = rng.randint(1950, 2049), rng.randint(1, 12)
        day = rng.randint(1, 28)
        left = " ".join(rng.choice(FILLER) for _ in range(rng.randint(*filler)))
        right = " ".join(rng.choice(FILLER) for _ in range(rng.randint(*filler)))
        text = " ".join(
            x for x in (left, render_date(year, month, day, rng.randrange(6)), right) if x
        )
        out.append((text, f"{year:04d}-{month:02d}-{day:02d}"))
    return out


def encode(text: str, eos: bool = False) -> list[int]:
    ids = [3 + CHARS.index(c) if c in CHARS else 3 for c in text]
    return [*ids, EOS] if eos else ids


def decode(ids: list[int]) -> str:
    return "".join(CHARS[i - 3] for i in ids if i >= 3)


VOCAB = 3 + len(CHARS)


def _pad(rows: list[list[int]]) -> torch.Tensor:
    width = max(len(r) for r in rows)
    return torch.tensor([r + [PAD] * (width - len(r)) for r in rows], dtype=torch.long)


class Seq2Seq(nn.Module):
    """Bi-GRU encoder, GRU-cell decoder with ``attention`` in :data:`ATTENTIONS`."""

    def __init__(self, attention: str = "bahdanau", emb: int = 32, hidden: int = 64) -> None:
        super().__init__()
        if attention not in ATTENTIONS:
            raise ValueError(f"unknown attention {attention!r}: use one of {', '.join(ATTENTIONS)}")
        self.attention = attention
        self.hidden = hidden
        self.embed = nn.Embedding(VOCAB, emb, padding_idx=PAD)
        self.encoder = nn.GRU(emb, hidden, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(2 * hidden, hidden)
        self.decoder = nn.GRUCell(emb + 2 * hidden, hidden)
        self.w_s = nn.Linear(hidden, hidden, bias=False)
        self.w_h = nn.Linear(2 * hidden, hidden, bias=False)
        self.v = nn.Linear(hidden, 1, bias=False)
        self.w_general = nn.Linear(2 * hidden, hidden, bias=False)
        self.out = nn.Linear(hidden + 2 * hidden, VOCAB)

    def encode(self, src: torch.Tensor):
        mask = src != PAD
        lengths = mask.sum(1)
        packed = nn.utils.rnn.pack_padded_sequence(
            self.embed(src), lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        states, last = self.encoder(packed)
        states, _ = nn.utils.rnn.pad_packed_sequence(
            states, batch_first=True, total_length=src.shape[1]
        )
        summary = torch.cat([last[0], last[1]], dim=1)
        # the attention keys depend only on the encoder states: computed once per input
        keys = self.w_general(states) if self.attention == "luong" else self.w_h(states)
        return states, mask, summary, torch.tanh(self.bridge(summary)), keys

    def _attend(self, query: torch.Tensor, enc):
        states, mask, summary, _, keys = enc
        if self.attention == "none":
            return summary, None
        if self.attention == "bahdanau":
            scores = self.v(torch.tanh(self.w_s(query).unsqueeze(1) + keys)).squeeze(2)
        else:
            scores = torch.bmm(keys, query.unsqueeze(2)).squeeze(2)
        weights = torch.softmax(scores.masked_fill(~mask, -1e9), dim=1)
        return torch.bmm(weights.unsqueeze(1), states).squeeze(1), weights

    def step(self, prev: torch.Tensor, s: torch.Tensor, enc):
        """One decoder step: previous tokens ``[B]`` and state -> log-probs, state, weights."""
        summary = enc[2]
        if self.attention == "luong":
            s = self.decoder(torch.cat([self.embed(prev), summary.new_zeros(summary.shape)], 1), s)
            context, weights = self._attend(s, enc)
        else:
            context, weights = self._attend(s, enc)
            s = self.decoder(torch.cat([self.embed(prev), context], 1), s)
        logits = self.out(torch.cat([s, context], 1))
        return torch.log_softmax(logits, dim=1), s, weights

    def forward(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        """Teacher-forced mean cross-entropy of ``tgt`` (ids ending in EOS, PAD-padded)."""
        enc = self.encode(src)
        s = enc[3]
        prev = torch.full((src.shape[0],), BOS, dtype=torch.long)
        losses = []
        for t in range(tgt.shape[1]):
            logp, s, _ = self.step(prev, s, enc)
            losses.append(
                nn.functional.nll_loss(logp, tgt[:, t], ignore_index=PAD, reduction="sum")
            )
            prev = tgt[:, t]
        return torch.stack(losses).sum() / (tgt != PAD).sum()


@torch.no_grad()
def greedy(model: Seq2Seq, text: str, max_len: int = 16) -> tuple[str, float, list]:
    """Greedy decoding: (output, log-probability, attention rows)."""
    enc = model.encode(torch.tensor([encode(text)]))
    s, prev = enc[3], torch.tensor([BOS])
    out, total, rows = [], 0.0, []
    for _ in range(max_len):
        logp, s, w = model.step(prev, s, enc)
        token = int(logp[0].argmax())
        total += float(logp[0, token])
        if w is not None:
            rows.append(w[0].tolist())
        if token == EOS:
            break
        out.append(token)
        prev = torch.tensor([token])
    return decode(out), total, rows


@torch.no_grad()
def beam_search(
    model: Seq2Seq, text: str, beam: int = 4, alpha: float = 0.6, max_len: int = 16
) -> tuple[str, float]:
    """Beam search; finished hypotheses ranked by ``log P / len ** alpha`` (len counts EOS)."""
    enc = model.encode(torch.tensor([encode(text)]))
    live = [([], 0.0, enc[3])]
    finished: list[tuple[float, list[int], float]] = []
    for _ in range(max_len):
        candidates = []
        for tokens, score, s in live:
            prev = torch.tensor([tokens[-1] if tokens else BOS])
            logp, s2, _ = model.step(prev, s, enc)
            top = torch.topk(logp[0], beam)
            for lp, tok in zip(top.values.tolist(), top.indices.tolist(), strict=False):
                candidates.append(([*tokens, tok], score + lp, s2))
        candidates.sort(key=lambda c: c[1], reverse=True)
        live = []
        for tokens, score, s in candidates:
            if tokens[-1] == EOS:
                finished.append((score / len(tokens) ** alpha, tokens[:-1], score))
            else:
                live.append((tokens, score, s))
            if len(live) == beam:
                break
        if len(finished) >= beam or not live:
            break
    if not finished:
        finished = [(score / len(t) ** alpha, t, score) for t, score, _ in live]
    best = max(finished, key=lambda f: f[0])
    return decode(best[1]), best[2]


@dataclass
class Seq2SeqResult:
    attention: str
    losses: list[float]
    seconds: float
    exact_match: float
    predictions: list[str]
    references: list[str]
    sources: list[str]


def train_seq2seq(
    attention: str = "bahdanau",
    *,
    steps: int = 400,
    batch: int = 64,
    hidden: int = 64,
    lr: float = 3e-3,
    filler: tuple[int, int] = (0, 3),
    n_test: int = 200,
    seed: int = 0,
) -> tuple[Seq2Seq, Seq2SeqResult]:
    """Train on fresh random pairs each step; greedy exact match on ``n_test`` held-out pairs."""
    torch.manual_seed(seed)
    model = Seq2Seq(attention, hidden=hidden)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    train = date_pairs(steps * batch, seed=seed + 1, filler=filler)
    losses = []
    t0 = time.perf_counter()
    for i in range(steps):
        chunk = train[i * batch : (i + 1) * batch]
        src = _pad([encode(x) for x, _ in chunk])
        tgt = _pad([encode(y, eos=True) for _, y in chunk])
        loss = model(src, tgt)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    seconds = time.perf_counter() - t0
    model.eval()
    test = date_pairs(n_test, seed=seed + 10_000, filler=filler)
    preds = [greedy(model, x)[0] for x, _ in test]
    exact = sum(p == y for p, (_, y) in zip(preds, test, strict=False)) / len(test)
    return model, Seq2SeqResult(
        attention, losses, seconds, exact, preds, [y for _, y in test], [x for x, _ in test]
    )


def attention_map(model: Seq2Seq, text: str, path) -> str:
    """Save the greedy decode's attention weights as a heat map PNG; returns the output."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from llmpath_core.report import save_figure

    output, _, rows = greedy(model, text)
    if not rows:
        raise ValueError("this model has no attention to plot (attention='none')")
    fig, ax = plt.subplots(figsize=(max(4, len(text) * 0.16), 3))
    ax.imshow(rows[: len(output) + 1], aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(text)), list(text), fontsize=7)
    ax.set_yticks(range(len(output) + 1), [*list(output), "</s>"], fontsize=7)
    ax.set_title(f"{model.attention} attention", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
    return output
