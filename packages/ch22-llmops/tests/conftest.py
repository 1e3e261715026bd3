"""Shared fixtures for ch22: offline env, one torch thread, a live `mlflow server` on localhost.

The server takes 20-40 s to start on 2 cores, so it is launched once, when the session starts
(in the background, while the other tests run), and the tests that need it wait for /health.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from llmpath_core.testing import cli_runner, torch_threads, use_offline_env

use_offline_env()


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """One intra-op thread: the models are tiny and the CI box is shared."""
    with torch_threads(1):
        yield


@pytest.fixture(scope="session")
def cli():
    """``cli(*args)``: the console script in a subprocess (offline, one thread, no progress)."""
    return cli_runner("ch22_llmops.cli")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_NEEDS_SERVER = False


@pytest.hookimpl(trylast=True)  # after -k/-m deselection
def pytest_collection_modifyitems(session, config, items):
    """Start the server only if a selected test asks for it."""
    global _NEEDS_SERVER
    _NEEDS_SERVER = any("mlflow_server" in item.fixturenames for item in items)


@pytest.fixture(scope="session", autouse=True)
def _mlflow_server_process(tmp_path_factory):
    """Start `mlflow server` (sqlite backend, local artefacts) as the session begins."""
    if not _NEEDS_SERVER:
        yield None
        return
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    log = open(root / "server.log", "w")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            f"sqlite:///{root / 'server.db'}",
            "--artifacts-destination",
            str(root / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=root,
        start_new_session=True,
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
    )
    yield {"uri": f"http://127.0.0.1:{port}", "proc": proc, "log": root / "server.log"}
    os.killpg(proc.pid, signal.SIGTERM)  # the server's own process group (uvicorn workers)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    log.close()


@pytest.fixture(scope="session")
def mlflow_server(_mlflow_server_process) -> str:
    """The live server's URI, once it answers /health (up to 180 s on a loaded machine)."""
    info = _mlflow_server_process
    deadline = time.time() + 180
    while time.time() < deadline:
        if info["proc"].poll() is not None:
            pytest.fail("mlflow server exited:\n" + info["log"].read_text()[-3000:])
        try:
            with urllib.request.urlopen(info["uri"] + "/health", timeout=2) as reply:
                if reply.status == 200:
                    return info["uri"]
        except OSError:
            pass
        time.sleep(0.5)
    pytest.fail("mlflow server did not start in 180 s:\n" + info["log"].read_text()[-3000:])
