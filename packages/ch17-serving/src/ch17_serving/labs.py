"""The chapter's labs composed: build a server from options, run it here or in N workers, the demo.

:class:`ServeConfig` is what ``ch17-serving serve`` accepts; :func:`build_app` turns it into the
FastAPI app; :func:`run_server` serves it in the foreground (several uvicorn worker processes
behind one port when ``workers > 1``, each rebuilding the app from the config passed through the
environment, limits shared in Redis); :func:`local_server` serves it on a background thread.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from llmpath_core import UserError

CONFIG_ENV = "CH17_SERVE_CONFIG"


@dataclass
class ServeConfig:
    """Everything ``serve`` needs (JSON-able, so worker processes can rebuild the app)."""

    model: str | None = None
    api_keys: list[str] = field(default_factory=list)
    keys_file: str | None = None
    rate_limit: str = "0"
    token_budget: int = 0
    redis: str | None = None
    max_concurrency: int = 64
    vision_model: str | None = None
    default_max_tokens: int = 64


_BACKENDS: dict[str | None, Any] = {}


def load_backend(model: str | None = None) -> Any:
    """The model backend for ``model`` (cached per process: the demo and tests reuse it)."""
    from ch17_serving.backend import ModelBackend

    if model not in _BACKENDS:
        _BACKENDS[model] = ModelBackend(model)
    return _BACKENDS[model]


def build_app(config: ServeConfig, backend: Any = None) -> Any:
    """The FastAPI app for ``config`` (``backend`` overrides loading ``config.model``)."""
    from ch17_serving.keys import KeyStore, MemoryLimiter, RedisLimiter, parse_rate
    from ch17_serving.server import ServerSettings, create_app

    per_minute = parse_rate(config.rate_limit)
    if config.token_budget < 0:
        raise UserError("--token-budget must be at least 0 (0 = unlimited)")
    if config.max_concurrency < 1:
        raise UserError("--max-concurrency must be at least 1")
    keys = KeyStore.load(config.keys_file) if config.keys_file else KeyStore()
    if config.api_keys:
        for record in KeyStore.from_plain(config.api_keys).records.values():
            keys.records[record.sha256] = record
    limiter = RedisLimiter(config.redis) if config.redis else MemoryLimiter()
    captioner = None
    if config.vision_model:
        from ch17_serving.vision import load_captioner

        captioner = load_captioner(config.vision_model)
    settings = ServerSettings(
        requests_per_minute=per_minute,
        token_budget=config.token_budget,
        max_concurrency=config.max_concurrency,
        default_max_tokens=config.default_max_tokens,
    )
    backend = backend if backend is not None else load_backend(config.model)
    return create_app(backend, keys, limiter, settings, captioner)


def app_from_env() -> Any:
    """uvicorn factory for worker processes: the config comes from ``$CH17_SERVE_CONFIG``."""
    raw = os.environ.get(CONFIG_ENV)
    if not raw:
        raise UserError(f"${CONFIG_ENV} is not set (use `ch17-serving serve --workers N`)")
    return build_app(ServeConfig(**json.loads(raw)))


def run_server(config: ServeConfig, host: str, port: int, workers: int = 1) -> None:
    """Serve in the foreground until SIGINT/SIGTERM."""
    import uvicorn

    from ch17_serving.server import serve

    if not 0 <= port <= 65535:
        raise UserError(f"--port {port}: use 0-65535")
    if workers < 1:
        raise UserError("--workers must be at least 1")
    if workers == 1:
        serve(build_app(config), host=host, port=port)
        return
    if not config.redis:
        print(
            "warning: several workers without --redis: each keeps its own rate-limit counters",
            file=sys.stderr,
        )
    build_app(config)  # fail here, once, on bad options, not in every worker
    os.environ[CONFIG_ENV] = json.dumps(asdict(config))
    uvicorn.run(
        "ch17_serving.labs:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        timeout_graceful_shutdown=30,
        log_level="info",
    )


@contextmanager
def local_server(config: ServeConfig | None = None, backend: Any = None) -> Iterator[Any]:
    """A :class:`~ch17_serving.server.ServerThread` on a free port, stopped gracefully after."""
    from ch17_serving.server import ServerThread

    server = ServerThread(build_app(config or ServeConfig(), backend)).start()
    try:
        yield server
    finally:
        server.stop()


def demo_meeting(workdir: Path, seed: int = 0) -> dict:
    """Minutes lab: speak a scripted meeting, transcribe it, extract minutes; score both."""
    from ch17_serving.minutes import (
        action_item_scores,
        extract_minutes,
        minutes_markdown,
        scripted_meeting,
        synthesize_speech,
        transcribe,
        utterances,
        word_error_rate,
    )

    meeting = scripted_meeting(seed)
    spoken = " ".join(s for _, s in utterances(meeting.transcript)[:4])
    result: dict[str, Any] = {}
    try:
        wav = synthesize_speech(spoken, workdir / "meeting.wav")
        heard = transcribe(wav)
        result["asr"] = {
            "reference": spoken,
            "transcript": heard,
            "wer": round(word_error_rate(spoken, heard), 3),
        }
    except UserError as exc:  # no espeak-ng: the text pipeline still runs
        result["asr"] = {"skipped": str(exc)}
    minutes = extract_minutes(meeting.transcript)
    result["markdown"] = "".join(minutes_markdown(minutes))
    result["action_items"] = action_item_scores(minutes.action_items, meeting.action_items)
    result["decisions_found"] = minutes.decisions == meeting.decisions
    return result


__all__ = [
    "ServeConfig",
    "app_from_env",
    "build_app",
    "demo_meeting",
    "load_backend",
    "local_server",
    "run_server",
]
