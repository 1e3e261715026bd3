"""A Poisson workload of mixed-length requests, and replaying it against an engine in real time.

Requests arrive as a Poisson process (exponential gaps at ``rate`` per second), with prompt and
output lengths drawn from wide ranges: the mix that makes static batching wait on its longest
member and makes a paged cache pay off. :func:`replay` feeds the requests to an
:class:`~ch14_inference.engine.LLMEngine` at their arrival times and records, per request, the
time to first token and the latency; :func:`summarize` turns that into throughput and p50/p99.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ch14_inference.engine import LLMEngine
from ch14_inference.sampling import SamplingParams


@dataclass
class WorkItem:
    """One request: when it arrives, its prompt (token ids, or text for a server) and length."""

    arrival_s: float
    prompt: Any
    max_tokens: int


def make_workload(
    num_requests: int,
    rate: float,
    corpus: list[Any],
    prompt_len: tuple[int, int] = (8, 64),
    output_len: tuple[int, int] = (8, 128),
    seed: int = 0,
) -> list[WorkItem]:
    """``num_requests`` requests at ``rate``/s; prompts are slices of ``corpus`` (token ids).

    Output lengths are log-uniform in ``output_len`` (many short answers, a few long ones).
    """
    rng = random.Random(seed)
    t = 0.0
    items = []
    lo, hi = output_len
    for _ in range(num_requests):
        t += rng.expovariate(rate) if rate > 0 else 0.0
        n = rng.randint(*prompt_len)
        start = rng.randrange(0, max(1, len(corpus) - n))
        out = round(lo * (hi / lo) ** rng.random())
        items.append(WorkItem(t, corpus[start : start + n], out))
    return items


def lognormal_lengths(
    n: int, mean: float, sigma: float, bounds: tuple[int, int], rng: random.Random
) -> list[int]:
    """``n`` output lengths, log-normal around ``mean`` with log-spread ``sigma``, in ``bounds``.

    ``sigma = 0`` gives every request the same length; larger ``sigma`` keeps the mean (before
    clipping) and widens the spread (coefficient of variation ``sqrt(exp(sigma**2) - 1)``).
    """
    lo, hi = bounds
    return [
        min(hi, max(lo, round(mean * math.exp(sigma * rng.gauss(0.0, 1.0) - sigma**2 / 2))))
        for _ in range(n)
    ]


def make_offline_workload(
    num_requests: int,
    corpus: list[Any],
    prompt_len: tuple[int, int] = (8, 32),
    output_mean: float = 48.0,
    output_sigma: float = 1.0,
    output_bounds: tuple[int, int] = (1, 192),
    seed: int = 0,
) -> list[WorkItem]:
    """``num_requests`` requests all arriving at t = 0 (an offline batch job), log-normal outputs.

    The workload for comparing scheduling policies by throughput: no arrival process, so the
    makespan is set by the scheduler alone.
    """
    rng = random.Random(seed)
    outs = lognormal_lengths(num_requests, output_mean, output_sigma, output_bounds, rng)
    items = []
    for out in outs:
        n = rng.randint(*prompt_len)
        start = rng.randrange(0, max(1, len(corpus) - n))
        items.append(WorkItem(0.0, corpus[start : start + n], out))
    return items


@dataclass
class RequestRecord:
    arrival_s: float
    ttft_s: float
    latency_s: float
    tokens: int


def replay(
    engine: LLMEngine,
    workload: list[WorkItem],
    temperature: float = 0.0,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[list[RequestRecord], float]:
    """Run ``workload`` in real time; returns per-request records and the makespan in seconds.

    ``clock=time.process_time`` measures in CPU seconds of this process instead of wall time (with
    one torch thread: what the run would take on an idle core, whatever else the machine runs);
    an idle engine then skips ahead to the next arrival instead of sleeping.
    """
    pending = sorted(workload, key=lambda w: w.arrival_s)
    wall = clock is time.perf_counter
    skew = 0.0  # idle time skipped (CPU clock only)

    def elapsed() -> float:
        return clock() - start + skew

    start = clock()
    arrivals: dict[str, float] = {}
    first: dict[str, float] = {}
    records: list[RequestRecord] = []
    i = 0
    while i < len(pending) or engine.has_unfinished():
        now = elapsed()
        while i < len(pending) and pending[i].arrival_s <= now:
            w = pending[i]
            params = SamplingParams(
                max_tokens=w.max_tokens, temperature=temperature, ignore_eos=True
            )
            rid = engine.add_request(w.prompt, params)
            arrivals[rid] = w.arrival_s
            i += 1
        if not engine.has_unfinished():
            gap = max(0.0, pending[i].arrival_s - elapsed())
            if wall:
                time.sleep(gap)
            else:
                skew += gap
            continue
        for out in engine.step():
            t = elapsed()
            first.setdefault(out.request_id, t)
            if out.finished:
                a = arrivals[out.request_id]
                n = sum(len(c.token_ids) for c in out.outputs)
                records.append(RequestRecord(a, first[out.request_id] - a, t - a, n))
    return records, elapsed()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summarize(records: list[RequestRecord], makespan: float) -> dict[str, float]:
    """Throughput (generated tokens/s over the makespan), TTFT and latency percentiles."""
    tokens = sum(r.tokens for r in records)
    lat = [r.latency_s for r in records]
    ttft = [r.ttft_s for r in records]
    return {
        "requests": len(records),
        "tokens": tokens,
        "seconds": makespan,
        "tokens_per_s": tokens / makespan if makespan else 0.0,
        "ttft_p50_s": percentile(ttft, 50),
        "ttft_p99_s": percentile(ttft, 99),
        "latency_p50_s": percentile(lat, 50),
        "latency_p95_s": percentile(lat, 95),
        "latency_p99_s": percentile(lat, 99),
        "latency_mean_s": statistics.fmean(lat) if lat else float("nan"),
    }


__all__ = [
    "RequestRecord",
    "WorkItem",
    "lognormal_lengths",
    "make_offline_workload",
    "make_workload",
    "percentile",
    "replay",
    "summarize",
]
