"""Static vs continuous batching compare like with like: same batch size, same KV memory budget."""

from __future__ import annotations

import time

import torch

from ch14_inference import EngineConfig
from ch14_inference.block_manager import BlockManager
from ch14_inference.labs import scheduling_effect
from ch14_inference.sampling import SamplingParams
from ch14_inference.scheduler import Scheduler, SchedulerConfig, Sequence
from ch14_inference.workload import lognormal_lengths, make_offline_workload


def _step(sched: Scheduler) -> None:
    plan = sched.schedule()
    for seq, n, _ in plan.work:
        seq.num_computed += n
        if seq.num_uncomputed == 0:
            seq.output_ids.append(1)
            if len(seq.output_ids) >= seq.params.max_tokens:
                sched.finish(seq)


def test_static_forms_the_whole_batch_even_when_prompts_exceed_the_token_budget():
    # 4 prompts of 12 tokens, a 16-token budget per step: the old static policy admitted only
    # what fit in the first step (1-2 sequences) and then nothing until they finished
    config = SchedulerConfig(max_num_seqs=4, max_num_batched_tokens=16, policy="static")
    sched = Scheduler(config, BlockManager(64, 4))
    for i in range(6):
        sched.add(Sequence(f"r{i}", list(range(12)), SamplingParams(max_tokens=2 + 6 * (i == 0))))
    _step(sched)
    assert [s.request_id for s in sched.running] == ["r0", "r1", "r2", "r3"]
    while len(sched.running) > 1:  # r1..r3 finish long before r0
        _step(sched)
    assert [s.request_id for s in sched.running] == ["r0"]
    assert [s.request_id for s in sched.waiting] == ["r4", "r5"]  # no admission mid-batch
    while sched.running:
        _step(sched)
    _step(sched)
    assert [s.request_id for s in sched.running] == ["r4", "r5"]  # the next batch, together


def test_both_policies_run_the_same_batch_size_and_memory_budget(gqa_model):
    corpus = torch.randint(0, 97, (2000,), generator=torch.Generator().manual_seed(0)).tolist()
    # prompts of 12-20 tokens, 4 per batch, a 32-token step budget: the budget cannot hold a batch
    config = EngineConfig(block_size=4, num_blocks=80, max_num_seqs=4, max_num_batched_tokens=32)
    varied = make_offline_workload(12, corpus, (12, 20), 12, 1.0, (1, 60), seed=0)
    r = scheduling_effect(gqa_model, varied, config, clock=time.perf_counter)
    for policy in ("static", "continuous"):
        row = r[policy]
        assert row["peak_running"] == 4, (policy, row["peak_running"])
        assert (row["max_num_seqs"], row["num_blocks"]) == (4, 80)
        assert row["tokens"] == sum(w.max_tokens for w in varied)
    assert r["steps_ratio"] > 1.2  # varied lengths: static waits on each batch's longest member
    # equal output lengths and prompts within the budget: the two policies run the same steps
    equal = make_offline_workload(12, corpus, (4, 8), 10, 0.0, (1, 60), seed=1)
    r = scheduling_effect(gqa_model, equal, config)
    assert r["static"]["steps"] == r["continuous"]["steps"]


def test_lognormal_lengths_keep_the_mean_and_widen_with_sigma():
    import random
    import statistics

    flat = lognormal_lengths(2000, 40.0, 0.0, (1, 10_000), random.Random(0))
    assert set(flat) == {40}
    wide = lognormal_lengths(4000, 40.0, 1.0, (1, 10_000), random.Random(0))
    assert abs(statistics.fmean(wide) - 40.0) < 3.0  # mean kept (±3 at n = 4000, CV 1.3)
    assert statistics.pstdev(wide) / statistics.fmean(wide) > 0.9
