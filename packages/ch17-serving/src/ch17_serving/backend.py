"""The model behind the server: chat templates, token streaming, constraints, cancellation,
embeddings.

:class:`ModelBackend` wraps any Hugging Face causal LM folder (llmpath's default model when none is
given). :meth:`ModelBackend.stream` is the one generation loop that both the streaming and the
non-streaming routes consume, which is why, at temperature 0, the streamed deltas concatenate to
exactly the non-streamed text. The loop runs on a KV cache one token at a time and takes the
model's lock only for each forward pass, so concurrent requests interleave token by token (fair
time to first token) without a batching engine (ch14 builds one).

Text is decoded incrementally: a delta is held back while it ends inside a multi-byte character or
could be the start of a stop string, so a client never sees text that is later taken back.
A model without a chat template (llmpath's default model is a plain story LM) gets
:data:`FALLBACK_CHAT_TEMPLATE`, a ``role: content`` transcript.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmpath_core import UserError

FALLBACK_CHAT_TEMPLATE = (
    "{% if tools %}system: you can call these tools by answering with "
    '{"name": ..., "arguments": {...}}: '
    "{% for t in tools %}{{ t['function']['name'] }}{% if not loop.last %}, {% endif %}"
    "{% endfor %}\n{% endif %}"
    "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)
#: Below this temperature sampling is greedy (dividing logits by ~0 overflows to inf/nan).
MIN_TEMPERATURE = 1e-4
#: Stop strings added for the fallback template, so the model does not write the user's turn.
FALLBACK_STOPS = ("\nuser:", "\nsystem:", "\nassistant:")


@dataclass
class SamplingParams:
    """What a request asks of the generation loop (OpenAI's names and meanings)."""

    max_tokens: int = 64
    temperature: float = 1.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    constraint: Any = None  # a constrained.RegexConstraint, or None


@dataclass
class Delta:
    """One step of a stream: new text (may be empty), and the finish reason on the last one."""

    text: str
    finish_reason: str | None = None
    completion_tokens: int = 0


@dataclass
class Completion:
    """A finished generation."""

    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    first_token_s: float = 0.0
    total_s: float = 0.0


@dataclass
class GenerationStats:
    """Counters the metrics endpoint and tests read."""

    generated_tokens: int = 0
    cancelled: int = 0
    finished: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class ModelBackend:
    """One causal LM and its tokenizer, loaded from a folder (default: llmpath's default model)."""

    def __init__(self, path: str | Path | None = None, name: str | None = None) -> None:
        import torch  # noqa: F401  (fail early if torch is missing)
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from llmpath_core import default_model_path

        folder = Path(path) if path is not None else default_model_path()
        if not folder.is_dir():
            raise UserError(
                f"--model {folder}: not a folder (give a Hugging Face causal LM folder)"
            )
        if not (folder / "config.json").exists():
            raise UserError(f"--model {folder}: no config.json (not a Hugging Face model folder)")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(folder)
            self.model = AutoModelForCausalLM.from_pretrained(folder).eval()
        except (OSError, ValueError) as exc:
            raise UserError(f"--model {folder}: cannot load it ({exc})") from exc
        self.path = folder
        self.name = name or ("llmpath-default" if path is None else folder.name)
        self.has_chat_template = bool(getattr(self.tokenizer, "chat_template", None))
        self.context_length = int(getattr(self.model.config, "max_position_embeddings", 0) or 2048)
        self.eos_ids = self._eos_ids()
        self.lock = threading.Lock()
        self.stats = GenerationStats()
        self._pieces: list[str] | None = None

    @classmethod
    def from_model(cls, model: Any, tokenizer: Any, name: str = "test-model") -> ModelBackend:
        """Wrap an already-loaded model (tests use a tiny random Llama)."""
        self = cls.__new__(cls)
        self.model, self.tokenizer, self.path, self.name = model.eval(), tokenizer, None, name
        self.has_chat_template = bool(getattr(tokenizer, "chat_template", None))
        self.context_length = int(getattr(model.config, "max_position_embeddings", 0) or 2048)
        self.eos_ids = self._eos_ids()
        self.lock = threading.Lock()
        self.stats = GenerationStats()
        self._pieces = None
        return self

    def _eos_ids(self) -> set[int]:
        ids = self.model.config.eos_token_id
        if ids is None:
            ids = self.tokenizer.eos_token_id
        if ids is None:
            return set()
        return {int(i) for i in (ids if isinstance(ids, list) else [ids])}

    # -- prompts ---------------------------------------------------------------------------

    def render_chat(self, messages: list[dict], tools: list[dict] | None = None) -> str:
        """The prompt text for ``messages`` (text content only) with the generation prompt."""
        template = None if self.has_chat_template else FALLBACK_CHAT_TEMPLATE
        return self.tokenizer.apply_chat_template(
            messages,
            tools=tools or None,
            chat_template=template,
            tokenize=False,
            add_generation_prompt=True,
        )

    def default_stops(self) -> tuple[str, ...]:
        """Stop strings every chat request gets (the fallback template's turn markers)."""
        return () if self.has_chat_template else FALLBACK_STOPS

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (no special tokens added)."""
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def count_tokens(self, text: str) -> int:
        return len(self.encode(text))

    def token_pieces(self) -> list[str]:
        """Each token id decoded on its own (for constrained decoding; cached)."""
        if self._pieces is None:
            size = int(self.model.config.vocab_size)
            self._pieces = [self.tokenizer.decode([i]) for i in range(size)]
        return self._pieces

    # -- generation ------------------------------------------------------------------------

    def stream(
        self,
        prompt_ids: list[int],
        params: SamplingParams,
        cancel: threading.Event | None = None,
    ) -> Iterator[Delta]:
        """Generate token by token; yield text deltas, the last one with ``finish_reason``.

        ``finish_reason`` is ``stop`` (end of sequence, a stop string, or a completed constraint),
        ``length`` (``max_tokens`` or the context window) or ``cancelled`` (``cancel`` was set).
        """
        import torch

        if not prompt_ids:
            raise UserError("the prompt is empty")
        if len(prompt_ids) >= self.context_length:
            raise UserError(
                f"the prompt has {len(prompt_ids)} tokens; this model's context window is "
                f"{self.context_length}: shorten the messages"
            )
        budget = min(params.max_tokens, self.context_length - len(prompt_ids))
        generator = torch.Generator().manual_seed(
            params.seed if params.seed is not None else int(time.time_ns() % 2**31)
        )
        generated: list[int] = []
        sent = 0  # characters of the decoded text already yielded
        past = None
        next_input = torch.tensor([prompt_ids])
        finish = "length"
        text = ""
        while len(generated) < budget:
            if cancel is not None and cancel.is_set():
                finish = "cancelled"
                break
            with self.lock, torch.inference_mode():
                out = self.model(input_ids=next_input, past_key_values=past, use_cache=True)
            past = out.past_key_values
            logits = out.logits[0, -1].float()
            token = self._choose(logits, params, text, generator)
            if token is None or token in self.eos_ids:
                finish = "stop"
                break
            generated.append(token)
            text = self.tokenizer.decode(generated)
            with self.stats.lock:
                self.stats.generated_tokens += 1
            hit = _find_stop(text, params.stop)
            if hit is not None:
                text = text[:hit]
                finish = "stop"
                break
            safe = _safe_length(text, params.stop)
            if safe > sent:
                yield Delta(text[sent:safe], None, len(generated))
                sent = safe
            next_input = torch.tensor([[token]])
        with self.stats.lock:
            if finish == "cancelled":
                self.stats.cancelled += 1
            else:
                self.stats.finished += 1
        tail = text[sent:].replace("\ufffd", "") if finish != "cancelled" else ""
        yield Delta(tail, finish, len(generated))

    def _choose(self, logits: Any, params: SamplingParams, text: str, generator: Any) -> int | None:
        import torch

        if params.constraint is not None:
            return self._choose_constrained(logits, params, text, generator)
        if params.temperature < MIN_TEMPERATURE:
            return int(torch.argmax(logits))
        probs = _top_p(torch.softmax(logits / params.temperature, dim=-1), params.top_p)
        if not bool(torch.isfinite(probs).all()) or float(probs.sum()) <= 0:
            return int(torch.argmax(logits))  # numerically degenerate settings: fall back to greedy
        return int(torch.multinomial(probs, 1, generator=generator))

    def _choose_constrained(
        self, logits: Any, params: SamplingParams, text: str, generator: Any
    ) -> int | None:
        """Best-first over the vocabulary: keep the tokens that keep ``text`` a valid prefix."""
        import torch

        constraint = params.constraint
        pieces = self.token_pieces()
        want = 1 if params.temperature < MIN_TEMPERATURE else 32
        done = constraint.complete(text)
        keep: list[int] = []
        for token in torch.argsort(logits, descending=True).tolist():
            if token in self.eos_ids:
                ok = done
            else:
                piece = pieces[token]
                ok = bool(piece) and "\ufffd" not in piece and constraint.allows(text + piece)
            if ok:
                keep.append(token)
                if len(keep) == want:
                    break
        if not keep:
            return None  # nothing can follow: the text is complete (or the vocabulary cannot)
        if want == 1:
            return keep[0]
        sub = _top_p(torch.softmax(logits[keep] / params.temperature, dim=-1), params.top_p)
        if not bool(torch.isfinite(sub).all()) or float(sub.sum()) <= 0:
            return keep[0]
        return keep[int(torch.multinomial(sub, 1, generator=generator))]

    def generate(
        self, prompt_ids: list[int], params: SamplingParams, cancel: threading.Event | None = None
    ) -> Completion:
        """Run :meth:`stream` to the end and join its deltas."""
        start = time.perf_counter()
        first = 0.0
        parts: list[str] = []
        last = Delta("", "length")
        for delta in self.stream(prompt_ids, params, cancel):
            if not first and delta.completion_tokens:
                first = time.perf_counter() - start
            parts.append(delta.text)
            last = delta
        return Completion(
            text="".join(parts),
            finish_reason=last.finish_reason or "length",
            prompt_tokens=len(prompt_ids),
            completion_tokens=last.completion_tokens,
            first_token_s=first,
            total_s=time.perf_counter() - start,
        )

    # -- embeddings ------------------------------------------------------------------------

    def embed(self, token_lists: list[list[int]]) -> list[list[float]]:
        """Mean-pooled, L2-normalised last hidden states, one vector per input."""
        import torch

        vectors = []
        for ids in token_lists:
            ids = ids[: self.context_length] or [next(iter(self.eos_ids), 0)]
            with self.lock, torch.inference_mode():
                out = self.model(input_ids=torch.tensor([ids]), output_hidden_states=True)
            pooled = out.hidden_states[-1][0].float().mean(dim=0)
            vectors.append(torch.nn.functional.normalize(pooled, dim=0).tolist())
        return vectors


def _top_p(probs: Any, top_p: float) -> Any:
    import torch

    if top_p >= 1.0:
        return probs
    order = torch.argsort(probs, descending=True)
    cumulative = torch.cumsum(probs[order], dim=0)
    drop = cumulative - probs[order] > top_p
    filtered = probs.clone()
    filtered[order[drop]] = 0.0
    return filtered / filtered.sum()


def _find_stop(text: str, stops: tuple[str, ...]) -> int | None:
    hits = [text.find(s) for s in stops if s and s in text]
    return min(hits) if hits else None


def _safe_length(text: str, stops: tuple[str, ...]) -> int:
    """How much of ``text`` can be sent: not a trailing partial character or stop-string prefix."""
    end = len(text)
    while end and text[end - 1] == "\ufffd":
        end -= 1
    held = 0
    for stop in stops:
        for k in range(min(len(stop) - 1, end), held, -1):
            if text[:end].endswith(stop[:k]):
                held = k
                break
    return end - held


__all__ = [
    "FALLBACK_CHAT_TEMPLATE",
    "Completion",
    "Delta",
    "ModelBackend",
    "SamplingParams",
]
