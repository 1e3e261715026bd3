"""API keys, hashed at rest, with per-key rate limits and token budgets (in memory or in Redis).

A key is shown once, when it is made (:func:`new_key`); the server and the key file keep only its
SHA-256 (:func:`hash_key`), so a leaked key file does not leak keys. Lookups hash the presented
key and compare digests in constant time.

Limits are fixed windows: at most ``requests_per_minute`` requests in each clock minute, and at
most ``token_budget`` tokens (prompt + completion) in each budget window (a day by default).
:class:`MemoryLimiter` holds the counters in one process; :class:`RedisLimiter` holds them in Redis
(``INCR`` + ``EXPIRE`` in one pipeline), so every worker behind one port shares them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from llmpath_core import UserError, atomic_write

KEY_PREFIX = "sk-llmpath-"


def new_key() -> str:
    """A fresh random API key (shown once; store only its hash)."""
    return KEY_PREFIX + secrets.token_urlsafe(24)


def hash_key(key: str) -> str:
    """SHA-256 hex digest of a key: what is stored and compared."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass
class KeyRecord:
    """One key as stored: its hash, a name, and its limits (0 = unlimited)."""

    name: str
    sha256: str
    requests_per_minute: int = 0
    token_budget: int = 0


class KeyStore:
    """The keys a server accepts. Empty store = no authentication."""

    def __init__(self, records: list[KeyRecord] | None = None) -> None:
        self.records = {r.sha256: r for r in (records or [])}

    def __bool__(self) -> bool:
        return bool(self.records)

    @classmethod
    def from_plain(
        cls, keys: list[str], requests_per_minute: int = 0, token_budget: int = 0
    ) -> KeyStore:
        """Hash keys given on the command line (``--api-key``); the plain text is not kept."""
        return cls(
            [
                KeyRecord(f"key{i}", hash_key(k), requests_per_minute, token_budget)
                for i, k in enumerate(keys)
            ]
        )

    def lookup(self, presented: str | None) -> KeyRecord | None:
        """The record for a presented key, or None."""
        if not presented:
            return None
        digest = hash_key(presented)
        for stored, record in self.records.items():
            if hmac.compare_digest(stored, digest):
                return record
        return None

    def add(self, name: str, requests_per_minute: int = 0, token_budget: int = 0) -> str:
        """Make a key, store its hash, return the key (the only time it exists in clear)."""
        if any(r.name == name for r in self.records.values()):
            raise UserError(f"a key named {name!r} exists already")
        key = new_key()
        record = KeyRecord(name, hash_key(key), requests_per_minute, token_budget)
        self.records[record.sha256] = record
        return key

    def save(self, path: str | Path) -> None:
        """Write the hashes (never the keys) as JSON, atomically."""
        with atomic_write(Path(path)) as f:
            json.dump({"keys": [asdict(r) for r in self.records.values()]}, f, indent=1)

    @classmethod
    def load(cls, path: str | Path) -> KeyStore:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
            return cls([KeyRecord(**r) for r in data["keys"]])
        except FileNotFoundError:
            raise
        except (ValueError, KeyError, TypeError) as exc:
            raise UserError(f"{path}: not a key file ({exc})") from exc


def parse_rate(text: str) -> int:
    """``"60/min"`` (or ``"60"``) → 60 requests per minute."""
    value = text.strip().lower()
    for suffix in ("/min", "/m", "/minute"):
        if value.endswith(suffix):
            value = value[: -len(suffix)]
            break
    else:
        if "/" in value:
            raise UserError(f"--rate-limit {text!r}: use N/min, e.g. 60/min")
    try:
        n = int(value)
    except ValueError as exc:
        raise UserError(f"--rate-limit {text!r}: use N/min, e.g. 60/min") from exc
    if n < 0:
        raise UserError("--rate-limit must be at least 0 (0 = unlimited)")
    return n


@dataclass
class Decision:
    """Whether a request may go ahead; if not, why and when to retry."""

    allowed: bool
    reason: str = ""
    retry_after_s: float = 0.0


class Limiter(Protocol):
    """Counts requests and tokens per key."""

    def check_request(self, key: str, per_minute: int, budget: int) -> Decision: ...

    def charge_tokens(self, key: str, tokens: int) -> None: ...

    def tokens_used(self, key: str) -> int: ...


class MemoryLimiter:
    """Fixed-window counters in this process (one worker)."""

    def __init__(self, budget_window_s: int = 86400) -> None:
        self.budget_window_s = budget_window_s
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, int], int] = {}
        self._tokens: dict[tuple[str, int], int] = {}

    def check_request(self, key: str, per_minute: int, budget: int) -> Decision:
        now = time.time()
        minute = int(now // 60)
        window = int(now // self.budget_window_s)
        with self._lock:
            if budget and self._tokens.get((key, window), 0) >= budget:
                left = self.budget_window_s - now % self.budget_window_s
                return Decision(False, "token_budget", left)
            count = self._requests.get((key, minute), 0) + 1
            self._requests = {k: v for k, v in self._requests.items() if k[1] >= minute}
            self._requests[(key, minute)] = count
        if per_minute and count > per_minute:
            return Decision(False, "rate_limit", 60 - now % 60)
        return Decision(True)

    def charge_tokens(self, key: str, tokens: int) -> None:
        window = int(time.time() // self.budget_window_s)
        with self._lock:
            self._tokens[(key, window)] = self._tokens.get((key, window), 0) + tokens

    def tokens_used(self, key: str) -> int:
        window = int(time.time() // self.budget_window_s)
        with self._lock:
            return self._tokens.get((key, window), 0)


class RedisLimiter:
    """The same counters in Redis, shared by every worker and replica."""

    def __init__(self, url: str, budget_window_s: int = 86400, prefix: str = "llmpath") -> None:
        import redis

        self.budget_window_s = budget_window_s
        self.prefix = prefix
        self.client = redis.Redis.from_url(url)
        try:
            self.client.ping()
        except redis.exceptions.ConnectionError as exc:
            raise UserError(f"--redis {url}: cannot connect ({exc})") from exc

    def _budget_key(self, key: str) -> str:
        return f"{self.prefix}:tok:{key}:{int(time.time() // self.budget_window_s)}"

    def check_request(self, key: str, per_minute: int, budget: int) -> Decision:
        now = time.time()
        if budget and int(self.client.get(self._budget_key(key)) or 0) >= budget:
            return Decision(
                False, "token_budget", self.budget_window_s - now % self.budget_window_s
            )
        name = f"{self.prefix}:req:{key}:{int(now // 60)}"
        pipe = self.client.pipeline()
        pipe.incr(name)
        pipe.expire(name, 120)
        count = int(pipe.execute()[0])
        if per_minute and count > per_minute:
            return Decision(False, "rate_limit", 60 - now % 60)
        return Decision(True)

    def charge_tokens(self, key: str, tokens: int) -> None:
        name = self._budget_key(key)
        pipe = self.client.pipeline()
        pipe.incrby(name, tokens)
        pipe.expire(name, self.budget_window_s * 2)
        pipe.execute()

    def tokens_used(self, key: str) -> int:
        return int(self.client.get(self._budget_key(key)) or 0)


__all__ = [
    "Decision",
    "KeyRecord",
    "KeyStore",
    "Limiter",
    "MemoryLimiter",
    "RedisLimiter",
    "hash_key",
    "new_key",
    "parse_rate",
]
