"""Knowledge distillation (Hinton et al. 2015; DistilBERT, Sanh et al. 2019) of the default model.

The teacher is llmpath's default model (a 3.4M-parameter Llama); the student has the draft model's
shape (about 10x fewer weights) and starts from random weights. Two students train for the same
number of steps on the same batches:

- **from scratch**: next-token cross-entropy on the data;
- **logit KD**: ``alpha * T^2 * KL(softmax(z_t / T) || softmax(z_s / T)) + (1 - alpha) * CE``,
  the KL averaged over tokens (the ``T^2`` keeps the soft-target gradients at the scale of the
  hard ones when ``T`` changes);
- optionally **hidden-state transfer**: plus ``beta * MSE(W h_s, h_t)`` on the last hidden states
  through a learned projection ``W`` (the teacher is wider than the student).

Both are scored with llmpath's one held-out perplexity (``llmpath_core.evaluate_lm``); the report
gives the student's quality as a fraction of the teacher's, its size and its measured speed-up.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F


@dataclass
class DistillConfig:
    """Settings of a distillation run; the defaults take about a minute on 2 CPU cores."""

    steps: int = 150
    batch_size: int = 8
    seq_len: int = 128
    lr: float = 3e-3
    temperature: float = 2.0
    alpha: float = 0.5
    hidden_weight: float = 0.0
    student_hidden: int = 64
    student_layers: int = 2
    student_heads: int = 2
    student_intermediate: int = 176
    train_chars: int = 2_000_000
    eval_windows: int | None = None  # None: every window of the first eval_chars
    eval_chars: int = 100_000
    seed: int = 0
    # how both students start: "random", "teacher" (weight selection from the teacher's layers,
    # heads, neurons and hidden dimensions) or "draft" (llmpath's pretrained draft model; the
    # student sizes must then be the draft's)
    init: str = "random"
    # what the KD student learns from: "logit" (Hinton's loss on the data), "sequence"
    # (cross-entropy on the teacher's own samples, Kim & Rush 2016) or "both" (the logit loss on
    # the teacher's samples)
    method: str = "logit"
    seqkd_prompt: int = 16
    seqkd_temperature: float = 1.0


STUDENT_SIZES = {
    # name: (hidden, layers, heads, intermediate); "draft" is the draft model's shape (10.5%)
    "draft": (64, 2, 2, 176),
    # the largest shape at <= 25% of the teacher's weights with the teacher's head_dim
    "quarter": (128, 2, 4, 256),
}
INITS = ("random", "teacher", "draft")
METHODS = ("logit", "sequence", "both")


def sized(cfg: DistillConfig, size: str) -> DistillConfig:
    """``cfg`` with the student sizes of a named shape in :data:`STUDENT_SIZES`."""
    from dataclasses import replace

    hidden, layers, heads, intermediate = STUDENT_SIZES[size]
    return replace(
        cfg,
        student_hidden=hidden,
        student_layers=layers,
        student_heads=heads,
        student_intermediate=intermediate,
    )


def kd_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    targets: torch.Tensor | None = None,
    *,
    temperature: float = 2.0,
    alpha: float = 0.5,
) -> torch.Tensor:
    """Hinton's distillation loss, averaged over tokens.

    ``alpha * T^2 * KL(p_teacher^T || p_student^T) + (1 - alpha) * CE(student, targets)``
    with ``p^T = softmax(logits / T)``; ``targets`` may be ``None`` only when ``alpha == 1``.
    """
    vocab = student_logits.size(-1)
    s = student_logits.reshape(-1, vocab).float()
    t = teacher_logits.reshape(-1, vocab).float()
    log_p_s = F.log_softmax(s / temperature, dim=-1)
    log_p_t = F.log_softmax(t / temperature, dim=-1)
    kl = F.kl_div(log_p_s, log_p_t, log_target=True, reduction="batchmean")
    loss = alpha * temperature**2 * kl
    if alpha < 1:
        if targets is None:
            raise ValueError("kd_loss needs targets when alpha < 1")
        loss = loss + (1 - alpha) * F.cross_entropy(s, targets.reshape(-1))
    return loss


def student_config(teacher_config, cfg: DistillConfig):
    """The teacher's config with the student's (smaller) sizes; same vocabulary and context."""
    config = teacher_config.__class__.from_dict(teacher_config.to_dict())
    config.hidden_size = cfg.student_hidden
    config.num_hidden_layers = cfg.student_layers
    config.num_attention_heads = cfg.student_heads
    config.num_key_value_heads = cfg.student_heads
    config.head_dim = cfg.student_hidden // cfg.student_heads
    config.intermediate_size = cfg.student_intermediate
    return config


def evenly_spaced(total: int, keep: int) -> torch.Tensor:
    """``keep`` indices spread evenly over ``range(total)``, first and last included."""
    if not 1 <= keep <= total:
        raise ValueError(f"cannot keep {keep} of {total}")
    if keep == 1:
        return torch.tensor([0])
    return torch.linspace(0, total - 1, keep).round().long()


@torch.no_grad()
def select_from_teacher(teacher, config):
    """A student of shape ``config`` whose every weight is a sub-block of the teacher's.

    DistilBERT (Sanh et al. 2019) keeps every other layer of the teacher; weight selection (Xu et
    al. 2023, "Initializing Models with Larger Ones") also narrows each layer: here the student
    keeps evenly spaced layers (first and last included), the first ``heads`` attention heads
    (same ``head_dim``, so RoPE is unchanged), evenly spaced MLP neurons and evenly spaced hidden
    dimensions of the residual stream, the same ones in every matrix, the embedding and the
    norms. With the teacher's own sizes it returns the teacher's weights exactly.
    """
    from transformers import AutoModelForCausalLM

    tc = teacher.config
    head_dim = tc.head_dim
    if config.head_dim != head_dim:
        raise ValueError(f"student head_dim {config.head_dim} != teacher's {head_dim}")
    if config.num_key_value_heads != config.num_attention_heads:
        raise ValueError("weight selection needs as many key/value heads as query heads")
    layers = evenly_spaced(tc.num_hidden_layers, config.num_hidden_layers).tolist()
    hidden = evenly_spaced(tc.hidden_size, config.hidden_size)
    heads = torch.arange(config.num_attention_heads * head_dim)
    neurons = evenly_spaced(tc.intermediate_size, config.intermediate_size)
    student = AutoModelForCausalLM.from_config(config)
    source = teacher.state_dict()
    picked = {}
    for name in student.state_dict():
        teacher_name = name
        if ".layers." in name:
            index = int(name.split(".layers.")[1].split(".")[0])
            teacher_name = name.replace(f".layers.{index}.", f".layers.{layers[index]}.", 1)
        w = source[teacher_name]
        if name.endswith(("q_proj.weight", "k_proj.weight", "v_proj.weight")):
            w = w[heads][:, hidden]
        elif name.endswith("o_proj.weight"):
            w = w[hidden][:, heads]
        elif name.endswith(("gate_proj.weight", "up_proj.weight")):
            w = w[neurons][:, hidden]
        elif name.endswith("down_proj.weight"):
            w = w[hidden][:, neurons]
        elif name.endswith(("embed_tokens.weight", "lm_head.weight")):
            w = w[:, hidden]
        elif "norm" in name:
            w = w[hidden]
        else:
            raise ValueError(f"weight selection does not know {name}")
        picked[name] = w.clone()
    student.load_state_dict(picked)
    student.tie_weights()
    return student


def new_student(teacher, cfg: DistillConfig):
    """A student of ``cfg``'s sizes, started as ``cfg.init`` says (random: ``cfg.seed``)."""
    from transformers import AutoModelForCausalLM

    config = student_config(teacher.config, cfg)
    torch.manual_seed(cfg.seed)
    if cfg.init == "random":
        return AutoModelForCausalLM.from_config(config)
    if cfg.init == "teacher":
        return select_from_teacher(teacher, config)
    if cfg.init == "draft":
        from llmpath_core import load_draft_model

        draft, _ = load_draft_model()
        d = draft.config
        shape = (d.hidden_size, d.num_hidden_layers, d.num_attention_heads, d.intermediate_size)
        wanted = (cfg.student_hidden, cfg.student_layers, cfg.student_heads)
        if shape != (*wanted, cfg.student_intermediate):
            raise ValueError(f"init 'draft' needs the draft's shape {shape}")
        return draft.train()
    raise ValueError(f"unknown init {cfg.init!r}: one of {', '.join(INITS)}")


@torch.no_grad()
def teacher_samples(
    teacher, prompts: torch.Tensor, length: int, temperature: float = 1.0, seed: int = 0
) -> torch.Tensor:
    """Sequence-level KD data: each row of ``prompts`` continued by the teacher to ``length``.

    Plain ancestral sampling at ``temperature`` with the key/value cache (Kim & Rush 2016 use
    beam search; sampling keeps the student's data as varied as the teacher's distribution).
    """
    g = torch.Generator().manual_seed(seed)
    teacher.eval()
    ids = prompts
    out = teacher(input_ids=ids, use_cache=True)
    past = out.past_key_values
    logits = out.logits[:, -1]
    while ids.size(1) < length:
        probs = torch.softmax(logits.float() / temperature, dim=-1)
        nxt = torch.multinomial(probs, 1, generator=g)
        ids = torch.cat([ids, nxt], dim=1)
        if ids.size(1) == length:
            break
        out = teacher(input_ids=nxt, past_key_values=past, use_cache=True)
        past, logits = out.past_key_values, out.logits[:, -1]
    return ids


def count_parameters(model) -> int:
    """Distinct parameters (tied embeddings counted once)."""
    return sum(p.numel() for p in model.parameters())


def token_stream(tokenizer, cfg: DistillConfig) -> torch.Tensor:
    """The training split of the bundled ``mix`` corpus as one id tensor (ch07's packing)."""
    from llmpath_core.data import load_documents
    from llmpath_core.models import encode_documents

    docs = load_documents("mix:train", max_chars=cfg.train_chars)
    return torch.tensor(encode_documents(tokenizer, docs), dtype=torch.long)


def batches(stream: torch.Tensor, cfg: DistillConfig):
    """``cfg.steps`` random ``[batch, seq_len + 1]`` windows, identical for every student."""
    rng = random.Random(cfg.seed)
    top = len(stream) - cfg.seq_len - 2
    for _ in range(cfg.steps):
        starts = [rng.randrange(0, top) for _ in range(cfg.batch_size)]
        yield torch.stack([stream[s : s + cfg.seq_len + 1] for s in starts])


def train_student(student, stream: torch.Tensor, cfg: DistillConfig, teacher=None) -> list[float]:
    """Train ``student`` in place: plain cross-entropy, or KD from ``teacher`` when given.

    With a teacher, ``cfg.method`` picks the KD: ``logit`` (Hinton's loss on the data's windows),
    ``sequence`` (cross-entropy on the teacher's continuations of each window's first
    ``cfg.seqkd_prompt`` tokens) or ``both`` (Hinton's loss on those continuations).
    """
    if cfg.method not in METHODS:
        raise ValueError(f"unknown method {cfg.method!r}: one of {', '.join(METHODS)}")
    projection = None
    params = list(student.parameters())
    if teacher is not None and cfg.hidden_weight > 0:
        projection = torch.nn.Linear(
            student.config.hidden_size, teacher.config.hidden_size, bias=False
        )
        params += list(projection.parameters())
    opt = torch.optim.AdamW(params, lr=cfg.lr, betas=(0.9, 0.95), weight_decay=0.0)
    warmup = max(1, cfg.steps // 10)
    student.train()
    losses = []
    for step, window in enumerate(batches(stream, cfg)):
        for group in opt.param_groups:
            group["lr"] = (
                cfg.lr
                * min(1.0, (step + 1) / warmup)
                * max(0.1, 0.5 * (1 + math.cos(math.pi * step / cfg.steps)))
            )
        if teacher is not None and cfg.method != "logit":
            window = teacher_samples(
                teacher,
                window[:, : cfg.seqkd_prompt],
                window.size(1),
                cfg.seqkd_temperature,
                seed=cfg.seed * 100_003 + step,
            )
        inputs, targets = window[:, :-1], window[:, 1:]
        out = student(input_ids=inputs, output_hidden_states=projection is not None)
        if teacher is None or cfg.method == "sequence":
            loss = F.cross_entropy(out.logits.reshape(-1, out.logits.size(-1)), targets.reshape(-1))
        else:
            with torch.no_grad():
                t_out = teacher(input_ids=inputs, output_hidden_states=projection is not None)
            loss = kd_loss(
                out.logits, t_out.logits, targets, temperature=cfg.temperature, alpha=cfg.alpha
            )
            if projection is not None:
                loss = loss + cfg.hidden_weight * F.mse_loss(
                    projection(out.hidden_states[-1]), t_out.hidden_states[-1]
                )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        losses.append(float(loss.detach()))
    student.eval()
    return losses


@torch.no_grad()
def forward_seconds(
    model, vocab: int, batch: int = 4, seq_len: int = 128, repeats: int = 5
) -> float:
    """Median seconds of one forward pass on ``[batch, seq_len]`` random ids (after a warm-up)."""
    ids = torch.randint(0, vocab, (batch, seq_len), generator=torch.Generator().manual_seed(0))
    model.eval()
    model(input_ids=ids)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model(input_ids=ids)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def distill(cfg: DistillConfig, teacher=None, tokenizer=None, progress=None) -> dict:
    """Teacher, KD student and from-scratch student at equal steps: perplexities, sizes, speed.

    Returns the JSON of ``ch16-enhancement distill`` plus the two students under ``_models``.
    """
    from llmpath_core import evaluate_lm, load_default_model, paired_difference

    say = progress or (lambda message: None)
    if teacher is None:
        teacher, tokenizer = load_default_model()
    teacher.eval()
    stream = token_stream(tokenizer, cfg)
    say(f"from-scratch student: {cfg.steps} steps")
    from dataclasses import replace

    scratch = new_student(teacher, replace(cfg, init="random"))
    scratch_losses = train_student(scratch, stream, cfg)
    say(f"KD student: {cfg.steps} steps (T={cfg.temperature}, alpha={cfg.alpha})")
    student = new_student(teacher, cfg)
    kd_losses = train_student(student, stream, cfg, teacher=teacher)
    say("evaluating on mix:validation")
    ev = {
        name: evaluate_lm(
            m,
            tokenizer,
            seq_len=cfg.seq_len,
            max_windows=cfg.eval_windows,
            max_chars=cfg.eval_chars,
        )
        for name, m in (("teacher", teacher), ("student", student), ("scratch", scratch))
    }
    kd_vs_scratch = paired_difference(ev["scratch"], ev["student"])
    t_teacher = forward_seconds(teacher, teacher.config.vocab_size)
    t_student = forward_seconds(student, student.config.vocab_size)
    teacher_params, student_params = count_parameters(teacher), count_parameters(student)
    return {
        "student_init": cfg.init,
        "kd_method": cfg.method,
        "teacher_params": teacher_params,
        "student_params": student_params,
        "param_ratio": student_params / teacher_params,
        "teacher_perplexity": ev["teacher"]["perplexity"],
        "student_perplexity": ev["student"]["perplexity"],
        "scratch_perplexity": ev["scratch"]["perplexity"],
        "quality_retained": ev["teacher"]["perplexity"] / ev["student"]["perplexity"],
        # the same question in nats and bits per byte (these ratios are far less harsh: the
        # perplexity ratio is exp(-(loss gap)), so 90% needs a loss gap under 0.105 nats)
        "quality_retained_loss": ev["teacher"]["loss"] / ev["student"]["loss"],
        "teacher_loss": ev["teacher"]["loss"],
        "student_loss": ev["student"]["loss"],
        "scratch_loss": ev["scratch"]["loss"],
        "teacher_bits_per_byte": ev["teacher"]["bits_per_byte"],
        "student_bits_per_byte": ev["student"]["bits_per_byte"],
        "kd_minus_scratch_loss": kd_vs_scratch["loss_diff"],
        "kd_minus_scratch_loss_stderr": kd_vs_scratch["loss_diff_stderr"],
        "speedup": t_teacher / t_student,
        "teacher_forward_ms": 1000 * t_teacher,
        "student_forward_ms": 1000 * t_student,
        "eval_tokens": ev["teacher"]["tokens"],
        "final_train_loss": {"kd": kd_losses[-1], "scratch": scratch_losses[-1]},
        "config": asdict(cfg),
        "_models": {"student": student, "scratch": scratch, "tokenizer": tokenizer},
    }


__all__ = [
    "INITS",
    "METHODS",
    "STUDENT_SIZES",
    "DistillConfig",
    "batches",
    "count_parameters",
    "distill",
    "evenly_spaced",
    "forward_seconds",
    "kd_loss",
    "new_student",
    "select_from_teacher",
    "sized",
    "student_config",
    "teacher_samples",
    "token_stream",
    "train_student",
]
