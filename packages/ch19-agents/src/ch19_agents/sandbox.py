"""Run untrusted Python (code an agent wrote) in a separate, limited process.

Layers, each closing a different way out:

1. **A child process in its own session**, waited on with a wall-clock timeout; when it ends or
   the time is up, the whole process group is killed (``killpg``), stragglers included. The call
   always returns within ``timeout_s`` (plus a few hundred milliseconds to clean up).
2. **Resource limits** set between ``fork`` and ``exec`` (``setrlimit``): CPU seconds, address
   space (memory), the size of any file written (the captured stdout included, so runaway output
   dies with ``SIGXFSZ``), no core files, and few processes.
3. **A private temporary folder** as working directory, ``HOME`` and ``TMPDIR``, deleted
   afterwards; an empty environment; ``python -I -S -B`` (no site-packages, no user site).
4. **Less privilege**: when started as root, the child becomes ``nobody`` (where a Python
   interpreter is executable by ``nobody``), so the process limit is enforced (the kernel exempts
   root from ``RLIMIT_NPROC``) and file permissions stop writes to other users' files.
5. **No network**: the child enters a fresh network namespace (``unshare(CLONE_NEWNET)``, with a
   user namespace when not root), which has no interface but a downed loopback.
6. **An audit hook** (PEP 578, which code cannot remove) installed before the code runs refuses
   sockets, new processes (fork bombs stop at the first ``fork``), ``ctypes``, signals to other
   processes, and any write, rename or delete outside the private folder.

Layers 1–5 are enforced by the kernel; 6 is Python-level. None of this is a boundary against a
kernel exploit: for hostile code at scale, run this inside a container or VM as well.
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
from dataclasses import asdict, dataclass, field
from pathlib import Path

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
NOBODY = 65534
_NS_FAILED = 121

GUARD = r"""
import os, sys
_ROOT = os.path.realpath(os.getcwd())
_BLOCKED = {
    "socket.connect": "network", "socket.bind": "network", "socket.sendto": "network",
    "socket.sendmsg": "network", "socket.getaddrinfo": "network",
    "socket.gethostbyname": "network", "socket.__new__": "network",
    "os.fork": "new process", "os.forkpty": "new process", "os.posix_spawn": "new process",
    "os.spawn": "new process", "os.exec": "new process", "os.system": "new process",
    "subprocess.Popen": "new process", "os.kill": "signal", "os.killpg": "signal",
    "ctypes.dlopen": "ctypes", "ctypes.dlsym": "ctypes", "ctypes.cdata": "ctypes",
}
_BLOCKED_IMPORTS = {"ctypes", "_ctypes", "_posixsubprocess", "multiprocessing",
                    "_multiprocessing"}
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
    if event in _BLOCKED:
        _deny(_BLOCKED[event], event)
    if event == "import" and args and args[0].split(".")[0] in _BLOCKED_IMPORTS:
        _deny("native code or new process", "import " + args[0])
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

if GUARDED:
    sys.addaudithook(_hook)
del _hook
_source = open("main.py", encoding="utf-8").read()
exec(compile(_source, "main.py", "exec"), {"__name__": "__main__"})
"""


@dataclass(frozen=True)
class Limits:
    """What the code may use: wall seconds (CPU seconds follow), memory, output, processes."""

    timeout_s: float = 5.0
    memory_mb: int = 256
    max_output_bytes: int = 64 * 1024
    max_processes: int = 16


@dataclass
class SandboxResult:
    """``ok``, captured ``stdout`` and, when not ok, one-line ``error``; plus how it ended."""

    ok: bool
    stdout: str
    error: str | None
    status: str  # ok, error, timeout, memory, output, blocked, killed
    seconds: float
    isolation: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


@functools.cache
def _namespace_flags() -> int | None:
    """unshare flags that work here for a network namespace, or None."""
    for flags in (CLONE_NEWNET, CLONE_NEWUSER | CLONE_NEWNET):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the probe child
            libc = ctypes.CDLL(None, use_errno=True)
            os._exit(0 if libc.unshare(flags) == 0 else 1)
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) == 0:
            return flags
    return None


def _become_nobody() -> None:  # pragma: no cover - runs in a child
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


@functools.cache
def _interpreter() -> tuple[str, bool]:
    """(python to run, whether to drop to ``nobody``): drop when root and nobody can run it."""
    if os.geteuid() != 0:
        return sys.executable, False
    for exe in (sys.executable, shutil.which("python3"), "/usr/bin/python3"):
        if not exe:
            continue
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            probe = subprocess.run(
                [exe, "-I", "-S", "-c", "pass"],
                preexec_fn=_become_nobody,
                capture_output=True,
                timeout=10,
                cwd="/",
            )
            if probe.returncode == 0:
                return exe, True
    return sys.executable, False


def _child_setup(limits: Limits, ns_flags: int | None, drop: bool) -> None:  # pragma: no cover
    cpu = max(1, int(limits.timeout_s + 0.999) + 1)
    mem = limits.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.max_output_bytes,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if ns_flags is not None:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(ns_flags) != 0:
            os._exit(_NS_FAILED)
    if drop:
        _become_nobody()
    resource.setrlimit(resource.RLIMIT_NPROC, (limits.max_processes,) * 2)


def _last_line(text: str) -> str:
    return next((ln.strip() for ln in reversed(text.splitlines()) if ln.strip()), "")


def _classify(rc: int | None, stderr: str, timed_out: bool, limits: Limits) -> tuple[str, str]:
    last = _last_line(stderr)
    if timed_out:
        return "timeout", f"timed out after {limits.timeout_s:g} s (process group killed)"
    if rc == 0:
        return "ok", ""
    if "sandbox:" in last:
        return "blocked", last[last.index("sandbox:") :]
    if rc == -signal.SIGXCPU:
        return "timeout", "CPU time limit exceeded (process group killed)"
    if rc == -signal.SIGXFSZ or "File too large" in stderr:
        return "output", f"output limit ({limits.max_output_bytes} bytes) exceeded"
    if "MemoryError" in last or "Cannot allocate memory" in stderr:
        return "memory", f"memory limit ({limits.memory_mb} MB) exceeded"
    if rc is not None and rc < 0:
        return "killed", f"killed by signal {signal.Signals(-rc).name}"
    return "error", (last[:300] or f"exit code {rc}")


def run_code(
    source: str,
    limits: Limits = Limits(),
    *,
    guard: bool = True,
    isolate_network: bool = True,
    files: dict[str, str] | None = None,
) -> SandboxResult:
    """Run ``source`` as ``main.py`` in the sandbox and report how it ended.

    ``files`` are written into the private folder first (e.g. tests for the code to import).
    ``guard=False`` drops the audit hook (to show what the kernel-enforced layers do alone).
    """
    if limits.timeout_s <= 0:
        raise ValueError("timeout must be positive")
    ns_flags = _namespace_flags() if isolate_network else None
    exe, drop = _interpreter()
    folder = Path(tempfile.mkdtemp(prefix="ch19-sandbox-"))
    try:
        (folder / "main.py").write_text(source, encoding="utf-8")
        for name, text in (files or {}).items():
            target = folder / name
            if target.resolve().parent != folder.resolve():
                raise ValueError(f"sandbox file {name!r} must be a plain file name")
            target.write_text(text, encoding="utf-8")
        runner = GUARD.replace("if GUARDED:", f"if {guard!r}:")
        (folder / "_run.py").write_text(runner, encoding="utf-8")
        if drop:
            for path in [folder, *folder.iterdir()]:
                os.chown(path, NOBODY, NOBODY)
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(folder),
            "TMPDIR": str(folder),
            "LANG": "C.UTF-8",
            "PYTHONHASHSEED": "0",
        }
        out_fd, out_path = tempfile.mkstemp(prefix="ch19-sandbox-out-")
        err_fd, err_path = tempfile.mkstemp(prefix="ch19-sandbox-err-")
        start = time.perf_counter()
        timed_out = False
        try:
            proc = subprocess.Popen(
                [exe, "-I", "-S", "-B", "_run.py"],
                cwd=folder,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out_fd,
                stderr=err_fd,
                start_new_session=True,
                close_fds=True,
                preexec_fn=functools.partial(_child_setup, limits, ns_flags, drop),
            )
            try:
                rc = proc.wait(timeout=limits.timeout_s)
            except subprocess.TimeoutExpired:
                timed_out, rc = True, None
            finally:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                if timed_out:
                    proc.wait()
            seconds = time.perf_counter() - start
            with open(out_path, "rb") as f:
                stdout = f.read(limits.max_output_bytes).decode("utf-8", errors="replace")
            with open(err_path, "rb") as f:
                stderr = f.read(limits.max_output_bytes).decode("utf-8", errors="replace")
        finally:
            os.close(out_fd)
            os.close(err_fd)
            os.unlink(out_path)
            os.unlink(err_path)
        if rc == _NS_FAILED:
            raise RuntimeError("the sandbox child could not enter a network namespace")
        status, reason = _classify(rc, stderr, timed_out, limits)
        isolation = {
            "network": "namespace" if ns_flags is not None else "audit hook only",
            "user": "nobody" if drop else "same",
            "audit_hook": guard,
        }
        return SandboxResult(
            status == "ok", stdout, reason or None, status, round(seconds, 3), isolation
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
