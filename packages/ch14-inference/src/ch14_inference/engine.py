"""LLMEngine: requests in, tokens out, one scheduler step at a time (vLLM's engine loop).

Each :meth:`LLMEngine.step` asks the :class:`~ch14_inference.scheduler.Scheduler` what to run,
reserves cache slots (copy-on-write where blocks are shared), runs one flat forward of
:class:`~ch14_inference.model.PagedLlama`, samples for the sequences whose prompt is complete, and
checks the stop conditions (EOS, stop token ids, stop strings, ``max_tokens``, the context).
A request with ``n > 1`` is prefilled once; its sequence is then *forked* into ``n`` sequences that
share the prompt's blocks. :meth:`generate` runs a list of prompts to completion and
:meth:`stream` yields text as it is produced.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ch14_inference.block_manager import BlockManager
from ch14_inference.model import Int8KVCache, PagedLlama, make_batch
from ch14_inference.sampling import SamplingParams, sample
from ch14_inference.scheduler import Scheduler, SchedulerConfig, Sequence
from llmpath_core import UserError


@dataclass
class EngineConfig:
    """KV cache and batching limits. ``kv_cache_bytes`` (if set) decides ``num_blocks``."""

    block_size: int = 16
    num_blocks: int = 256
    kv_cache_bytes: int | None = None
    max_num_seqs: int = 32
    max_num_batched_tokens: int = 256
    chunked_prefill: bool = True
    policy: str = "continuous"
    seed: int = 0
    record_memory: bool = False
    kv_dtype: str = "auto"  # or "int8": quantised cache (see model.Int8KVCache)


@dataclass
class CompletionOutput:
    index: int
    text: str
    token_ids: list[int]
    finish_reason: str | None


@dataclass
class RequestOutput:
    """The state of one request after a step (``finished`` once all its completions are)."""

    request_id: str
    prompt: str | None
    prompt_token_ids: list[int]
    outputs: list[CompletionOutput]
    finished: bool
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class _Request:
    request_id: str
    prompt: str | None
    prompt_ids: list[int]
    params: SamplingParams
    seqs: list[Sequence]
    arrival: float
    first_token_time: float | None = None
    finish_time: float | None = None


def load_model(model: Any, device: str = "cpu") -> tuple[PagedLlama, Any]:
    """A :class:`PagedLlama` and its tokenizer from a path, ``"default"``/``"draft"`` or a model."""
    if isinstance(model, PagedLlama):
        return model, None
    if isinstance(model, torch.nn.Module):
        return PagedLlama(model), None
    from llmpath_core import default_model_path, draft_model_path  # type: ignore[attr-defined]

    name = str(model)
    path = {"default": default_model_path, "draft": draft_model_path}.get(name)
    folder = Path(path()) if path else Path(name)
    if not (folder / "config.json").is_file():
        raise UserError(f"no model at {name!r}: give 'default', 'draft' or a HF model folder")
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # keep stderr to our own lines
    try:
        hf = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).to(device).eval()
        has_tokenizer = (folder / "tokenizer.json").is_file()
        tokenizer = AutoTokenizer.from_pretrained(folder) if has_tokenizer else None
        return PagedLlama(hf), tokenizer
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot use the model at {folder}: {str(exc).splitlines()[0]}") from exc


class LLMEngine:
    """A paged-KV, continuously batched engine over one Llama-architecture model."""

    def __init__(
        self, model: Any, tokenizer: Any = None, config: EngineConfig | None = None
    ) -> None:
        self.config = config = config or EngineConfig()
        self.model, loaded_tokenizer = load_model(model)
        self.tokenizer = tokenizer or loaded_tokenizer
        num_blocks = config.num_blocks
        if config.kv_cache_bytes is not None:
            num_blocks = config.kv_cache_bytes // (
                self.model.kv_bytes_per_token(config.kv_dtype) * config.block_size
            )
        if num_blocks < 1:
            raise UserError("KV cache budget is smaller than one block: raise it")
        self.blocks = BlockManager(num_blocks, config.block_size)
        if config.kv_dtype not in {"auto", "int8"}:
            raise UserError("kv_dtype must be 'auto' or 'int8'")
        self.cache = self.model.new_cache(num_blocks, config.block_size, config.kv_dtype)
        self.scheduler = Scheduler(
            SchedulerConfig(
                config.max_num_seqs,
                config.max_num_batched_tokens,
                config.chunked_prefill,
                config.policy,
            ),
            self.blocks,
        )
        self.generator = torch.Generator(device=self.model.device).manual_seed(config.seed)
        self.requests: dict[str, _Request] = {}
        self._ids = itertools.count()
        self.eos_token_id = self._eos_id()
        self.memory_log: list[dict[str, float]] = []
        self.num_steps = 0
        self.stream_text = False  # decode text every step (for streaming), not only at the end

    def _eos_id(self) -> int | None:
        eos = getattr(self.model.config, "eos_token_id", None)
        if isinstance(eos, list):
            eos = eos[0] if eos else None
        if eos is None and self.tokenizer is not None:
            eos = self.tokenizer.eos_token_id
        return eos

    @property
    def max_model_len(self) -> int:
        return self.model.max_positions

    # requests ---------------------------------------------------------------------------------

    def add_request(
        self,
        prompt: str | list[int],
        params: SamplingParams | None = None,
        request_id: str | None = None,
    ) -> str:
        """Queue a request; bad requests raise :class:`~llmpath_core.UserError`."""
        params = params or SamplingParams()
        if isinstance(prompt, str):
            if self.tokenizer is None:
                raise UserError("this engine has no tokenizer: pass token ids")
            text: str | None = prompt
            ids = self.tokenizer.encode(prompt)
        else:
            text, ids = None, [int(t) for t in prompt]
        if not ids:
            raise UserError("the prompt is empty")
        if any(t < 0 or t >= self.model.vocab_size for t in ids):
            raise UserError(f"token ids must be in [0, {self.model.vocab_size})")
        if len(ids) >= self.max_model_len:
            raise UserError(
                f"the prompt has {len(ids)} tokens, longer than the model's context of "
                f"{self.max_model_len} minus one generated token: shorten it"
            )
        if params.stop and self.tokenizer is None:
            raise UserError("stop strings need a tokenizer")
        need = self.blocks.blocks_needed(min(len(ids) + params.max_tokens, self.max_model_len))
        if need > self.blocks.num_blocks:
            raise UserError(
                f"the KV cache budget ({self.blocks.num_blocks} blocks of "
                f"{self.blocks.block_size} tokens) is too small for one request of "
                f"{len(ids)}+{params.max_tokens} tokens: raise the budget or lower max_tokens"
            )
        rid = request_id or f"req-{next(self._ids)}"
        if rid in self.requests:
            raise UserError(f"duplicate request id {rid!r}")
        seq = Sequence(rid, ids, params)
        self.requests[rid] = _Request(rid, text, ids, params, [seq], seq.arrival)
        self.scheduler.add(seq)
        return rid

    def abort(self, request_id: str) -> None:
        self.scheduler.abort(request_id)
        self.requests.pop(request_id, None)

    def has_unfinished(self) -> bool:
        return self.scheduler.has_work()

    # the loop ---------------------------------------------------------------------------------

    def step(self) -> list[RequestOutput]:
        """Run one iteration; returns the requests that produced tokens (finished ones popped)."""
        plan = self.scheduler.schedule()
        if not plan.work:
            return []
        entries = []
        for seq, n, slots in plan.work:
            toks = seq.tokens[seq.num_computed : seq.num_computed + n]
            entries.append((toks, seq.num_computed, slots, self.blocks.slot_table(seq.seq_id)))
        self._copy_blocks(plan.copies)
        batch = make_batch(entries, self.blocks.block_size, self.model.device)
        logits = self.model.forward(batch, self.cache)
        self.num_steps += 1

        rows, row_seqs = [], []
        for row, (seq, n, _) in enumerate(plan.work):
            seq.num_computed += n
            if seq.num_uncomputed == 0:
                rows.append(row)
                row_seqs.append(seq)
        touched: dict[str, _Request] = {}
        if rows:
            now = time.perf_counter()
            picked = logits[rows]
            fan_out = max(s.params.n if not s.output_ids and s.index == 0 else 1 for s in row_seqs)
            tokens = sample(
                picked, [s.params for s in row_seqs], self.generator, num_samples=fan_out
            ).tolist()
            for seq, toks in zip(row_seqs, tokens, strict=True):
                req = self.requests[seq.request_id]
                if not seq.output_ids and seq.params.n > 1 and len(req.seqs) == 1:
                    self._fork(req, seq, toks[1 : seq.params.n])
                self._append(seq, toks[0])
                req.first_token_time = req.first_token_time or now
                touched[seq.request_id] = req
        if self.config.record_memory:
            self._record_memory()
        return [self._output(req) for req in touched.values()]

    def _fork(self, req: _Request, parent: Sequence, first_tokens: list[int]) -> None:
        children = []
        for i in range(1, len(first_tokens) + 1):
            child = Sequence(req.request_id, parent.prompt_ids, parent.params, parent.arrival)
            child.index, child.num_computed = i, parent.num_computed
            self.blocks.fork(parent.seq_id, child.seq_id)
            req.seqs.append(child)
            children.append(child)
        self.scheduler.add_running_after(parent, children)
        for child, tok in zip(children, first_tokens, strict=True):
            self._append(child, tok)

    def _append(self, seq: Sequence, token: int) -> None:
        seq.output_ids.append(token)
        p = seq.params
        if (token == self.eos_token_id and not p.ignore_eos) or token in p.stop_token_ids:
            seq.finish_reason = "stop"
        elif len(seq.output_ids) >= p.max_tokens or len(seq) >= self.max_model_len:
            seq.finish_reason = "length"
        if self.tokenizer is not None and (p.stop or seq.finished or self.stream_text):
            seq.text = self.tokenizer.decode(seq.output_ids, skip_special_tokens=True)
            for stop in p.stop:
                at = seq.text.find(stop)
                if at >= 0:
                    seq.text = seq.text[:at]
                    seq.finish_reason = "stop"
        if seq.finished:
            self.scheduler.finish(seq)

    def _copy_blocks(self, copies: list[tuple[int, int]]) -> None:
        bs = self.blocks.block_size
        for src, dst in copies:
            d, s = slice(dst * bs, (dst + 1) * bs), slice(src * bs, (src + 1) * bs)
            if isinstance(self.cache, Int8KVCache):
                self.cache.copy_slots(d, s)
            else:
                self.cache[:, :, d] = self.cache[:, :, s]

    def _record_memory(self) -> None:
        used = sum(s.num_computed for s in self.scheduler.running)
        allocated = (self.blocks.num_blocks - self.blocks.num_free_blocks) * self.blocks.block_size
        self.memory_log.append(
            {
                "step": self.num_steps,
                "time": time.perf_counter(),
                "running": len(self.scheduler.running),
                "waiting": len(self.scheduler.waiting),
                "tokens_used": used,
                "slots_allocated": allocated,
                "slots_total": self.blocks.num_blocks * self.blocks.block_size,
            }
        )

    def _output(self, req: _Request) -> RequestOutput:
        finished = all(s.finished for s in req.seqs)
        if finished and req.finish_time is None:
            req.finish_time = time.perf_counter()
            self.requests.pop(req.request_id, None)
        outs = [
            CompletionOutput(s.index, s.text, list(s.output_ids), s.finish_reason)
            for s in sorted(req.seqs, key=lambda s: s.index)
        ]
        metrics = {"arrival": req.arrival}
        if req.first_token_time is not None:
            metrics["ttft_s"] = req.first_token_time - req.arrival
        if req.finish_time is not None:
            metrics["latency_s"] = req.finish_time - req.arrival
        return RequestOutput(req.request_id, req.prompt, req.prompt_ids, outs, finished, metrics)

    # conveniences -----------------------------------------------------------------------------

    def generate(
        self, prompts: list[str] | list[list[int]], params: SamplingParams | None = None
    ) -> list[RequestOutput]:
        """Run ``prompts`` together to completion; outputs in prompt order."""
        ids = [self.add_request(p, params) for p in prompts]
        done: dict[str, RequestOutput] = {}
        while self.has_unfinished():
            for out in self.step():
                if out.finished:
                    done[out.request_id] = out
        return [done[i] for i in ids]

    def stream(
        self, prompt: str | list[int], params: SamplingParams | None = None
    ) -> Iterator[str]:
        """Yield the text of one request piece by piece (other queued requests run alongside)."""
        self.stream_text = True
        rid = self.add_request(prompt, params)
        sent = 0
        while self.has_unfinished():
            for out in self.step():
                if out.request_id != rid:
                    continue
                text = out.outputs[0].text
                if out.finished or not text.endswith("\ufffd"):
                    yield text[sent:]
                    sent = len(text)
                if out.finished:
                    return


__all__ = ["CompletionOutput", "EngineConfig", "LLMEngine", "RequestOutput", "load_model"]
