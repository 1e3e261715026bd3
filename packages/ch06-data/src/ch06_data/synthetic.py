"""Synthetic data: template- and LLM-driven generation, quality control, and the test that matters.

Three generators produce story-like documents:

- :func:`template_documents`: a small grammar (openers, characters, places, events) filled at
  random. Cheap and clean, but a small grammar repeats itself: the dedup stages catch that.
- :func:`model_documents`: samples from llmpath's default model (or any causal LM given),
  continuing story openers.
- :func:`endpoint_documents`: the same through any OpenAI-compatible ``/v1/completions``
  endpoint (vLLM, llama.cpp's server, Ollama, a hosted API), with plain ``urllib``.

:func:`quality_funnel` passes generated documents through the package's own exact and near
dedup, language ID, Gopher/C4 rules and PII redaction, counting what each stage removes.

:func:`compare_training_data` answers whether the synthetic data is worth anything: it trains the
same small Llama from the same initialisation on real, synthetic and mixed token streams with
equal unique tokens, equal steps and equal batches, and measures each model's loss on real
held-out text with :func:`llmpath_core.evaluate_lm`; differences to the real-data model are paired
window by window (:func:`llmpath_core.paired_difference`) and averaged over seeds.
"""

from __future__ import annotations

import json
import math
import random
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from typing import Any

from llmpath_core import UserError

PROMPTS = [
    "Once upon a time,",
    "In a little town by the sea,",
    "Far away, beyond the mountains,",
    "One rainy morning,",
    "There was once a",
    "On the first day of spring,",
    "Long ago, in a village near the forest,",
    "Every Saturday,",
]

_NAMES = [
    "Ada", "Ben", "Cleo", "Dev", "Ella", "Finn", "Gita", "Hugo", "Iris", "Jon", "Kemi", "Leo",
    "Maya", "Nils", "Omar", "Pia", "Quin", "Rosa", "Sami", "Tess", "Uma", "Vik", "Wren", "Yuki",
]  # fmt: skip
_TRAITS = ["brave", "shy", "curious", "kind", "clever", "sleepy", "cheerful", "careful", "noisy"]
_KINDS = ["girl", "boy", "rabbit", "fox", "bear", "mouse", "duck", "dragon", "robot"]
_PLACES = [
    "the old mill", "the river bank", "the market", "the library", "the garden", "the beach",
    "the bakery", "the hill behind the school", "the train station", "the orchard",
]  # fmt: skip
_THINGS = [
    "a blue kite", "a silver key", "a tiny boat", "a red umbrella", "a map", "a wooden flute",
    "a jar of honey", "a lost glove", "a paper lantern", "a round stone",
]  # fmt: skip
_WEATHER = [
    "The sun was warm and bright.",
    "A cold wind blew through the trees.",
    "It had rained all night and the streets were shiny.",
    "Snow covered the roofs like a soft blanket.",
    "Grey clouds hung low over the fields.",
]
_PROBLEMS = [
    "{name} could not find {thing} anywhere.",
    "{friend} was sad because {thing} had fallen into the water.",
    "The path to {place} was blocked by a fallen tree.",
    "{friend} was lost and did not know the way home.",
    "Nobody wanted to play with {friend}.",
]
_FIXES = [
    "{name} asked {helper} for help, and together they looked behind every bush.",
    "{name} had a clever idea and used {thing} to solve the problem.",
    "{name} and {friend} worked together until the job was done.",
    "{helper} showed them a shortcut through {place}.",
]
_ENDINGS = [
    "That night, {name} fell asleep with a big smile.",
    "From then on, {name} and {friend} were the best of friends.",
    "{name} learned that it is good to ask for help.",
    "Everyone agreed it had been the best day of the summer.",
]
_HELPERS = ["Grandpa Joe", "Aunt May", "the baker", "Mr Patel the teacher", "an old owl"]


def template_documents(n: int, seed: int = 0) -> list[str]:
    """``n`` short stories from a fixed grammar (opener, character, place, problem, fix, end)."""
    if n < 1:
        raise UserError("the number of documents must be at least 1")
    rng = random.Random(seed)
    docs = []
    for _ in range(n):
        name, friend = rng.sample(_NAMES, 2)
        slots = {
            "name": name,
            "friend": friend,
            "place": rng.choice(_PLACES),
            "thing": rng.choice(_THINGS),
            "helper": rng.choice(_HELPERS),
        }
        opener = rng.choice(PROMPTS[:3] + PROMPTS[5:7])
        first = (
            f"{opener} there lived a {rng.choice(_TRAITS)} {rng.choice(_KINDS)} called {name}. "
            f"{rng.choice(_WEATHER)}"
        )
        middle = (
            f"One day, {name} went to {slots['place']} with {friend}. "
            + rng.choice(_PROBLEMS).format(**slots)
            + " "
            + rng.choice(_FIXES).format(**slots)
        )
        end = rng.choice(_ENDINGS).format(**slots)
        docs.append(f"{first}\n\n{middle}\n\n{end}")
    return docs


def model_documents(
    n: int,
    *,
    model: Any = None,
    tokenizer: Any = None,
    prompts: list[str] | None = None,
    max_new_tokens: int = 200,
    temperature: float = 1.0,
    batch_size: int = 16,
    seed: int = 0,
) -> list[str]:
    """``n`` documents sampled from a causal LM (default: llmpath's default model).

    Each document is a prompt from ``prompts`` (cycled) plus the model's continuation, cut at the
    first end-of-text token. Sampling is plain temperature sampling (no top-k), seeded.
    """
    import torch

    if n < 1 or max_new_tokens < 1 or temperature <= 0:
        raise UserError("need n >= 1, max_new_tokens >= 1 and temperature > 0")
    if model is None or tokenizer is None:
        from llmpath_core import load_default_model

        model, tokenizer = load_default_model()
    prompts = prompts or PROMPTS
    tokenizer.padding_side = "left"
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    torch.manual_seed(seed)
    docs: list[str] = []
    model.eval()
    for start in range(0, n, batch_size):
        batch = [prompts[(start + i) % len(prompts)] for i in range(min(batch_size, n - start))]
        enc = tokenizer(batch, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.no_grad():
            out = model.generate(
                **enc,
                max_new_tokens=max_new_tokens,
                do_sample=True,
                temperature=temperature,
                top_k=0,
                pad_token_id=pad,
                eos_token_id=tokenizer.eos_token_id,
                use_cache=True,
            )
        width = enc["input_ids"].shape[1]
        for prompt, row in zip(batch, out[:, width:].tolist(), strict=True):
            if tokenizer.eos_token_id in row:
                row = row[: row.index(tokenizer.eos_token_id)]
            docs.append(prompt + tokenizer.decode(row, skip_special_tokens=True))
    return docs


def endpoint_documents(
    base_url: str,
    n: int,
    *,
    model: str = "default",
    prompts: list[str] | None = None,
    max_tokens: int = 200,
    temperature: float = 1.0,
    seed: int = 0,
    api_key: str | None = None,
    timeout: float = 120.0,
) -> list[str]:
    """``n`` documents from an OpenAI-compatible ``POST {base_url}/completions`` endpoint.

    ``base_url`` is the API root, e.g. ``http://localhost:8000/v1``. Each request sends one
    prompt (cycled from ``prompts``) with ``seed + i``; the document is prompt + completion.
    """
    if n < 1 or max_tokens < 1:
        raise UserError("need n >= 1 and max_tokens >= 1")
    prompts = prompts or PROMPTS
    url = base_url.rstrip("/") + "/completions"
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    docs = []
    for i in range(n):
        prompt = prompts[i % len(prompts)]
        body = {
            "model": model,
            "prompt": prompt,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "seed": seed + i,
        }
        req = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                answer = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise UserError(f"{url}: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise UserError(f"{url}: cannot reach the endpoint ({exc})") from None
        except json.JSONDecodeError:
            raise UserError(f"{url}: the answer is not JSON") from None
        try:
            docs.append(prompt + answer["choices"][0]["text"])
        except (KeyError, IndexError, TypeError):
            raise UserError(f"{url}: no choices[0].text in the answer") from None
    return docs


def quality_funnel(docs: list[str], threshold: float = 0.8) -> tuple[list[str], list[dict]]:
    """The package's cleaning stages on generated documents: ``(kept, funnel)``.

    Exact dedup, MinHash near dedup at ``threshold``, language ID (English), the Gopher/C4
    rules, PII redaction; each funnel row says how many documents the stage removed.
    """
    from ch06_data.labs import clean_documents

    kept, funnel, _ = clean_documents(docs, threshold=threshold)
    return kept, funnel


@dataclass
class TrainConfig:
    """The small model and its training budget (the same for every data source)."""

    steps: int = 300
    batch_size: int = 16
    seq_len: int = 64
    lr: float = 3e-3
    hidden: int = 64
    layers: int = 2
    heads: int = 4

    def __post_init__(self) -> None:
        if min(self.steps, self.batch_size, self.seq_len, self.hidden, self.layers) < 1:
            raise UserError("steps, batch size, sequence length, width and depth must be >= 1")


def token_stream(tokenizer: Any, docs: list[str]) -> list[int]:
    """Token ids of ``docs``, each followed by end-of-text (the packing ch07 uses)."""
    from llmpath_core.models import encode_documents

    return encode_documents(tokenizer, docs)


def train_small_lm(ids: list[int], tokenizer: Any, cfg: TrainConfig, seed: int = 0) -> Any:
    """A tiny Llama trained on random windows of ``ids`` for ``cfg.steps`` AdamW steps.

    The initialisation and the window order depend only on ``seed``, so two sources trained
    with the same seed differ only in their data.
    """
    import torch
    import torch.nn.functional as F

    from llmpath_core.testing import tiny_llama

    if len(ids) <= cfg.seq_len + 1:
        raise UserError(f"{len(ids)} tokens are fewer than one training window")
    eos = tokenizer.eos_token_id
    model = tiny_llama(
        seed,
        vocab=len(tokenizer),
        hidden=cfg.hidden,
        layers=cfg.layers,
        heads=cfg.heads,
        ctx=cfg.seq_len,
        tie=True,
        bos=eos,
        eos=eos,
        pad=eos,
    ).train()
    data = torch.tensor(ids, dtype=torch.long)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    warmup = max(1, cfg.steps // 10)
    for step in range(cfg.steps):
        if step < warmup:
            scale = (step + 1) / warmup
        else:
            scale = 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, cfg.steps - warmup)))
        for group in opt.param_groups:
            group["lr"] = cfg.lr * scale
        # window starts drawn as fractions, so every source sees the same order of positions
        frac = torch.rand(cfg.batch_size, generator=gen)
        starts = (frac * (len(data) - cfg.seq_len - 1)).long()
        batch = torch.stack([data[s : s + cfg.seq_len + 1] for s in starts.tolist()])
        logits = model(input_ids=batch[:, :-1]).logits
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return model.eval()


def compare_training_data(
    sources: dict[str, list[str]],
    heldout: list[str],
    *,
    reference: str = "real",
    mixes: dict[str, tuple[str, str]] | None = None,
    tokens: int | None = None,
    cfg: TrainConfig | None = None,
    seeds: tuple[int, ...] = (0,),
    tokenizer: Any = None,
    max_windows: int | None = None,
) -> dict:
    """Held-out loss of the same small model trained on each source at equal tokens and steps.

    Every source is cut to the same number of unique tokens (``tokens``, default: the smallest
    source); each mix ``name: (a, b)`` takes half its tokens from ``a`` and half from ``b``.
    Returns rows with the mean held-out loss over seeds and the difference to ``reference``,
    paired over the same held-out windows within each seed, then averaged over seeds (its
    standard error combines the per-seed paired errors and the spread between seeds).
    """
    from llmpath_core.models import evaluate_lm, paired_difference

    cfg = cfg or TrainConfig()
    if reference not in sources:
        raise UserError(f"the reference source {reference!r} is not among {sorted(sources)}")
    if tokenizer is None:
        from llmpath_core import load_default_model

        _, tokenizer = load_default_model()
    streams = {name: token_stream(tokenizer, docs) for name, docs in sources.items()}
    n = tokens or min(len(s) for s in streams.values())
    short = {k: len(s) for k, s in streams.items() if len(s) < n}
    if short:
        raise UserError(f"sources shorter than {n} tokens: {short}")
    data = {name: s[:n] for name, s in streams.items()}
    for name, (a, b) in (mixes or {}).items():
        data[name] = streams[a][: n // 2] + streams[b][: n - n // 2]
    evals: dict[str, list[dict]] = {name: [] for name in data}
    for seed in seeds:
        for name, ids in data.items():
            model = train_small_lm(ids, tokenizer, cfg, seed)
            evals[name].append(
                evaluate_lm(model, tokenizer, heldout, seq_len=cfg.seq_len, max_windows=max_windows)
            )
    rows = []
    for name, runs in evals.items():
        losses = [r["loss"] for r in runs]
        row: dict[str, Any] = {
            "data": name,
            "loss": round(sum(losses) / len(losses), 4),
            "loss_per_seed": [round(x, 4) for x in losses],
        }
        if name != reference:
            diffs = [
                paired_difference(ref, r) for ref, r in zip(evals[reference], runs, strict=True)
            ]
            d = [x["loss_diff"] for x in diffs]
            k = len(d)
            within = math.sqrt(sum(x["loss_diff_stderr"] ** 2 for x in diffs)) / k
            between = (
                math.sqrt(sum((x - sum(d) / k) ** 2 for x in d) / (k - 1) / k) if k > 1 else 0.0
            )
            row["loss_diff_vs_" + reference] = round(sum(d) / k, 4)
            row["loss_diff_stderr"] = round(max(within, between), 4)
        rows.append(row)
    return {
        "tokens_per_source": n,
        "tokens_seen": cfg.steps * cfg.batch_size * cfg.seq_len,
        "heldout_windows": len(evals[reference][0]["window_nats"]),
        "seeds": list(seeds),
        "train": asdict(cfg),
        "rows": rows,
    }
