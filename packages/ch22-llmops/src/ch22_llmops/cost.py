"""Cost control: accounting, budgets, caching, routing under a quality floor, and a cloud model.

- :class:`CostLedger` — every request's tokens and GPU seconds priced per model, summed per
  model and per tenant (the numbers a chargeback report needs);
- :class:`Budget` — a tenant's monthly budget with alerts at 50/80/100 % and a hard stop;
- :class:`ResponseCache` — exact-match LRU cache on a normalised prompt; a hit costs nothing;
- :func:`cheapest_meeting` and :func:`cascade_threshold` — send traffic to the cheapest model
  whose quality stays above a floor, or escalate from a small model to a large one only when
  the small model is unsure;
- :func:`fleet_cost` — a GPU fleet over a week of diurnal demand: static peak provisioning vs
  demand-based autoscaling vs autoscaling with a spot share (interruptions cost re-work), on
  several clouds; :func:`recommendations` turns the comparison into savings advice.

Prices are illustrative list prices (USD), not quotes: the point is the arithmetic.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# USD per million tokens (input, output) and per GPU-hour (illustrative)
TOKEN_PRICES: dict[str, tuple[float, float]] = {
    "llmpath-draft": (0.05, 0.10),
    "llmpath-default": (0.40, 0.80),
    "large-api": (3.00, 15.00),
}

# cloud -> (instance, GPUs, on-demand $/h, spot $/h, spot interruptions per hour)
INSTANCES: dict[str, tuple[str, int, float, float, float]] = {
    "aws": ("g5.xlarge", 1, 1.006, 0.40, 0.05),
    "gcp": ("g2-standard-4", 1, 0.71, 0.28, 0.06),
    "azure": ("NC4as_T4_v3", 1, 0.526, 0.21, 0.08),
}


def request_cost(model: str, prompt_tokens: int, completion_tokens: int) -> float:
    """USD of one request at ``TOKEN_PRICES``."""
    if model not in TOKEN_PRICES:
        from llmpath_core import UserError

        raise UserError(f"no price for model {model!r}: known {', '.join(TOKEN_PRICES)}")
    price_in, price_out = TOKEN_PRICES[model]
    return (prompt_tokens * price_in + completion_tokens * price_out) / 1e6


@dataclass
class CostLedger:
    """Per-request costs, summed by model and by tenant."""

    rows: list[dict[str, Any]] = field(default_factory=list)

    def record(self, tenant: str, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        cost = request_cost(model, prompt_tokens, completion_tokens)
        self.rows.append(
            {
                "tenant": tenant,
                "model": model,
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "usd": cost,
            }
        )
        return cost

    def totals(self, by: str) -> dict[str, dict[str, float]]:
        """``{key: {"requests", "prompt_tokens", "completion_tokens", "usd"}}`` by model/tenant."""
        out: dict[str, dict[str, float]] = defaultdict(
            lambda: {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0, "usd": 0.0}
        )
        for r in self.rows:
            t = out[r[by]]
            t["requests"] += 1
            t["prompt_tokens"] += r["prompt_tokens"]
            t["completion_tokens"] += r["completion_tokens"]
            t["usd"] += r["usd"]
        return dict(out)

    @property
    def total_usd(self) -> float:
        return float(sum(r["usd"] for r in self.rows))


@dataclass
class Budget:
    """A spending limit with alert levels; :meth:`charge` returns the alerts newly crossed."""

    limit_usd: float
    levels: tuple[float, ...] = (0.5, 0.8, 1.0)
    spent: float = 0.0
    fired: list[float] = field(default_factory=list)

    def allows(self, usd: float) -> bool:
        """False once the charge would exceed the limit (hard stop)."""
        return self.spent + usd <= self.limit_usd

    def charge(self, usd: float) -> list[float]:
        self.spent += usd
        new = [
            lv for lv in self.levels if self.spent >= lv * self.limit_usd and lv not in self.fired
        ]
        self.fired += new
        return new


class ResponseCache:
    """LRU cache of responses keyed by the normalised prompt (case and whitespace folded)."""

    def __init__(self, capacity: int = 1000) -> None:
        self.capacity = capacity
        self.store: OrderedDict[str, Any] = OrderedDict()
        self.hits = self.misses = 0

    @staticmethod
    def key(prompt: str) -> str:
        return re.sub(r"\s+", " ", prompt.strip().lower())

    def get(self, prompt: str) -> Any | None:
        k = self.key(prompt)
        if k in self.store:
            self.store.move_to_end(k)
            self.hits += 1
            return self.store[k]
        self.misses += 1
        return None

    def put(self, prompt: str, response: Any) -> None:
        self.store[self.key(prompt)] = response
        self.store.move_to_end(self.key(prompt))
        while len(self.store) > self.capacity:
            self.store.popitem(last=False)

    @property
    def hit_rate(self) -> float:
        return self.hits / max(1, self.hits + self.misses)


def cheapest_meeting(options: dict[str, dict[str, float]], quality_floor: float) -> str | None:
    """The cheapest option (``{"cost", "quality"}``) whose quality is at least the floor."""
    ok = [(v["cost"], name) for name, v in options.items() if v["quality"] >= quality_floor]
    return min(ok)[1] if ok else None


def cascade_threshold(
    small_confidence: np.ndarray,
    small_correct: np.ndarray,
    large_correct: np.ndarray,
    small_cost: float,
    large_cost: float,
    quality_floor: float,
) -> dict[str, Any]:
    """Escalate to the large model when the small one's confidence is below a threshold.

    Tries every observed confidence as the threshold and returns the cheapest whose accuracy
    reaches ``quality_floor`` (the small model always runs; escalations pay for both).
    """
    best = None
    for thr in np.concatenate([[-np.inf], np.unique(small_confidence), [np.inf]]):
        escalate = small_confidence < thr
        acc = float(np.mean(np.where(escalate, large_correct, small_correct)))
        cost = float(small_cost + large_cost * escalate.mean())
        if acc >= quality_floor and (best is None or cost < best["cost_per_request"]):
            best = {
                "threshold": float(thr),
                "accuracy": acc,
                "cost_per_request": cost,
                "escalated": float(escalate.mean()),
            }
    return best or {
        "threshold": None,
        "accuracy": None,
        "cost_per_request": None,
        "escalated": None,
    }


def diurnal_demand(hours: int = 24 * 7, peak_rps: float = 40.0, seed: int = 0) -> np.ndarray:
    """Requests per second per hour: a daily cycle (peak at 14:00), weekends at 60 %, noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(hours)
    day = 0.55 + 0.45 * np.cos(2 * np.pi * ((t % 24) - 14) / 24)
    weekend = np.where((t // 24) % 7 >= 5, 0.6, 1.0)
    return peak_rps * day * weekend * rng.lognormal(0, 0.05, hours)


def fleet_cost(
    demand_rps: np.ndarray,
    rps_per_gpu: float = 5.0,
    headroom: float = 1.2,
    min_replicas: int = 1,
    spot_share: float = 0.6,
    rework_hours: float = 0.25,
) -> dict[str, dict[str, float]]:
    """Weekly USD per cloud for three policies: static peak, autoscaled, autoscaled + spot.

    Autoscaling runs ``ceil(demand * headroom / rps_per_gpu)`` replicas each hour. With spot,
    ``spot_share`` of them are spot instances; each interruption wastes ``rework_hours`` of an
    on-demand replacement.
    """
    replicas = np.maximum(min_replicas, np.ceil(demand_rps * headroom / rps_per_gpu))
    peak = float(replicas.max())
    hours = len(demand_rps)
    out = {}
    for cloud, (instance, _gpus, on_demand, spot, interrupt) in INSTANCES.items():
        static = peak * hours * on_demand
        auto = float(replicas.sum() * on_demand)
        spot_hours = np.floor(replicas * spot_share).sum()
        od_hours = replicas.sum() - spot_hours
        rework = spot_hours * interrupt * rework_hours * on_demand
        mixed = float(od_hours * on_demand + spot_hours * spot + rework)
        out[cloud] = {
            "instance": instance,
            "static_peak": static,
            "autoscaled": auto,
            "autoscaled_spot": mixed,
            "gpu_hours": float(replicas.sum()),
            "peak_replicas": peak,
        }
    return out


def recommendations(
    fleet: dict[str, dict[str, float]], cache_saving_usd: float, current_cloud: str = "aws"
) -> list[dict]:
    """Savings advice from the fleet comparison and the cache, largest saving first."""
    recs = []
    base_cloud = current_cloud
    base = fleet[base_cloud]
    recs.append(
        {
            "action": f"autoscale on demand ({base_cloud})",
            "saving_usd_week": base["static_peak"] - base["autoscaled"],
        }
    )
    recs.append(
        {
            "action": f"run a spot share behind on-demand ({base_cloud})",
            "saving_usd_week": base["autoscaled"] - base["autoscaled_spot"],
        }
    )
    cheapest = min(fleet, key=lambda c: fleet[c]["autoscaled_spot"])
    recs.append(
        {
            "action": f"move to the cheapest cloud ({cheapest})",
            "saving_usd_week": base["autoscaled_spot"] - fleet[cheapest]["autoscaled_spot"],
        }
    )
    recs.append(
        {
            "action": "cache repeated prompts (saving on the simulated traffic)",
            "saving_usd_week": cache_saving_usd,
        }
    )
    return sorted(recs, key=lambda r: -r["saving_usd_week"])


def simulate_traffic(requests: int = 5000, distinct_prompts: int = 2000, seed: int = 0):
    """Prompts drawn from a Zipf-like popularity (some questions are asked again and again)."""
    rng = np.random.default_rng(seed)
    weights = 1 / np.arange(1, distinct_prompts + 1) ** 1.1
    ids = rng.choice(distinct_prompts, size=requests, p=weights / weights.sum())
    tenants = rng.choice(["acme", "globex", "initech"], size=requests, p=[0.5, 0.3, 0.2])
    return [
        {
            "prompt": f"Question {i}: "
            + ("Please " if k % 2 else "please  ")
            + "summarise the doc",
            "tenant": str(t),
            "prompt_tokens": int(50 + (i * 37) % 400),
            "completion_tokens": int(20 + (i * 53) % 200),
        }
        for k, (i, t) in enumerate(zip(ids, tenants, strict=True))
    ]


def run_cost_lab(model: str = "llmpath-default", budget_usd: float = 0.05, seed: int = 0) -> dict:
    """Serve simulated traffic through cache + ledger + budgets; price a fleet; recommend."""
    traffic = simulate_traffic(seed=seed)
    ledger, cache = CostLedger(), ResponseCache(capacity=500)
    budgets = {t: Budget(budget_usd) for t in ("acme", "globex", "initech")}
    alerts, blocked, uncached_usd, cached_usd = [], 0, 0.0, 0.0
    for r in traffic:
        price = request_cost(model, r["prompt_tokens"], r["completion_tokens"])
        uncached_usd += price
        if cache.get(r["prompt"]) is not None:
            cached_usd += price
            continue
        budget = budgets[r["tenant"]]
        if not budget.allows(price):
            blocked += 1
            continue
        ledger.record(r["tenant"], model, r["prompt_tokens"], r["completion_tokens"])
        alerts += [{"tenant": r["tenant"], "level": lv} for lv in budget.charge(price)]
        cache.put(r["prompt"], "answer")
    fleet = fleet_cost(diurnal_demand(seed=seed))
    return {
        "requests": len(traffic),
        "cache_hit_rate": cache.hit_rate,
        "usd_without_cache": uncached_usd,
        "usd_spent": ledger.total_usd,
        "usd_saved_by_cache": cached_usd,
        "by_tenant": ledger.totals("tenant"),
        "budget_alerts": alerts,
        "blocked_by_budget": blocked,
        "fleet_week": fleet,
        "recommendations": recommendations(fleet, cached_usd),
        "math_check": math.isclose(
            ledger.total_usd, sum(v["usd"] for v in ledger.totals("model").values())
        ),
    }
