"""Shared fixtures for ch17: the default model loaded once, servers on free ports."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest

from llmpath_core.testing import cli_runner, torch_threads, use_offline_env

use_offline_env()

KEY = "sk-test-good"


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """One intra-op thread: the CI box is shared and a 3.4M-parameter model gains nothing."""
    with torch_threads(1):
        yield


@pytest.fixture(scope="session")
def cli():
    return cli_runner("ch17_serving.cli")


@pytest.fixture(scope="session")
def backend():
    """llmpath's default model behind the server (what `serve` serves with no --model)."""
    from ch17_serving.labs import load_backend

    return load_backend()


@pytest.fixture(scope="session")
def server(backend):
    """The server with one API key and a generous rate limit, on a free port."""
    from ch17_serving.labs import ServeConfig, local_server

    with local_server(ServeConfig(api_keys=[KEY], rate_limit="1000/min"), backend) as s:
        yield s


@pytest.fixture(scope="session")
def client(server):
    """The official openai client on our server."""
    import openai

    return openai.OpenAI(base_url=server.url + "/v1", api_key=KEY, max_retries=0)


@pytest.fixture(scope="session")
def start_server(backend):
    """``start_server(ServeConfig(...))``: more servers on the same loaded model."""
    from ch17_serving.labs import build_app
    from ch17_serving.server import ServerThread

    started = []

    def start(config):
        s = ServerThread(build_app(config, backend)).start()
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop(timeout=5)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A throwaway redis-server on a free port (skipped where Debian's redis-server is missing)."""
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [
            exe,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import redis

    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(100):
        try:
            redis.Redis.from_url(url).ping()
            break
        except redis.exceptions.ConnectionError:
            time.sleep(0.05)
    yield url
    proc.terminate()
    proc.wait(10)
