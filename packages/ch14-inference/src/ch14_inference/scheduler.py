"""Iteration-level scheduling (Orca, Yu et al., 2022; vLLM's scheduler): continuous batching.

Every engine step the scheduler decides which sequences run and how many of their not-yet-computed
tokens each one computes, under two budgets: ``max_num_batched_tokens`` tokens per step and the
KV cache's free blocks.

1. Running sequences go first, oldest first. A prompt longer than the remaining token budget is
   *chunked*: it computes what fits now and the rest in later steps, so a long prompt never
   stalls the decodes of others. If the cache has no block for a running sequence, the newest
   running sequence is *preempted by recomputation*: its blocks are freed and it goes back to the
   front of the queue with its tokens so far, to be prefilled again later.
2. Then waiting sequences are admitted strictly first come, first served (a request that does not
   fit blocks the ones behind it, so a big request is never starved) while tokens, blocks and
   sequence slots remain, and only when no one was preempted in this step.

``policy="static"`` is the classic baseline (HF ``generate()`` on fixed batches): when nothing is
running, the next ``max_num_seqs`` waiting sequences form a batch *all at once* (their prompts are
then computed under the same token budget, in chunks if needed, so the budget never shrinks the
batch), and nothing else is admitted until every member of the batch has finished, so a batch runs
as long as its longest request. Both policies share the same ``max_num_seqs``, token budget and KV
blocks: the only difference is *when* sequences may join.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from dataclasses import dataclass, field

from ch14_inference.block_manager import BlockManager
from ch14_inference.sampling import SamplingParams

_seq_ids = itertools.count()


@dataclass(eq=False)
class Sequence:
    """One token stream: a prompt and the tokens generated after it."""

    request_id: str
    prompt_ids: list[int]
    params: SamplingParams
    arrival: float = field(default_factory=time.perf_counter)
    output_ids: list[int] = field(default_factory=list)
    num_computed: int = 0
    index: int = 0  # which of the request's n completions
    finish_reason: str | None = None
    text: str = ""
    num_preemptions: int = 0
    seq_id: int = field(default_factory=lambda: next(_seq_ids))

    @property
    def tokens(self) -> list[int]:
        return self.prompt_ids + self.output_ids

    def __len__(self) -> int:
        return len(self.prompt_ids) + len(self.output_ids)

    @property
    def num_uncomputed(self) -> int:
        return len(self) - self.num_computed

    @property
    def finished(self) -> bool:
        return self.finish_reason is not None


@dataclass
class SchedulerConfig:
    max_num_seqs: int = 32
    max_num_batched_tokens: int = 256
    chunked_prefill: bool = True
    policy: str = "continuous"  # or "static"

    def __post_init__(self) -> None:
        if self.policy not in {"continuous", "static"}:
            raise ValueError("policy must be 'continuous' or 'static'")
        if self.max_num_seqs < 1 or self.max_num_batched_tokens < 1:
            raise ValueError("max_num_seqs and max_num_batched_tokens must be >= 1")


@dataclass
class ScheduledStep:
    """What runs in one step: ``(sequence, number of new tokens, their cache slots)``, plus the
    copy-on-write block copies to do first and the sequences preempted in this step."""

    work: list[tuple[Sequence, int, list[int]]]
    copies: list[tuple[int, int]]
    preempted: list[Sequence]


class Scheduler:
    """Waiting and running queues over a :class:`BlockManager`."""

    def __init__(self, config: SchedulerConfig, blocks: BlockManager) -> None:
        self.config = config
        self.blocks = blocks
        self.waiting: deque[Sequence] = deque()
        self.running: list[Sequence] = []
        self.num_preemptions = 0

    def add(self, seq: Sequence) -> None:
        self.waiting.append(seq)

    def has_work(self) -> bool:
        return bool(self.waiting or self.running)

    def _preempt(self, seq: Sequence) -> None:
        self.blocks.free(seq.seq_id)
        seq.num_computed = 0
        seq.num_preemptions += 1
        self.num_preemptions += 1
        self.waiting.appendleft(seq)

    def schedule(self) -> ScheduledStep:
        budget = self.config.max_num_batched_tokens
        work: list[tuple[Sequence, int, list[int]]] = []
        copies: list[tuple[int, int]] = []
        preempted: list[Sequence] = []
        if self.config.policy == "static" and not self.running:
            self._form_static_batch()
        i = 0
        while i < len(self.running) and budget > 0:
            seq = self.running[i]
            n = min(seq.num_uncomputed, budget)
            if n < seq.num_uncomputed and seq.num_computed == 0 and not self.config.chunked_prefill:
                i += 1  # a static batch member whose whole prompt does not fit this step
                continue
            while not self.blocks.can_append(seq.seq_id, n):
                victim = self.running.pop()
                self._preempt(victim)
                preempted.append(victim)
                if victim is seq:
                    break
            if seq in preempted:
                break
            slots, cow = self.blocks.append_slots(seq.seq_id, n)
            copies += cow
            work.append((seq, n, slots))
            budget -= n
            i += 1
        may_admit = not preempted and self.config.policy == "continuous"
        while may_admit and self.waiting and budget > 0:
            seq = self.waiting[0]
            if len(self.running) + seq.params.n > self.config.max_num_seqs and self.running:
                break
            n = min(seq.num_uncomputed, budget)
            if n < seq.num_uncomputed and not self.config.chunked_prefill:
                break
            if not self.blocks.can_append(seq.seq_id, n):
                break
            self.waiting.popleft()
            self.running.append(seq)
            slots, cow = self.blocks.append_slots(seq.seq_id, n)
            copies += cow
            work.append((seq, n, slots))
            budget -= n
        return ScheduledStep(work, copies, preempted)

    def _form_static_batch(self) -> None:
        """Static policy: the next ``max_num_seqs`` waiting sequences start together."""
        while self.waiting:
            seq = self.waiting[0]
            if self.running and len(self.running) + seq.params.n > self.config.max_num_seqs:
                break
            self.running.append(self.waiting.popleft())

    def finish(self, seq: Sequence) -> None:
        self.running.remove(seq)
        self.blocks.free(seq.seq_id)

    def add_running_after(self, parent: Sequence, children: list[Sequence]) -> None:
        at = self.running.index(parent) + 1
        self.running[at:at] = children

    def abort(self, request_id: str) -> list[Sequence]:
        gone = [s for s in [*self.waiting, *self.running] if s.request_id == request_id]
        for seq in gone:
            if seq in self.running:
                self.finish(seq)
            else:
                self.waiting.remove(seq)
                self.blocks.free(seq.seq_id)
        return gone


__all__ = ["ScheduledStep", "Scheduler", "SchedulerConfig", "Sequence"]
