"""A memory-enabled chatbot on LangChain: buffer, summary and vector memories, a context budget,
sessions persisted in SQLite.

The model is any LangChain chat model; the lab uses ``langchain_openai.ChatOpenAI`` pointed at our
server (``base_url=http://127.0.0.1:P/v1``), so the same code runs against any OpenAI-compatible
endpoint. What each memory sends with a new question:

- :class:`BufferMemory` — the last ``k`` messages, verbatim;
- :class:`SummaryMemory` — a running summary of everything older than the last ``k`` messages,
  written by the model itself, plus those ``k`` messages;
- :class:`VectorMemory` — the ``k`` earlier exchanges most similar to the question (embeddings,
  cosine similarity), plus the last exchange.

Whatever the memory picks, :func:`fit_to_budget` then drops the oldest non-system messages until
the prompt fits the model's context window minus the reply's tokens: a long session never fails
with "context length exceeded".
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    messages_from_dict,
    messages_to_dict,
)

from llmpath_core import UserError


class SQLiteChatHistory(BaseChatMessageHistory):
    """LangChain message history for one session, stored in a SQLite file (one row a message)."""

    def __init__(self, path: str | Path, session_id: str) -> None:
        self.path, self.session_id = Path(path), session_id
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                "session TEXT NOT NULL, message TEXT NOT NULL)"
            )

    def _connect(self) -> sqlite3.Connection:
        try:
            return sqlite3.connect(self.path)
        except sqlite3.Error as exc:
            raise UserError(f"{self.path}: cannot open the session database ({exc})") from exc

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        with self._lock, self._connect() as db:
            rows = db.execute(
                "SELECT message FROM messages WHERE session = ? ORDER BY id", (self.session_id,)
            ).fetchall()
        return messages_from_dict([json.loads(r[0]) for r in rows])

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        rows = [(self.session_id, json.dumps(d)) for d in messages_to_dict(list(messages))]
        with self._lock, self._connect() as db:
            db.executemany("INSERT INTO messages (session, message) VALUES (?, ?)", rows)

    def clear(self) -> None:
        with self._lock, self._connect() as db:
            db.execute("DELETE FROM messages WHERE session = ?", (self.session_id,))


class BufferMemory:
    """The last ``k`` messages."""

    def __init__(self, k: int = 6) -> None:
        self.k = k

    def context(self, history: list[BaseMessage], question: str) -> list[BaseMessage]:
        return history[-self.k :] if self.k else []


class SummaryMemory:
    """A model-written summary of older messages, then the last ``k`` verbatim."""

    def __init__(self, llm: Any, k: int = 2, max_summary_words: int = 40) -> None:
        self.llm, self.k, self.max_summary_words = llm, k, max_summary_words
        self.summary = ""
        self.summarized = 0  # how many history messages the summary covers

    def context(self, history: list[BaseMessage], question: str) -> list[BaseMessage]:
        older = history[: max(0, len(history) - self.k)]
        if len(older) > self.summarized:
            new = "\n".join(f"{m.type}: {m.content}" for m in older[self.summarized :])
            prompt = [
                SystemMessage("Update the summary of the conversation with the new lines."),
                HumanMessage(f"Summary so far: {self.summary}\nNew lines:\n{new}"),
            ]
            text = str(self.llm.invoke(prompt).content)
            self.summary = " ".join(text.split()[: self.max_summary_words])
            self.summarized = len(older)
        recent = history[len(older) :]
        head = [SystemMessage(f"Summary of the conversation so far: {self.summary}")]
        return (head if self.summary else []) + recent


class VectorMemory:
    """Earlier exchanges retrieved by similarity to the question (any LangChain ``Embeddings``)."""

    def __init__(self, embeddings: Any, k: int = 2) -> None:
        self.embeddings, self.k = embeddings, k
        self._vectors: list[list[float]] = []
        self._pairs: list[tuple[BaseMessage, BaseMessage]] = []

    def _index(self, history: list[BaseMessage]) -> None:
        pairs = [
            (history[i], history[i + 1])
            for i in range(0, len(history) - 1, 2)
            if isinstance(history[i], HumanMessage) and isinstance(history[i + 1], AIMessage)
        ]
        new = pairs[len(self._pairs) :]
        if new:
            texts = [f"{h.content}\n{a.content}" for h, a in new]
            self._vectors += self.embeddings.embed_documents(texts)
            self._pairs += new

    def context(self, history: list[BaseMessage], question: str) -> list[BaseMessage]:
        import numpy as np

        self._index(history)
        if not self._pairs:
            return history[-2:]
        q = np.asarray(self.embeddings.embed_query(question))
        m = np.asarray(self._vectors)
        scores = m @ q / (np.linalg.norm(m, axis=1) * np.linalg.norm(q) + 1e-9)
        best = sorted(np.argsort(-scores)[: self.k].tolist())
        picked: list[BaseMessage] = [msg for i in best for msg in self._pairs[i]]
        last = list(self._pairs[-1])
        return picked + [m for m in last if all(m is not p for p in picked)]


def fit_to_budget(
    messages: list[BaseMessage], count_tokens: Callable[[str], int], budget: int
) -> list[BaseMessage]:
    """Drop the oldest non-system messages (never the last) until the total fits ``budget``."""
    kept = list(messages)

    def total() -> int:
        return sum(count_tokens(f"{m.type}: {m.content}") + 2 for m in kept)

    while total() > budget:
        droppable = [i for i, m in enumerate(kept[:-1]) if not isinstance(m, SystemMessage)]
        if not droppable:
            break
        del kept[droppable[0]]
    return kept


class MemoryChatbot:
    """A chatbot: memory picks the context, the budget trims it, the history persists it."""

    def __init__(
        self,
        llm: Any,
        history: BaseChatMessageHistory,
        memory: Any | None = None,
        *,
        system: str = "You are a helpful assistant.",
        count_tokens: Callable[[str], int] = lambda s: len(s.split()),
        budget_tokens: int | None = None,
    ) -> None:
        self.llm, self.history = llm, history
        self.memory = memory or BufferMemory()
        self.system, self.count_tokens, self.budget_tokens = system, count_tokens, budget_tokens
        self.last_prompt: list[BaseMessage] = []

    def prompt_for(self, question: str) -> list[BaseMessage]:
        """The messages that would be sent for ``question``."""
        past = self.history.messages
        messages = [SystemMessage(self.system), *self.memory.context(past, question)]
        messages.append(HumanMessage(question))
        if self.budget_tokens is not None:
            messages = fit_to_budget(messages, self.count_tokens, self.budget_tokens)
        return messages

    def ask(self, question: str) -> str:
        """One turn: build the prompt, call the model, store both messages."""
        if not question.strip():
            raise UserError("the message is empty")
        self.last_prompt = self.prompt_for(question)
        answer = str(self.llm.invoke(self.last_prompt).content)
        self.history.add_messages([HumanMessage(question), AIMessage(answer)])
        return answer


def openai_chat_model(
    base_url: str, api_key: str = "none", model: str = "default", **kw: Any
) -> Any:
    """``langchain_openai.ChatOpenAI`` pointed at an OpenAI-compatible endpoint."""
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(base_url=base_url, api_key=api_key, model=model, max_retries=1, **kw)


def openai_embeddings(base_url: str, api_key: str = "none", model: str = "default") -> Any:
    """``langchain_openai.OpenAIEmbeddings`` for an endpoint that is not OpenAI's (no tiktoken)."""
    from langchain_openai import OpenAIEmbeddings

    return OpenAIEmbeddings(
        base_url=base_url, api_key=api_key, model=model, check_embedding_ctx_length=False
    )


MEMORIES = ("buffer", "summary", "vector")

__all__ = [
    "MEMORIES",
    "BufferMemory",
    "MemoryChatbot",
    "SQLiteChatHistory",
    "SummaryMemory",
    "VectorMemory",
    "fit_to_budget",
    "openai_chat_model",
    "openai_embeddings",
]
