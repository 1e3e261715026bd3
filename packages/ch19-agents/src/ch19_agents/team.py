"""The market-analysis team: collector, sentiment, technical and synthesis agents and a coordinator.

Agents talk only through :class:`Message` s on a :class:`Bus` (sender, recipient, kind,
payload); the :class:`Coordinator` starts the work, routes messages, retries an agent that
fails once and, if it fails again, lets the team finish *degraded* (the synthesis is told which
signal is missing). Conflict resolution: when sentiment and technicals point in opposite
directions and both are confident, the synthesis says ``hold`` and reports the conflict;
otherwise it takes the confidence-weighted mean.

The data are generated (:func:`generate_market`): per ticker a price path whose drift changes in
regimes, and daily news headlines whose tone follows the coming drift with noise, so news carries
some real but imperfect information. :func:`evaluate` scores recommendations against the sign of
the return over the following ``horizon`` days.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

POSITIVE = {"beats", "surges", "record", "upgrade", "strong", "growth", "wins", "expands"}
NEGATIVE = {"misses", "falls", "recall", "downgrade", "weak", "lawsuit", "loses", "cuts"}
_POS_TEMPLATES = [
    "{t} beats estimates",
    "{t} surges on record demand",
    "analysts upgrade {t}",
    "{t} wins major contract",
    "{t} expands into new markets",
]
_NEG_TEMPLATES = [
    "{t} misses estimates",
    "{t} falls after product recall",
    "analysts downgrade {t}",
    "{t} faces lawsuit",
    "{t} cuts guidance",
]
_NEUTRAL = ["{t} holds annual meeting", "{t} names new board member", "{t} schedules earnings"]


def generate_market(
    tickers: tuple[str, ...] = ("ACME", "BOLT", "CRUX", "DYNO"), days: int = 160, seed: int = 0
) -> dict[str, Any]:
    """``{"tickers", "prices": {t: [..]}, "news": {t: [[headlines of day d], ...]}}``."""
    rng = random.Random(seed)
    prices: dict[str, list[float]] = {}
    news: dict[str, list[list[str]]] = {}
    for t in tickers:
        drift, p = 0.0, 100.0
        path, heads = [], []
        drifts = []
        for d in range(days):
            if d % 20 == 0:
                drift = rng.choice([-0.006, -0.003, 0.0, 0.003, 0.006])
            drifts.append(drift)
        for d in range(days):
            p *= math.exp(drifts[d] + rng.gauss(0, 0.012))
            path.append(round(p, 2))
            ahead = drifts[min(d + 5, days - 1)]  # news anticipates the coming regime
            today = []
            for _ in range(rng.choice([0, 1, 1, 2])):
                u = rng.random()
                if u < 0.35 + 60 * ahead:
                    today.append(rng.choice(_POS_TEMPLATES).format(t=t))
                elif u < 0.70:
                    today.append(rng.choice(_NEG_TEMPLATES).format(t=t))
                else:
                    today.append(rng.choice(_NEUTRAL).format(t=t))
            heads.append(today)
        prices[t], news[t] = path, heads
    return {"tickers": list(tickers), "prices": prices, "news": news, "days": days}


@dataclass
class Message:
    sender: str
    recipient: str
    kind: str
    payload: dict[str, Any]


@dataclass
class Bus:
    """A FIFO message queue with a log of every message delivered."""

    queue: deque = field(default_factory=deque)
    log: list[Message] = field(default_factory=list)

    def send(self, msg: Message) -> None:
        self.queue.append(msg)


# --------------------------------------------------------------------------- signals


def sentiment_signal(headlines: list[list[str]], window: int = 10) -> dict[str, float]:
    """Lexicon score of the last ``window`` days of news: score in [-1, 1] and confidence."""
    pos = neg = 0
    for day in headlines[-window:]:
        for h in day:
            words = set(h.lower().split())
            pos += len(words & POSITIVE)
            neg += len(words & NEGATIVE)
    n = pos + neg
    score = (pos - neg) / n if n else 0.0
    return {"score": round(score, 3), "confidence": round(min(1.0, n / 8), 3)}


def technical_signal(prices: list[float], fast: int = 5, slow: int = 20) -> dict[str, float]:
    """Moving-average crossover and momentum: score in [-1, 1] and confidence."""
    if len(prices) < slow + 1:
        raise ValueError(f"need at least {slow + 1} prices, got {len(prices)}")
    sma_fast = sum(prices[-fast:]) / fast
    sma_slow = sum(prices[-slow:]) / slow
    momentum = prices[-1] / prices[-slow] - 1
    raw = 20 * (sma_fast / sma_slow - 1) + 5 * momentum
    score = max(-1.0, min(1.0, raw))
    return {"score": round(score, 3), "confidence": round(min(1.0, abs(raw)), 3)}


def synthesize(signals: dict[str, dict[str, float]], conflict_confidence: float = 0.5):
    """Combine signals into buy/sell/hold, resolving a confident disagreement as hold."""
    if not signals:
        return {"action": "hold", "score": 0.0, "conflict": False, "missing": True}
    confident = [s for s in signals.values() if s["confidence"] >= conflict_confidence]
    signs = {math.copysign(1, s["score"]) for s in confident if s["score"] != 0}
    if len(signs) > 1:
        return {"action": "hold", "score": 0.0, "conflict": True}
    weight = sum(s["confidence"] for s in signals.values()) or 1.0
    score = sum(s["score"] * s["confidence"] for s in signals.values()) / weight
    action = "buy" if score > 0.1 else "sell" if score < -0.1 else "hold"
    return {"action": action, "score": round(score, 3), "conflict": False}


# --------------------------------------------------------------------------- agents


class Agent:
    name = "agent"

    def handle(self, msg: Message) -> list[Message]:
        raise NotImplementedError


class Collector(Agent):
    """Slices the market data up to the analysis day and sends it to the analysts."""

    name = "collector"

    def __init__(self, market: dict[str, Any]) -> None:
        self.market = market

    def handle(self, msg: Message) -> list[Message]:
        t, day = msg.payload["ticker"], msg.payload["day"]
        if t not in self.market["prices"]:
            raise KeyError(f"no data for ticker {t}")
        base = {"ticker": t, "day": day}
        return [
            Message(
                self.name, "sentiment", "news", {**base, "news": self.market["news"][t][: day + 1]}
            ),
            Message(
                self.name,
                "technical",
                "prices",
                {**base, "prices": self.market["prices"][t][: day + 1]},
            ),
        ]


class Sentiment(Agent):
    name = "sentiment"

    def handle(self, msg: Message) -> list[Message]:
        sig = sentiment_signal(msg.payload["news"])
        return [Message(self.name, "synthesis", "signal", {**_key(msg), "signal": sig})]


class Technical(Agent):
    name = "technical"

    def handle(self, msg: Message) -> list[Message]:
        sig = technical_signal(msg.payload["prices"])
        return [Message(self.name, "synthesis", "signal", {**_key(msg), "signal": sig})]


class Synthesis(Agent):
    """Waits for both signals of a ticker-day (or a 'degraded' note), then recommends."""

    name = "synthesis"

    def __init__(self) -> None:
        self.pending: dict[tuple, dict[str, Any]] = {}

    def handle(self, msg: Message) -> list[Message]:
        key = (msg.payload["ticker"], msg.payload["day"])
        slot = self.pending.setdefault(key, {"signals": {}, "missing": set()})
        if msg.kind == "signal":
            slot["signals"][msg.sender] = msg.payload["signal"]
        elif msg.kind == "degraded":
            slot["missing"].add(msg.payload["agent"])
        if len(slot["signals"]) + len(slot["missing"]) < 2:
            return []
        rec = synthesize(slot["signals"])
        rec["missing"] = sorted(slot["missing"])
        del self.pending[key]
        return [Message(self.name, "coordinator", "recommendation", {**_key(msg), **rec})]


def _key(msg: Message) -> dict[str, Any]:
    return {"ticker": msg.payload["ticker"], "day": msg.payload["day"]}


@dataclass
class Coordinator:
    """Starts requests, delivers messages, retries a failing agent once, then degrades."""

    agents: dict[str, Agent]
    bus: Bus = field(default_factory=Bus)
    errors: list[dict[str, Any]] = field(default_factory=list)
    fail: Callable[[str, Message, int], bool] | None = None  # injected failures

    def analyze(self, requests: list[tuple[str, int]]) -> list[dict[str, Any]]:
        for t, day in requests:
            self.bus.send(Message("coordinator", "collector", "analyze", {"ticker": t, "day": day}))
        out = []
        while self.bus.queue:
            msg = self.bus.queue.popleft()
            self.bus.log.append(msg)
            if msg.recipient == "coordinator":
                out.append(msg.payload)
                continue
            replies = self._deliver(msg)
            for r in replies:
                self.bus.send(r)
        return sorted(out, key=lambda r: (r["ticker"], r["day"]))

    def _deliver(self, msg: Message) -> list[Message]:
        agent = self.agents[msg.recipient]
        for attempt in (1, 2):
            try:
                if self.fail and self.fail(agent.name, msg, attempt):
                    raise RuntimeError(f"{agent.name} crashed (attempt {attempt})")
                return agent.handle(msg)
            except (RuntimeError, ValueError, KeyError) as exc:
                self.errors.append(
                    {"agent": agent.name, "attempt": attempt, "error": str(exc), **_key(msg)}
                )
        if agent.name in ("sentiment", "technical"):  # the team continues without it
            return [
                Message("coordinator", "synthesis", "degraded", {**_key(msg), "agent": agent.name})
            ]
        return []


def make_team(market: dict[str, Any], fail=None) -> Coordinator:
    agents = [Collector(market), Sentiment(), Technical(), Synthesis()]
    return Coordinator({a.name: a for a in agents}, fail=fail)


def evaluate(
    market: dict[str, Any], recs: list[dict[str, Any]], horizon: int = 10
) -> dict[str, Any]:
    """Hit rate of buy/sell calls against the sign of the next ``horizon`` days' return."""
    hits = calls = 0
    for r in recs:
        if r["action"] == "hold":
            continue
        p = market["prices"][r["ticker"]]
        fwd = p[min(r["day"] + horizon, len(p) - 1)] / p[r["day"]] - 1
        calls += 1
        hits += (fwd > 0) == (r["action"] == "buy")
    rate = hits / calls if calls else float("nan")
    se = math.sqrt(rate * (1 - rate) / calls) if calls else float("nan")
    return {
        "calls": calls,
        "hits": hits,
        "hit_rate": rate,
        "stderr": se,
        "holds": sum(r["action"] == "hold" for r in recs),
        "conflicts": sum(bool(r.get("conflict")) for r in recs),
    }


def single_signal_recs(market, requests, which: str) -> list[dict[str, Any]]:
    """Recommendations from one analyst alone (the baseline the team is compared with)."""
    out = []
    for t, day in requests:
        if which == "sentiment":
            sig = sentiment_signal(market["news"][t][: day + 1])
        else:
            sig = technical_signal(market["prices"][t][: day + 1])
        out.append({"ticker": t, "day": day, **synthesize({which: sig})})
    return out


def default_requests(market: dict[str, Any], every: int = 5, start: int = 25) -> list:
    """Every ``every``-th day of every ticker, leaving ``horizon`` days at the end."""
    return [(t, d) for t in market["tickers"] for d in range(start, market["days"] - 10, every)]
