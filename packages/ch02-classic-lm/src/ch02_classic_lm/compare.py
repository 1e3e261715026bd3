"""Why transformers won, measured: n-gram vs feed-forward LM vs LSTM vs a one-layer transformer.

All four see the same held-out characters with exactly ``k`` characters of context and are scored
on the next one (bits per character), for several ``k``:

* **n-gram** (modified Kneser-Ney, order ``k + 1``): counts, no training steps, but the table of
  contexts grows with ``k`` and most long contexts were never seen;
* **feed-forward LM** (Bengio et al. 2003): the ``k`` embeddings concatenated, one tanh layer, a
  softmax; a fixed window, parameters grow with ``k``;
* **LSTM** (:mod:`torch.nn`): any context, but ``k`` sequential steps per token, in training and
  inference alike;
* **transformer**, one layer: causal self-attention over the window, every position in parallel
  (one step per layer, whatever ``k`` is).

A copy task shows the long-range side: 8 random symbols, a separator, the same 8 again; accuracy on
the copied half. An n-gram of order 5 cannot see 9 symbols back; the others can, if they learn to.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from torch import nn

from ch02_classic_lm.ngram import NgramLM
from llmpath_core import load_text


class FeedForwardLM(nn.Module):
    """Bengio et al. (2003): concatenated context embeddings -> tanh -> softmax, plus the paper's
    direct connections from the embeddings to the output."""

    def __init__(self, vocab: int, context: int, emb: int = 24, hidden: int = 128) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, emb)
        self.hidden = nn.Linear(context * emb, hidden)
        self.out = nn.Linear(hidden, vocab)
        self.direct = nn.Linear(context * emb, vocab, bias=False)

    def forward(self, ctx: torch.Tensor) -> torch.Tensor:
        x = self.embed(ctx).flatten(1)
        return self.out(torch.tanh(self.hidden(x))) + self.direct(x)


class LSTMLM(nn.Module):
    def __init__(self, vocab: int, emb: int = 24, hidden: int = 128) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, emb)
        self.lstm = nn.LSTM(emb, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.out(self.lstm(self.embed(ids))[0])


class OneLayerTransformer(nn.Module):
    """Pre-norm block: causal multi-head self-attention and an MLP, learned positions."""

    def __init__(self, vocab: int, max_len: int, dim: int = 64, heads: int = 4) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.pos = nn.Embedding(max_len, dim)
        self.heads = heads
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))
        self.out = nn.Linear(dim, vocab)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        b, t = ids.shape
        x = self.embed(ids) + self.pos(torch.arange(t))
        q, k, v = self.qkv(self.norm1(x)).view(b, t, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        att = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(att.transpose(1, 2).reshape(b, t, -1))
        x = x + self.mlp(self.norm2(x))
        return self.out(self.norm3(x))


def _windows(data: torch.Tensor, length: int, n: int, gen: torch.Generator) -> torch.Tensor:
    starts = torch.randint(0, len(data) - length, (n,), generator=gen)
    return torch.stack([data[s : s + length] for s in starts.tolist()])


def _train(model: nn.Module, batches, steps: int, lr: float = 3e-3) -> float:
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    t0 = time.perf_counter()
    for _ in range(steps):
        inputs, targets, loss_fn = next(batches)
        loss = loss_fn(model(inputs), targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def _all_positions(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def _neural_models(vocab: int, k: int):
    return {
        "ffn": FeedForwardLM(vocab, k),
        "lstm": LSTMLM(vocab),
        "transformer": OneLayerTransformer(vocab, k + 1),
    }


def _fit_and_score(name, model, data, test, k, steps, batch, gen):
    """Train ``model`` on windows of ``data``; bits for the last symbol of each ``test`` window."""

    def stream():
        while True:
            w = _windows(data, k + 1, batch, gen)
            if name == "ffn":
                yield w[:, :k], w[:, k], nn.functional.cross_entropy
            else:
                yield w[:, :-1], w[:, 1:], _all_positions

    seconds = _train(model, stream(), steps)
    model.eval()
    with torch.no_grad():
        logits = model(test[:, :k]) if name == "ffn" else model(test[:, :k])[:, -1]
        logp = torch.log_softmax(logits, dim=1)
    model.train()
    bits = -logp.gather(1, test[:, k : k + 1]).mean().item() / math.log(2)
    acc = (logits.argmax(1) == test[:, k]).float().mean().item()
    return bits, acc, seconds


def _ngram_score(text: str, test: torch.Tensor, chars: str, k: int) -> tuple[float, float, float]:
    t0 = time.perf_counter()
    model = NgramLM(k + 1, "modified-kneser-ney").fit([list(text)], bos=False, eos=False)
    seconds = time.perf_counter() - t0
    ids = {c: model.vocab.index.get(c, 2) for c in chars}
    total = correct = 0.0
    for row in test.tolist():
        ctx = [ids[chars[i]] for i in row[:k]]
        target = ids[chars[row[k]]]
        total -= math.log2(model.prob(target, ctx))
        dist = model.distribution(ctx)
        correct += float(int(np.argmax(dist)) == target)
    return total / len(test), correct / len(test), seconds


SEQUENTIAL_STEPS = {"n-gram": "0 (a table lookup)", "ffn": "1", "lstm": "k", "transformer": "1"}


def copy_task(steps: int, seed: int, length: int = 8, symbols: int = 8) -> list[dict]:
    """Accuracy on the copied half of ``x | x`` for each model (context = the whole prefix)."""
    gen = torch.Generator().manual_seed(seed)
    vocab = symbols + 1
    sep = symbols

    def sample(n: int) -> torch.Tensor:
        x = torch.randint(0, symbols, (n, length), generator=gen)
        return torch.cat([x, torch.full((n, 1), sep), x], dim=1)

    total = 2 * length + 1
    rows = []
    test = sample(500)
    # n-gram of order 5 on one long stream of training sequences
    stream = sample(2000).flatten().tolist()
    chars = "abcdefgh|"
    ngram = NgramLM(5, "modified-kneser-ney").fit(
        [[chars[i] for i in stream]], bos=False, eos=False
    )
    hits = 0
    for row in test.tolist():
        for pos in range(length + 1, total):
            ctx = ngram.vocab.ids([chars[i] for i in row[max(0, pos - 4) : pos]])
            hits += int(np.argmax(ngram.distribution(ctx))) == ngram.vocab.index[chars[row[pos]]]
    rows.append({"model": "n-gram (order 5)", "copy accuracy": hits / (len(test) * length)})
    for name, model in (
        ("ffn", FeedForwardLM(vocab, total - 1)),
        ("lstm", LSTMLM(vocab)),
        ("transformer", OneLayerTransformer(vocab, total)),
    ):
        torch.manual_seed(seed)

        def batches(name=name):
            while True:
                seqs = sample(64)
                if name == "ffn":  # one example per copied position, context left-padded
                    pos = torch.randint(length + 1, total, (64,), generator=gen)
                    ctx = torch.stack(
                        [
                            torch.cat([torch.full((total - 1 - p,), sep), s[:p]])
                            for s, p in zip(seqs, pos.tolist(), strict=False)
                        ]
                    )
                    yield ctx, seqs[torch.arange(64), pos], nn.functional.cross_entropy
                else:
                    yield seqs[:, :-1], seqs[:, 1:], _all_positions

        seconds = _train(model, batches(), steps)
        model.eval()
        with torch.no_grad():
            if name == "ffn":
                correct = 0
                for p in range(length + 1, total):
                    ctx = torch.cat([torch.full((len(test), total - 1 - p), sep), test[:, :p]], 1)
                    correct += (model(ctx).argmax(1) == test[:, p]).sum().item()
                acc = correct / (len(test) * length)
            else:
                pred = model(test[:, :-1]).argmax(2)[:, length:]
                acc = (pred == test[:, length + 1 :]).float().mean().item()
        rows.append({"model": name, "copy accuracy": acc, "train seconds": seconds})
    return rows


def compare_models(
    contexts: tuple[int, ...] = (2, 4, 8),
    steps: int = 150,
    batch: int = 64,
    train_chars: int = 200_000,
    test_windows: int = 1000,
    seed: int = 0,
) -> dict:
    """The table of lab 4: bits/char per model and context length, train time, copy accuracy."""
    torch.manual_seed(seed)
    text = load_text("stories", split="train", max_chars=train_chars)
    val = load_text("stories", split="validation", max_chars=50_000)
    chars = "".join(sorted(set(text) | set(val)))
    index = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([index[c] for c in text])
    held = torch.tensor([index[c] for c in val])
    rows = []
    for k in contexts:
        gen = torch.Generator().manual_seed(seed + k)
        test = _windows(held, k + 1, test_windows, gen)
        bits, acc, seconds = _ngram_score(text, test, chars, k)
        rows.append(
            {
                "model": "n-gram",
                "context": k,
                "bits/char": bits,
                "accuracy": acc,
                "train seconds": seconds,
                "sequential steps/token": SEQUENTIAL_STEPS["n-gram"],
            }
        )
        for name, model in _neural_models(len(chars), k).items():
            torch.manual_seed(seed)
            bits, acc, seconds = _fit_and_score(name, model, data, test, k, steps, batch, gen)
            rows.append(
                {
                    "model": name,
                    "context": k,
                    "bits/char": bits,
                    "accuracy": acc,
                    "train seconds": seconds,
                    "sequential steps/token": SEQUENTIAL_STEPS[name],
                }
            )
    return {"rows": rows, "copy": copy_task(steps * 2, seed), "steps": steps}
