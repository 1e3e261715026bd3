"""The pretraining loop: AdamW, warm-up + cosine, clipping, accumulation, checkpoints, rollback.

One function, :func:`train`, reads top to bottom like nanoGPT's ``train.py``:

* every optimizer step consumes one *global batch* (``batch_size`` sequences of ``seq_len``
  tokens) taken at the next data position (see :class:`~ch07_pretraining.data.TokenData`),
  split over ``grad_accum`` micro-batches and, under ``torch.distributed``, over the ranks
  (DDP averages the gradients, so the update equals one process seeing the whole batch);
* the learning rate warms up linearly for ``warmup_steps`` and then follows a cosine down to
  ``min_lr_ratio`` of the peak (Loshchilov & Hutter, SGDR; the GPT-3 / Chinchilla recipe);
* gradients are clipped to ``grad_clip`` (global L2 norm) before each step;
* every ``eval_every`` steps the validation loss and bits per byte (nats summed over the targets,
  divided by ``ln 2`` times the bytes those targets stand for; vocabulary-independent) are logged
  with a short sample;
* every ``checkpoint_every`` steps an atomic checkpoint is written (keep-last-K);
* a loss that is not finite, or larger than ``spike_factor`` times its running average, triggers
  a rollback to the last checkpoint and the offending batch is skipped from then on (the PaLM
  recipe, Chowdhery et al. 2022, §5.1, with a window of one batch).

The machinery lives next door: :mod:`~ch07_pretraining.distributed` (device, DDP / FSDP /
compile wrapping, gradient sync), :mod:`~ch07_pretraining.precision` (autocast, fp16 loss
scaling) and :mod:`~ch07_pretraining.checkpoint` (what a checkpoint holds, the final HF folder).

The run folder ends up as a standard Hugging Face model folder (``config.json``,
``model.safetensors``, ``tokenizer.json``) plus ``metrics.jsonl``, ``loss.png``,
``train_config.json`` and ``checkpoints/``.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ch07_pretraining.checkpoint import (
    TrainingCheckpoints,
    full_model_state,
    latest_checkpoint,
    list_checkpoints,
    save_hf_folder,
)
from ch07_pretraining.data import TokenData, nats_to_bits_per_byte, token_byte_lengths
from ch07_pretraining.distributed import (
    barrier,
    gradient_sync,
    mean_over_ranks,
    peak_memory_mb,
    rank_slice,
    reset_peak_memory,
    training_device,
    world_info,
    wrap_model,
)
from ch07_pretraining.model import (
    build_model,
    count_parameters,
    enable_activation_checkpointing,
    llama_config,
    lr_for_depth,
)
from ch07_pretraining.precision import PRECISIONS, MixedPrecision
from llmpath_core import UserError, line_plot, seed_everything, write_json, write_text
from llmpath_core.progress import make_progress

# Fields that must not change between a run and its resume (they change what a step computes).
IDENTITY = (
    "data",
    "depth",
    "seq_len",
    "batch_size",
    "grad_accum",
    "lr",
    "warmup_steps",
    "min_lr_ratio",
    "weight_decay",
    "grad_clip",
    "zero",
    "fsdp",
    "precision",
    "seed",
)


@dataclass
class TrainConfig:
    """Everything that defines a pretraining run. ``lr=None`` derives the rate from ``depth``."""

    data: str
    depth: int = 2
    seq_len: int = 64
    batch_size: int = 16
    grad_accum: int = 1
    max_steps: int = 200
    lr: float | None = None
    warmup_steps: int = 20
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    eval_every: int = 50
    eval_batches: int = 4
    checkpoint_every: int = 50
    keep_last: int = 3
    spike_factor: float = 3.0
    spike_warmup: int = 10
    max_rollbacks: int = 5
    inject_spike_at: int | None = None
    zero: bool = False
    fsdp: bool = False
    precision: str = "fp32"
    grad_checkpointing: bool = False
    compile: bool = False
    device: str = "cpu"
    seed: int = 0
    sample_tokens: int = 32

    def peak_lr(self) -> float:
        return self.lr if self.lr is not None else lr_for_depth(self.depth)

    def validate(self, world_size: int = 1) -> None:
        if self.precision not in PRECISIONS:
            raise UserError(
                f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}"
            )
        if self.fsdp and self.zero:
            raise UserError("--fsdp already shards the optimizer state: drop --zero")
        if self.fsdp and self.precision == "fp16":
            raise UserError("use bf16 with --fsdp (fp16 loss scaling is for DDP/single device)")
        for name in ("depth", "seq_len", "batch_size", "grad_accum", "max_steps"):
            if getattr(self, name) < 1:
                raise UserError(f"{name} must be at least 1, got {getattr(self, name)}")
        per_rank = self.batch_size // world_size
        if self.batch_size % world_size or per_rank % self.grad_accum:
            raise UserError(
                f"batch_size {self.batch_size} must split evenly over {world_size} process(es) "
                f"x grad_accum {self.grad_accum}"
            )

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


def lr_lambda(config: TrainConfig) -> Callable[[int], float]:
    """Multiplier of the peak rate at a step: linear warm-up, then cosine to ``min_lr_ratio``."""
    warmup, total, floor = config.warmup_steps, config.max_steps, config.min_lr_ratio

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def make_optimizer(model: torch.nn.Module, config: TrainConfig, zero: bool):
    """AdamW with weight decay on matrices only (not on norms); ZeRO-1 shards its state."""
    params = list({id(p): p for p in model.parameters() if p.requires_grad}.values())
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    kwargs = {"lr": config.peak_lr(), "betas": (0.9, 0.95), "eps": 1e-8}
    if zero:
        from torch.distributed.optim import ZeroRedundancyOptimizer

        opt = ZeroRedundancyOptimizer(
            decay, optimizer_class=torch.optim.AdamW, weight_decay=config.weight_decay, **kwargs
        )
        opt.add_param_group({"params": no_decay, "weight_decay": 0.0})
        return opt
    return torch.optim.AdamW(groups, **kwargs)


@torch.no_grad()
def evaluate(model, data: TokenData, byte_lengths: np.ndarray, config: TrainConfig) -> dict:
    """Validation loss (nats/token) and bits per byte on fixed windows of the validation split."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    nats, tokens, n_bytes = 0.0, 0, 0
    for inputs, targets in data.val_windows(config.eval_batches, config.batch_size, config.seq_len):
        logits = model(input_ids=inputs.to(device)).logits.cpu()
        loss = torch.nn.functional.cross_entropy(
            logits.float().reshape(-1, logits.size(-1)), targets.reshape(-1), reduction="sum"
        )
        nats += float(loss)
        tokens += targets.numel()
        n_bytes += int(byte_lengths[targets.numpy()].sum())
    model.train(was_training)
    return {"val_loss": nats / max(1, tokens), "val_bpb": nats_to_bits_per_byte(nats, n_bytes)}


def sample_text(model, tokenizer, n_tokens: int, seed: int, prompt: str = "") -> str:
    """A short sampled continuation (top-k 50, temperature 0.8); leaves the global RNG alone."""
    ids = tokenizer(prompt)["input_ids"] if prompt else []
    n_tokens = min(n_tokens, model.config.max_position_embeddings - len(ids) - 1)
    input_ids = torch.tensor([[tokenizer.eos_token_id, *ids]], device=model.device)
    was_training = model.training
    model.eval()
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        out = model.generate(
            input_ids=input_ids,
            attention_mask=torch.ones_like(input_ids),
            max_new_tokens=n_tokens,
            do_sample=True,
            top_k=50,
            temperature=0.8,
            pad_token_id=tokenizer.eos_token_id,
        )
    model.train(was_training)
    return tokenizer.decode(out[0, 1:], skip_special_tokens=True)


def _check_resume_config(saved: TrainConfig, given: TrainConfig) -> None:
    for name in IDENTITY:
        if getattr(saved, name) != getattr(given, name):
            raise UserError(
                f"the run folder was trained with {name}={getattr(saved, name)!r}, not "
                f"{getattr(given, name)!r}: resume with the same settings or use a new --out"
            )


@dataclass
class RunLog:
    """The rows of ``metrics.jsonl``: per-step metrics and events (rollbacks)."""

    metrics: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)

    def read(self, run_dir: Path) -> None:
        path = run_dir / "metrics.jsonl"
        if path.is_file():
            for line in path.read_text().splitlines():
                row = json.loads(line)
                (self.events if "event" in row else self.metrics).append(row)

    def rewind(self, step: int) -> None:
        """Forget the metrics logged after ``step`` (a rollback to it); events stay."""
        self.metrics[:] = [r for r in self.metrics if r["step"] <= step]

    def write(self, run_dir: Path, *, plot: bool = True) -> None:
        rows = self.metrics + self.events
        write_text(run_dir / "metrics.jsonl", "".join(json.dumps(row) + "\n" for row in rows))
        train_rows = [r for r in self.metrics if "train_loss" in r]
        val_rows = [r for r in self.metrics if "val_loss" in r]
        if not plot or len(train_rows) < 2:
            return
        series = {"train": ([r["step"] for r in train_rows], [r["train_loss"] for r in train_rows])}
        if val_rows:
            series["validation"] = (
                [r["step"] for r in val_rows],
                [r["val_loss"] for r in val_rows],
            )
        line_plot(
            run_dir / "loss.png",
            series,
            title="pretraining loss",
            xlabel="step",
            ylabel="cross-entropy (nats/token)",
            markers=False,
        )


def _check_run_folder(config: TrainConfig, run_dir: Path, resume: bool, world: int) -> None:
    """Refuse impossible settings and a run folder that does not fit ``resume``, before work."""
    config.validate(world)
    if config.zero and world == 1:
        raise UserError("--zero shards the optimizer over processes: launch with torchrun")
    if resume:
        if not list_checkpoints(run_dir):
            raise UserError(f"{run_dir} has no checkpoint to resume from (no checkpoints/step-*)")
        saved = run_dir / "train_config.json"
        if saved.is_file():
            _check_resume_config(TrainConfig.from_dict(json.loads(saved.read_text())), config)
    elif list_checkpoints(run_dir):
        raise UserError(f"{run_dir} already holds a run: resume it or choose another --out")
    if config.fsdp and world == 1:
        raise UserError("--fsdp shards the model over processes: launch with torchrun")


def _forward_backward(net, model, inputs, targets, config, amp, world, spike: bool) -> float:
    """Accumulate the gradients of one global batch (this rank's share) over the micro-batches;
    returns the batch's mean loss, averaged over the ranks."""
    micro = inputs.shape[0] // config.grad_accum
    loss_sum = torch.zeros((), device=inputs.device)
    for k in range(config.grad_accum):
        x, y = inputs[k * micro : (k + 1) * micro], targets[k * micro : (k + 1) * micro]
        last = k == config.grad_accum - 1
        with gradient_sync(model, net, fsdp=config.fsdp, world=world, last=last):
            with amp.autocast():  # low-precision matmuls in the forward pass; the loss in fp32
                logits = net(input_ids=x).logits
            loss = torch.nn.functional.cross_entropy(
                logits.float().reshape(-1, logits.size(-1)), y.reshape(-1)
            )
            if spike:
                loss = loss * 1000.0  # fault injection: a corrupted batch
            amp.backward(loss / config.grad_accum)
        loss_sum += loss.detach()
    return float(mean_over_ranks(loss_sum / config.grad_accum, world))


def _is_spike(value: float, state: dict, config: TrainConfig) -> bool:
    ema = state["loss_ema"]
    return not math.isfinite(value) or (
        ema is not None
        and state["step"] >= config.spike_warmup
        and value > config.spike_factor * ema
    )


def _roll_back(ckpts, history: RunLog, state: dict, position: int, value: float, log) -> dict:
    """Restore the last checkpoint and skip batch ``position`` from then on; the new loop state."""
    bad_step = state["step"] + 1
    state = ckpts.restore(latest_checkpoint(ckpts.run_dir))
    history.rewind(state["step"])
    state["skipped"] = sorted({*state["skipped"], position})
    event = {"step": bad_step, "event": "rollback", "loss": value}
    history.events.append({**event, "to_step": state["step"], "skipped_batch": position})
    log(
        f"loss spike {value:.3g} at step {bad_step}: rolled back to step "
        f"{state['step']} and skipped batch {position}"
    )
    return state


def train(
    config: TrainConfig,
    run_dir: str | os.PathLike,
    *,
    resume: bool = False,
    stop_at: int | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train (or with ``resume=True`` continue) a run in ``run_dir``; returns the final metrics.

    ``stop_at`` stops after that step as if the process were interrupted there (the schedule still
    targets ``max_steps``), which is how the exact-resume test splits a run in two. Under an
    initialised ``torch.distributed`` process group the model is wrapped in DDP (and the optimizer
    in ZeRO-1 when ``config.zero``); rank 0 writes every file.
    """
    rank, world = world_info()
    if log is None or rank != 0:
        log = lambda _message: None  # noqa: E731 - one place logs: rank 0
    run_dir = Path(run_dir)
    _check_run_folder(config, run_dir, resume, world)
    device = training_device(config.device)
    data = TokenData.open(config.data)
    data.check_seq_len(config.seq_len)
    tokenizer = data.tokenizer()
    byte_lengths = token_byte_lengths(tokenizer)
    seed_everything(config.seed)
    model_config = llama_config(
        config.depth, data.vocab_size, config.seq_len, tokenizer.eos_token_id
    )
    model = build_model(model_config).to(device)
    n_params = count_parameters(model)
    if config.grad_checkpointing:
        enable_activation_checkpointing(model)
    net = wrap_model(model, device, world, fsdp=config.fsdp, compile=config.compile)
    optimizer = make_optimizer(model, config, zero=config.zero)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(config))
    amp = MixedPrecision(config.precision, device)
    reset_peak_memory(device)
    ckpts = TrainingCheckpoints(
        run_dir,
        model,
        optimizer,
        scheduler,
        amp.scaler,
        fsdp=config.fsdp,
        zero=config.zero,
        keep_last=config.keep_last,
        rank=rank,
        world=world,
    )
    history = RunLog()
    state = {"step": 0, "data_position": 0, "skipped": [], "loss_ema": None}

    def checkpoint() -> None:
        ckpts.save(state, after=lambda: history.write(run_dir, plot=False))

    if resume:
        history.read(run_dir)
        path = latest_checkpoint(run_dir)
        state = ckpts.restore(path)
        history.rewind(state["step"])
        log(f"resumed from {path.name} at step {state['step']}")
    else:
        if rank == 0:
            run_dir.mkdir(parents=True, exist_ok=True)
        history.metrics.append({"step": 0, **evaluate(model, data, byte_lengths, config)})
        if config.checkpoint_every > 0:
            checkpoint()
    if rank == 0:
        write_json(run_dir / "train_config.json", asdict(config))

    tokens_per_step = config.batch_size * config.seq_len
    end = min(config.max_steps, stop_at) if stop_at is not None else config.max_steps
    train_time, train_loss, rollbacks, steps_here = 0.0, float("nan"), 0, 0
    model.train()
    with make_progress(transient=True) as bar:
        task = bar.add_task("train", total=end, completed=state["step"])
        while state["step"] < end:
            position = state["data_position"]
            while position in state["skipped"]:
                position += 1
            started = time.perf_counter()
            inputs, targets = data.batch(position, config.batch_size, config.seq_len, config.seed)
            inputs = rank_slice(inputs, rank, world).to(device)
            targets = rank_slice(targets, rank, world).to(device)
            spike = position == config.inject_spike_at
            value = _forward_backward(net, model, inputs, targets, config, amp, world, spike)
            if _is_spike(value, state, config):  # roll back and skip this batch from now on
                optimizer.zero_grad(set_to_none=True)
                rollbacks += 1
                if rollbacks > config.max_rollbacks or not list_checkpoints(run_dir):
                    raise UserError(
                        f"loss {value:.3g} at step {state['step'] + 1} and no way to recover "
                        f"(after {rollbacks - 1} rollbacks): lower --lr or raise the spike factor"
                    )
                state = _roll_back(ckpts, history, state, position, value, log)
                continue
            lr = optimizer.param_groups[0]["lr"]
            grad_norm = amp.clip_and_step(optimizer, model.parameters(), config.grad_clip)
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            train_time += time.perf_counter() - started
            steps_here += 1
            ema = state["loss_ema"]
            state["step"] += 1
            state["data_position"] = position + 1
            state["loss_ema"] = value if ema is None else 0.9 * ema + 0.1 * value
            train_loss = value
            step = state["step"]
            history.metrics.append(
                {"step": step, "train_loss": value, "lr": lr, "grad_norm": grad_norm}
            )
            tps = tokens_per_step / max(1e-9, time.perf_counter() - started)
            bar.update(task, completed=step, description=f"loss {value:.3f} {tps:,.0f} tok/s")
            if step % config.eval_every == 0 or step == config.max_steps:
                ev = evaluate(model, data, byte_lengths, config)
                ev["sample"] = sample_text(model, tokenizer, config.sample_tokens, config.seed)
                history.metrics.append({"step": step, **ev})
                log(f"step {step}: val loss {ev['val_loss']:.3f}, {ev['val_bpb']:.3f} bits/byte")
            if config.checkpoint_every > 0 and step % config.checkpoint_every == 0:
                checkpoint()

    metrics = history.metrics
    if state["step"] >= config.max_steps and not any(
        r["step"] == state["step"] and "val_loss" in r for r in metrics
    ):
        metrics.append({"step": state["step"], **evaluate(model, data, byte_lengths, config)})
    last_val = next(r for r in reversed(metrics) if "val_loss" in r)
    first_val = next(r for r in metrics if "val_loss" in r)
    result = {
        "step": state["step"],
        "train_loss": train_loss,
        "val_loss": last_val["val_loss"],
        "val_bpb": last_val["val_bpb"],
        "initial_val_loss": first_val["val_loss"],
        "ln_vocab": math.log(data.vocab_size),
        "tokens_per_s": tokens_per_step * steps_here / train_time if train_time > 0 else 0.0,
        "parameters": n_params,
        "tokens_seen": state["step"] * tokens_per_step,
        "rollbacks": [e for e in history.events if e["event"] == "rollback"],
        "world_size": world,
        "device": str(device),
        "peak_memory_mb": peak_memory_mb(device),
    }
    final_state = full_model_state(model, config.fsdp) if config.fsdp else None
    if rank == 0:
        if final_state is not None:  # save an unsharded copy
            model = build_model(model_config)
            model.load_state_dict(final_state)
        save_hf_folder(model, tokenizer, run_dir)
        history.write(run_dir)
    barrier(world)
    return result


def resume_config(run_dir: str | os.PathLike, **overrides: Any) -> TrainConfig:
    """The saved config of a run folder, with schedule-free settings (``max_steps``...) replaced."""
    path = Path(run_dir) / "train_config.json"
    if not path.is_file():
        raise UserError(f"{run_dir} is not a training run (no train_config.json)")
    config = TrainConfig.from_dict(json.loads(path.read_text()))
    for key, value in overrides.items():
        if value is not None:
            setattr(config, key, value)
    return config


__all__ = ["TrainConfig", "evaluate", "lr_lambda", "resume_config", "sample_text", "train"]
