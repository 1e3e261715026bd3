"""`llmpath chat DIR`: talk to a finished path's model, streamed through ch17's OpenAI API.

The model is served by ``ch17-serving serve`` in a child process (the same server the pipeline
measured); replies are read token by token from its server-sent events with the standard library.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from llmpath.path import free_port, resolve_script
from llmpath_core.errors import UserError


def find_model(path: str | os.PathLike) -> Path:
    """A model folder: ``path`` itself, or the final (DPO, else SFT) model of a path run folder."""
    path = Path(path)
    for candidate in (path, path / "dpo" / "model", path / "sft" / "model"):
        if (candidate / "config.json").is_file():
            return candidate
    raise UserError(
        f"{path}: no model there: give a `llmpath path --out` folder (after the dpo stage) "
        "or a HF model folder"
    )


@contextmanager
def served(model: Path, *, timeout: float = 180.0, log: Path | None = None) -> Iterator[str]:
    """Serve ``model`` with ``ch17-serving serve`` on a free port; yield its ``/v1`` base URL."""
    port = free_port()
    sink = open(log, "a") if log else open(os.devnull, "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [resolve_script("ch17-serving"), "serve", "--model", str(model), "--port", str(port)],
        stdout=sink,
        stderr=sink,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise UserError(f"ch17-serving serve exited with {proc.returncode} on {model}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise UserError(f"the server did not start within {timeout:.0f} s") from None
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        sink.close()


def model_id(base_url: str) -> str:
    """The first model the server lists (``GET /v1/models``)."""
    with urllib.request.urlopen(f"{base_url}/models", timeout=30) as resp:
        data = json.load(resp)
    return data["data"][0]["id"]


def stream_reply(
    base_url: str,
    messages: list[dict[str, str]],
    *,
    model: str,
    max_tokens: int = 64,
    on_token: Callable[[str], None] = lambda _: None,
) -> dict:
    """POST a streamed chat completion; call ``on_token`` per piece; return text, TTFT, pieces."""
    body = json.dumps(
        {"model": model, "messages": messages, "max_tokens": max_tokens, "stream": True}
    ).encode()
    request = urllib.request.Request(
        f"{base_url}/chat/completions", data=body, headers={"Content-Type": "application/json"}
    )
    started = time.perf_counter()
    ttft = None
    pieces: list[str] = []
    with urllib.request.urlopen(request, timeout=300) as resp:
        for raw in resp:
            line = raw.decode("utf-8").strip()
            if not line.startswith("data:"):
                continue
            payload = line[5:].strip()
            if payload == "[DONE]":
                break
            delta = json.loads(payload)["choices"][0].get("delta", {}).get("content")
            if delta:
                if ttft is None:
                    ttft = time.perf_counter() - started
                pieces.append(delta)
                on_token(delta)
    return {
        "reply": "".join(pieces),
        "pieces": len(pieces),
        "ttft_s": ttft,
        "seconds": time.perf_counter() - started,
    }
