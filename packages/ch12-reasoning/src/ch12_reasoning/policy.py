"""The reasoner: a small Llama-architecture causal LM trained here on solver-written rationales.

llmpath's default model is a story model with a BPE tokenizer; arithmetic in its tokens is not
something it can learn in CPU minutes. This chapter's policy is a standard ``transformers``
``LlamaForCausalLM`` (about half a million parameters) over a character vocabulary of the step
format, trained with next-token cross-entropy on the rationale part of ``prompt + rationale``
(chain-of-thought supervision). Both tasks share the model: arithmetic chains and Game-of-24
solution paths.

A trained checkpoint ships with the package (``data/policy``); ``ch12-reasoning train``
reproduces it (same seed, same steps) and a test checks that the command trains a model whose
loss falls.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ch12_reasoning import problems as P

if TYPE_CHECKING:
    import torch
    from transformers import LlamaForCausalLM

PAD, BOS, EOS = "_", "^", "$"
CHARS = PAD + BOS + EOS + "0123456789+-*/=;#>:G "


class CharTokenizer:
    """One id per character of :data:`CHARS`; ``_`` pad, ``^`` begin, ``$`` end."""

    def __init__(self, chars: str = CHARS) -> None:
        self.chars = chars
        self.index = {c: i for i, c in enumerate(chars)}
        self.pad_id, self.bos_id, self.eos_id = 0, 1, 2

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        """Ids of ``text``; an unknown character raises ``ValueError``."""
        try:
            return [self.index[c] for c in text]
        except KeyError as exc:
            raise ValueError(f"character {exc.args[0]!r} is not in the vocabulary") from None

    def decode(self, ids: Sequence[int]) -> str:
        """Text of ``ids``, stopping at the first end token and skipping pads."""
        out = []
        for i in ids:
            if i == self.eos_id:
                break
            if i != self.pad_id:
                out.append(self.chars[i])
        return "".join(out).lstrip(BOS)

    def id(self, char: str) -> int:
        return self.index[char]


@dataclass
class TrainConfig:
    """How the shipped policy was trained (the defaults reproduce it)."""

    steps: int = 1500
    batch: int = 32
    lr: float = 3e-3
    hidden: int = 80
    layers: int = 2
    heads: int = 4
    ctx: int = 96
    g24_fraction: float = 0.5
    seed: int = 0


def new_model(cfg: TrainConfig, vocab: int) -> LlamaForCausalLM:
    """A freshly initialised policy of the size in ``cfg``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(cfg.seed)
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=cfg.hidden,
        intermediate_size=2 * cfg.hidden,
        num_hidden_layers=cfg.layers,
        num_attention_heads=cfg.heads,
        num_key_value_heads=cfg.heads,
        max_position_embeddings=cfg.ctx,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
        tie_word_embeddings=True,
    )
    return LlamaForCausalLM(config)


def training_texts(seed: int, g24_fraction: float = 0.5) -> Iterator[tuple[str, str]]:
    """An endless stream of ``(prompt, rationale)`` pairs from the training split.

    Held-out arithmetic questions and held-out Game-of-24 puzzles never appear.
    """
    rng = random.Random(seed)
    held = {p.question for p in P.heldout_arithmetic(400)}
    g24_train, _ = P.g24_split()
    paths: dict[tuple[int, ...], list] = {}
    while True:
        if rng.random() < g24_fraction:
            puzzle = rng.choice(g24_train)
            if puzzle not in paths:
                paths[puzzle] = P.integer_paths(puzzle, limit=50)
            path = rng.choice(paths[puzzle])
            yield P.g24_prompt(puzzle), P.g24_rationale(puzzle, path)
        else:
            problem = P.make_arithmetic(rng.randint(1, 4), rng)
            if problem.question in held:
                continue
            yield problem.prompt, P.arithmetic_rationale(problem.question)


def encode_batch(
    tok: CharTokenizer, pairs: Sequence[tuple[str, str]], ctx: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded ``input_ids``, ``attention_mask`` and ``labels`` (prompt and pad = -100)."""
    import torch

    rows, labels = [], []
    for prompt, target in pairs:
        p = [tok.bos_id, *tok.encode(prompt)]
        t = [*tok.encode(target), tok.eos_id]
        ids = (p + t)[:ctx]
        rows.append(ids)
        labels.append(([-100] * len(p) + t)[:ctx])
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), tok.pad_id)
    lab = torch.full((len(rows), width), -100)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (r, lb) in enumerate(zip(rows, labels, strict=True)):
        ids[i, : len(r)] = torch.tensor(r)
        lab[i, : len(lb)] = torch.tensor(lb)
        mask[i, : len(r)] = 1
    return ids, mask, lab


def sft(
    model: LlamaForCausalLM,
    tok: CharTokenizer,
    stream: Iterator[tuple[str, str]],
    steps: int,
    batch: int,
    lr: float,
    *,
    warmup: int = 100,
    progress: bool = False,
    log_every: int = 0,
) -> list[float]:
    """Supervised fine-tuning on rationales (AdamW, linear warm-up, cosine decay); losses."""
    import math

    import torch

    from llmpath_core.progress import track

    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    ctx = model.config.max_position_embeddings
    losses = []
    it = track(range(steps), description="sft") if progress else range(steps)
    for step in it:
        scale = min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * step / steps))
        for group in opt.param_groups:
            group["lr"] = lr * max(scale, 0.05)
        ids, mask, lab = encode_batch(tok, [next(stream) for _ in range(batch)], ctx)
        loss = model(input_ids=ids, attention_mask=mask, labels=lab).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(float(loss.detach()))
        if log_every and (step + 1) % log_every == 0:
            from llmpath_core.progress import log

            log(f"sft step {step + 1}/{steps}: loss {sum(losses[-log_every:]) / log_every:.4f}")
    model.eval()
    return losses


def train_policy(
    cfg: TrainConfig, *, progress: bool = False, log_every: int = 0
) -> tuple[LlamaForCausalLM, list[float]]:
    """Train a policy from scratch on the rationale stream; returns the model and its losses."""
    from llmpath_core.seed import seed_everything

    seed_everything(cfg.seed, torch=True)
    tok = CharTokenizer()
    model = new_model(cfg, len(tok))
    stream = training_texts(cfg.seed, cfg.g24_fraction)
    losses = sft(
        model, tok, stream, cfg.steps, cfg.batch, cfg.lr, progress=progress, log_every=log_every
    )
    return model, losses


def save_policy(model: LlamaForCausalLM, folder: str | Path, info: dict[str, Any]) -> Path:
    """Write the model (safetensors + config) and ``policy.json`` (vocabulary, training record)."""
    from llmpath_core.io import atomic_dir

    with atomic_dir(folder) as tmp:
        model.save_pretrained(tmp)
        (tmp / "policy.json").write_text(json.dumps({"chars": CHARS, **info}, indent=2))
    return Path(folder)


def bundled_policy_path() -> Path:
    """The checkpoint that ships with the package."""
    return Path(str(resources.files("ch12_reasoning") / "data" / "policy"))


def load_policy(folder: str | Path | None = None) -> tuple[LlamaForCausalLM, CharTokenizer]:
    """Load a policy folder (default: the bundled one) in eval mode."""
    from transformers import LlamaForCausalLM

    from llmpath_core.errors import UserError

    path = Path(folder) if folder is not None else bundled_policy_path()
    meta = path / "policy.json"
    if not meta.is_file():
        raise UserError(
            f"{path} is not a policy folder (no policy.json); make one with `ch12-reasoning train`"
        )
    chars = json.loads(meta.read_text())["chars"]
    model = LlamaForCausalLM.from_pretrained(path).eval()
    return model, CharTokenizer(chars)


def config_dict(cfg: TrainConfig) -> dict[str, Any]:
    return asdict(cfg)
