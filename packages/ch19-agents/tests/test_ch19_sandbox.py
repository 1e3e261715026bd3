"""The sandbox stops network, writes outside its folder, runaway CPU/memory/output, fork bombs."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from ch19_agents.sandbox import Limits, _interpreter, _namespace_flags, run_code

FAST = Limits(timeout_s=3.0, memory_mb=256, max_output_bytes=10_000)


@pytest.fixture()
def server():
    """A TCP server on localhost that records whether anything connected."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    sock.settimeout(0.2)
    hits = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
                hits.append(1)
                conn.close()
            except OSError:
                pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield sock.getsockname()[1], hits
    stop.set()
    t.join()
    sock.close()


def test_runs_code_and_captures_stdout():
    r = run_code("print(sum(range(10)))", FAST)
    assert r.ok and r.stdout.strip() == "45" and r.error is None


@pytest.mark.parametrize("guard", [True, False])
def test_network_is_blocked(server, guard):
    if not guard and _namespace_flags() is None:
        pytest.skip("no network namespace here: the audit hook is the only network layer")
    port, hits = server
    code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)\nprint('in')"
    r = run_code(code, FAST, guard=guard)
    assert not r.ok and "in" not in r.stdout
    assert hits == []
    # the same connection from here works: the server is real
    socket.create_connection(("127.0.0.1", port), timeout=1).close()
    time.sleep(0.3)
    assert hits == [1]


def test_writes_outside_the_folder_are_blocked(tmp_path):
    target = tmp_path / "escape.txt"
    r = run_code(f"open({str(target)!r}, 'w').write('x')", FAST)
    assert not r.ok and r.status == "blocked" and not target.exists()
    r = run_code("open('inside.txt', 'w').write('x'); print(open('inside.txt').read())", FAST)
    assert r.ok and r.stdout.strip() == "x"


def test_runaway_cpu_returns_within_the_timeout():
    start = time.perf_counter()
    r = run_code("while True: pass", Limits(timeout_s=1.5))
    assert time.perf_counter() - start < 4.0
    assert r.status == "timeout" and not r.ok


def test_runaway_memory_and_output_are_stopped():
    r = run_code("x = bytearray(2 << 30)", FAST)
    assert r.status == "memory"
    r = run_code("while True: print('y' * 1000)", FAST)
    assert r.status == "output" and len(r.stdout) <= FAST.max_output_bytes


@pytest.mark.parametrize("guard", [True, False])
def test_fork_bomb_is_stopped_and_leaves_nothing(guard):
    if not guard and os.geteuid() == 0 and not _interpreter()[1]:
        pytest.skip("root without a way to drop to nobody: RLIMIT_NPROC would not apply")
    code = (
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    )
    start = time.perf_counter()
    r = run_code(code, Limits(timeout_s=2.0, max_processes=16), guard=guard)
    assert time.perf_counter() - start < 5.0 and not r.ok
    time.sleep(0.2)
    leftovers = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _is_sandbox(p)]
    assert leftovers == []


def _is_sandbox(proc: Path) -> bool:
    try:
        return b"_run.py" in (proc / "cmdline").read_bytes()
    except OSError:
        return False


def test_cli_sandbox_contract(cli, tmp_path):
    f = tmp_path / "spin.py"
    f.write_text("while True: pass\n")
    start = time.perf_counter()
    proc = cli("sandbox", "--code", str(f), "--timeout", "1", "--json")
    assert time.perf_counter() - start < 15
    out = json.loads(proc.stdout)
    assert proc.returncode == 0 and out["ok"] is False and "timed out" in out["error"]
    assert {"ok", "stdout", "error"} <= set(out)
    proc = cli("sandbox", "--code", str(tmp_path / "missing.py"), "--json")
    assert proc.returncode == 2
