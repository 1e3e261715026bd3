"""The sandbox kills hangs and fork bombs, blocks the network and writes outside its folder."""

from __future__ import annotations

import os
import socket
import subprocess
import time

import pytest

from ch11_evaluation.codeexec import run_samples
from ch11_evaluation.sandbox import Limits, network_namespace_available, run_python
from ch11_evaluation.tasks import load_code_samples

FAST = Limits(timeout_s=2.0, memory_mb=256, max_output_bytes=64 * 1024)


def test_clean_program_passes_and_output_is_captured():
    r = run_python("print(sum(range(10)))", FAST)
    assert r.ok and r.stdout.strip() == "45" and r.reason == "passed"


def test_infinite_loop_is_killed_at_the_wall_clock_limit():
    start = time.perf_counter()
    r = run_python("while True:\n    pass\n", Limits(timeout_s=1.0))
    assert r.status == "timeout" and not r.ok
    assert time.perf_counter() - start < 10


def test_sleeping_forever_is_killed_too():
    r = run_python("import time\ntime.sleep(10_000)\n", Limits(timeout_s=1.0))
    assert r.status == "timeout"


def _processes_named(marker: str) -> int:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return sum(marker in line for line in out.splitlines())


def test_fork_bomb_is_refused_and_leaves_no_process():
    r = run_python("import os\nwhile True:\n    os.fork()\n", FAST)
    assert r.status == "blocked" and "process blocked" in r.reason
    for code in (
        "import subprocess\nsubprocess.run(['sleep', '100'])",
        "import os\nos.system('sleep 100 &')",
        "import ctypes",
    ):
        assert run_python(code, FAST).status == "blocked", code
    assert _processes_named("sleep 100") == 0


def test_network_is_blocked_even_to_a_listening_local_port():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    try:
        code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
        r = run_python(code, FAST)
        assert r.status == "blocked" and "network" in r.reason
    finally:
        server.close()


@pytest.mark.skipif(not network_namespace_available(), reason="no user/network namespaces here")
def test_network_namespace_alone_has_no_route_out():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    try:
        code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
        r = run_python(code, FAST, guard=False)
        assert r.network_isolated and r.status == "error"
        assert "refused" in r.stderr or "unreachable" in r.stderr.lower()
    finally:
        server.close()


def test_writes_outside_the_folder_are_blocked_and_inside_allowed(tmp_path):
    target = tmp_path / "escape.txt"
    r = run_python(f"open({str(target)!r}, 'w').write('x')", FAST)
    assert r.status == "blocked" and not target.exists()
    r = run_python(f"import os\nos.remove({str(tmp_path)!r})", FAST)
    assert r.status == "blocked" and tmp_path.exists()
    r = run_python("open('scratch.txt', 'w').write('ok')\nprint(open('scratch.txt').read())", FAST)
    assert r.ok and r.stdout.strip() == "ok"


def test_memory_and_output_limits():
    r = run_python("x = bytearray(10**9)", FAST)
    assert r.status == "memory"
    r = run_python("print('x' * 10**6)", FAST)
    assert r.status == "output"


def test_a_hostile_sample_never_stalls_the_run():
    samples = load_code_samples()
    start = time.perf_counter()
    run = run_samples(samples, Limits(timeout_s=2.0), workers=2)
    elapsed = time.perf_counter() - start
    by_reason = [r for r in run.results if not r["passed"]]
    assert sum(r["passed"] for r in run.results) == 5  # the five correct completions
    assert {r["status"] for r in by_reason} >= {"error", "timeout", "blocked", "memory", "output"}
    assert all(r["reason"] for r in run.results)
    assert run.pass_at[1] == pytest.approx(1 / 3)
    assert elapsed < 60
    assert not os.path.exists("/tmp/ch11-escape.txt")
