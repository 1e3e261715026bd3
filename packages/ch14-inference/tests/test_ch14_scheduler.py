"""The scheduler's policies, without a model: budgets, chunking, FIFO fairness, preemption."""

from __future__ import annotations

from ch14_inference.block_manager import BlockManager
from ch14_inference.sampling import SamplingParams
from ch14_inference.scheduler import Scheduler, SchedulerConfig, Sequence


def _seq(name: str, n: int) -> Sequence:
    return Sequence(name, list(range(n)), SamplingParams(max_tokens=8))


def _run(sched: Scheduler):
    plan = sched.schedule()
    for seq, n, _ in plan.work:  # what the engine does after a step, minus the model
        seq.num_computed += n
        if seq.num_uncomputed == 0:
            seq.output_ids.append(1)
    return plan


def test_chunked_prefill_respects_the_token_budget_and_keeps_decodes_going():
    sched = Scheduler(SchedulerConfig(max_num_batched_tokens=16), BlockManager(64, 4))
    short, long = _seq("a", 3), _seq("b", 40)
    sched.add(short)
    sched.add(long)
    plan = _run(sched)
    assert [(s.request_id, n) for s, n, _ in plan.work] == [("a", 3), ("b", 13)]
    plan = _run(sched)  # "a" decodes one token while "b" continues its prompt in a chunk
    assert [(s.request_id, n) for s, n, _ in plan.work] == [("a", 1), ("b", 15)]


def test_fifo_a_large_head_request_blocks_later_small_ones():
    sched = Scheduler(SchedulerConfig(chunked_prefill=False), BlockManager(10, 4))
    sched.add(_seq("running", 20))
    _run(sched)  # takes 5 of the 10 blocks
    sched.add(_seq("big", 24))  # needs 6 blocks: does not fit now
    sched.add(_seq("small", 2))  # would fit, but must not overtake "big"
    plan = _run(sched)
    assert [s.request_id for s, _, _ in plan.work] == ["running"]
    assert [s.request_id for s in sched.waiting] == ["big", "small"]


def test_preemption_frees_the_newest_and_requeues_it_first():
    blocks = BlockManager(4, 2)
    sched = Scheduler(SchedulerConfig(), blocks)
    old, new = _seq("old", 4), _seq("new", 4)
    sched.add(old)
    sched.add(new)
    _run(sched)  # both prompts computed: all 4 blocks used, one token sampled each
    plan = _run(sched)  # "old" needs a new block for its decode: "new" is preempted
    assert [s.request_id for s in plan.preempted] == ["new"]
    assert new.num_computed == 0 and new.output_ids == [1]  # recomputed later, tokens kept
    assert sched.waiting[0] is new and blocks.num_free_blocks == 1
