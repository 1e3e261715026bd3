"""A sandbox for running untrusted Python (model-written code) in a separate process.

Layers, each stopping a different way out:

- a **separate process** in its own session, killed as a whole process group when the wall-clock
  limit passes (a hanging sample never stalls the run);
- **resource limits** set before ``exec`` (``setrlimit``): CPU seconds, address space (memory),
  size of any file written (the captured output included), no core dumps, few processes;
- a **private temporary folder** as working directory, ``HOME`` and ``TMPDIR``, deleted afterwards,
  an empty environment, ``python -I -S -B`` (no user site, no site-packages, no bytecode);
- **no network**: where the kernel allows it, the child enters fresh user and network
  namespaces (``unshare(CLONE_NEWUSER | CLONE_NEWNET)``), which have no interface but loopback;
- a **guard** installed before the sample runs: a PEP 578 audit hook, which code cannot remove,
  refuses sockets, new processes (``fork``, ``exec``, ``subprocess``, ``system``), ``ctypes``,
  signals to other processes, and any write, rename or delete outside the private folder.

This is what HumanEval's own harness does (``execution.py``: a subprocess with a timeout and
``reliability_guard``) made stricter: their guard disables functions by assignment, which code
can undo; an audit hook cannot be unhooked. No Python-level sandbox is a security boundary
against a determined attacker with a kernel exploit: for hostile code at scale, run this inside
a container or VM as well.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000

GUARD = r"""
import os, sys
_ROOT = os.path.realpath(os.getcwd())
_BLOCK_EVENTS = {
    "socket.connect": "network", "socket.bind": "network", "socket.sendto": "network",
    "socket.sendmsg": "network", "socket.getaddrinfo": "network", "socket.gethostbyname": "network",
    "os.fork": "process", "os.forkpty": "process", "os.posix_spawn": "process",
    "os.spawn": "process", "os.exec": "process", "os.system": "process",
    "subprocess.Popen": "process", "os.kill": "signal", "os.killpg": "signal",
    "ctypes.dlopen": "ctypes", "ctypes.dlsym": "ctypes", "ctypes.cdata": "ctypes",
}
_BLOCK_IMPORTS = {"ctypes", "_ctypes", "_posixsubprocess", "multiprocessing", "_multiprocessing"}
_PATH_EVENTS = {"os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown",
                "os.symlink", "os.link", "os.truncate", "os.utime", "shutil.rmtree",
                "shutil.copyfile", "shutil.move"}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

def _inside(path):
    if isinstance(path, int):
        return True
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    full = os.path.realpath(os.path.join(_ROOT, os.fspath(path)))
    return full == _ROOT or full.startswith(_ROOT + os.sep)

def _deny(what, detail):
    raise PermissionError(f"sandbox: {what} blocked ({detail})")

def _hook(event, args):
    if event in _BLOCK_EVENTS:
        _deny(_BLOCK_EVENTS[event], event)
    if event == "import" and args and args[0].split(".")[0] in _BLOCK_IMPORTS:
        _deny("process" if "process" in args[0] else "ctypes", "import " + args[0])
    if event == "open" and len(args) >= 3:
        path, mode, flags = args[0], args[1], args[2]
        writes = (mode is not None and any(c in str(mode) for c in "wax+")) or (
            mode is None and isinstance(flags, int) and flags & _WRITE_FLAGS)
        if writes and not _inside(path):
            _deny("write outside the sandbox folder", str(path))
    if event in _PATH_EVENTS:
        for p in args[:2]:
            if isinstance(p, (str, bytes, os.PathLike)) and not _inside(p):
                _deny("write outside the sandbox folder", f"{event} {p}")

sys.addaudithook(_hook)
del _hook
_source = open("program.py", encoding="utf-8").read()
exec(compile(_source, "program.py", "exec"), {"__name__": "__main__"})
"""


@dataclass(frozen=True)
class Limits:
    """What a sample may use: wall and CPU seconds, memory, bytes written (output included)."""

    timeout_s: float = 5.0
    memory_mb: int = 512
    max_output_bytes: int = 1 << 20
    max_processes: int = 64


@dataclass
class SandboxResult:
    """How a run ended: ``status`` is ok, error, timeout, memory, output, blocked or killed."""

    status: str
    reason: str
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float
    network_isolated: bool

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict:
        return asdict(self)


@functools.cache
def network_namespace_available() -> bool:
    """True if a child process here can enter fresh user and network namespaces."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the probe child
        libc = ctypes.CDLL(None, use_errno=True)
        os._exit(0 if libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0 else 1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def _limit_child(limits: Limits, isolate_network: bool) -> None:  # runs between fork and exec
    cpu = max(1, int(limits.timeout_s) + 1)
    mem = limits.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.max_output_bytes,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits.max_processes,) * 2)
    if isolate_network:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0:
            os._exit(121)


def _read(path: Path, limit: int) -> str:
    with open(path, "rb") as f:
        return f.read(limit).decode("utf-8", errors="replace")


def _classify(rc: int | None, stderr: str, timed_out: bool, limits: Limits) -> tuple[str, str]:
    last = next((ln for ln in reversed(stderr.strip().splitlines()) if ln.strip()), "")
    if timed_out:
        return "timeout", f"timed out after {limits.timeout_s:g} s (killed)"
    if rc == 0:
        return "ok", "passed"
    if "sandbox:" in last:
        return "blocked", last[last.index("sandbox:") :]
    if rc == -signal.SIGXCPU or (rc == -signal.SIGKILL and not stderr):
        return "timeout", f"CPU time limit ({int(limits.timeout_s) + 1} s) exceeded"
    if rc == -signal.SIGXFSZ or "File too large" in stderr:
        return "output", f"output limit ({limits.max_output_bytes} bytes) exceeded"
    if "MemoryError" in last or (rc == -signal.SIGSEGV and "memory" in stderr.lower()):
        return "memory", f"memory limit ({limits.memory_mb} MB) exceeded"
    if rc is not None and rc < 0:
        return "killed", f"killed by signal {signal.Signals(-rc).name}"
    return "error", "failed: " + (last[:300] or f"exit code {rc}")


def run_python(
    source: str,
    limits: Limits = Limits(),
    *,
    isolate_network: bool | None = None,
    guard: bool = True,
) -> SandboxResult:
    """Run ``source`` as a Python program in the sandbox and report how it ended.

    ``isolate_network`` defaults to "where the kernel allows"; ``guard=False`` drops the audit
    hook (for showing what the other layers alone do, with code you trust not to fork).
    """
    if isolate_network is None:
        isolate_network = network_namespace_available()
    folder = Path(tempfile.mkdtemp(prefix="ch11-sandbox-"))
    try:
        (folder / "program.py").write_text(source, encoding="utf-8")
        runner = GUARD if guard else GUARD.replace("sys.addaudithook(_hook)", "")
        (folder / "_guard.py").write_text(runner, encoding="utf-8")
        out_path, err_path = folder / "_stdout", folder / "_stderr"
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(folder),
            "TMPDIR": str(folder),
            "LANG": "C.UTF-8",
            "PYTHONHASHSEED": "0",
        }
        start = time.perf_counter()
        timed_out = False
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-B", "_guard.py"],
                cwd=folder,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
                close_fds=True,
                preexec_fn=functools.partial(_limit_child, limits, isolate_network),
            )
            try:
                rc = proc.wait(timeout=limits.timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
                rc = None
            finally:
                with contextlib.suppress(ProcessLookupError):  # the whole group, stragglers too
                    os.killpg(proc.pid, signal.SIGKILL)
                if timed_out:
                    proc.wait()
        seconds = time.perf_counter() - start
        if rc == 121:
            raise RuntimeError("could not enter a network namespace in the sandbox child")
        stdout = _read(out_path, 10_000)
        stderr = _read(err_path, 20_000)
        status, reason = _classify(rc, stderr, timed_out, limits)
        return SandboxResult(status, reason, rc, stdout, stderr, seconds, isolate_network)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
