"""Embedding caches: an in-memory LRU and an optional on-disk SQLite table.

Keys are ``sha256(model id, text)``, so two models never share an entry. The LRU answers repeated
texts without a forward pass; SQLite keeps them across restarts of the service.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np


def cache_key(model_id: str, text: str) -> str:
    """The cache key of ``text`` embedded by ``model_id``."""
    return hashlib.sha256(f"{model_id}\0{text}".encode("utf-8", "surrogatepass")).hexdigest()


class LRUCache:
    """At most ``capacity`` vectors; a hit moves the entry to the fresh end."""

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self.items: OrderedDict[str, np.ndarray] = OrderedDict()
        self.hits = 0
        self.misses = 0
        self.lock = threading.Lock()

    def get(self, key: str) -> np.ndarray | None:
        with self.lock:
            value = self.items.get(key)
            if value is None:
                self.misses += 1
                return None
            self.items.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: str, value: np.ndarray) -> None:
        if self.capacity <= 0:
            return
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > self.capacity:
                self.items.popitem(last=False)

    def __len__(self) -> int:
        return len(self.items)


class SQLiteCache:
    """``key -> float32 bytes`` in one SQLite file (safe to share between threads)."""

    def __init__(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.con = sqlite3.connect(str(path), check_same_thread=False)
        self.con.execute("CREATE TABLE IF NOT EXISTS emb (key TEXT PRIMARY KEY, vec BLOB)")
        self.con.commit()
        self.lock = threading.Lock()

    def get(self, key: str) -> np.ndarray | None:
        with self.lock:
            row = self.con.execute("SELECT vec FROM emb WHERE key = ?", (key,)).fetchone()
        return None if row is None else np.frombuffer(row[0], dtype=np.float32)

    def put(self, key: str, value: np.ndarray) -> None:
        with self.lock:
            self.con.execute(
                "INSERT OR REPLACE INTO emb VALUES (?, ?)",
                (key, np.asarray(value, np.float32).tobytes()),
            )
            self.con.commit()


__all__ = ["LRUCache", "SQLiteCache", "cache_key"]
