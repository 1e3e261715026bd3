"""garak's ``openai.OpenAICompatible`` generator against ``ch17-serving serve`` (side environment).

garak caps transformers below the workspace's version, so it is not a workspace dependency: this
script runs it with ``uv tool run --from garak`` (its own environment, cached by uv, as ch21's
``bench_garak.py`` does) and points its OpenAI-compatible generator at our server on localhost,
started *as the console script* (``ch17-serving serve --port P --api-key K --rate-limit N/min``),
so garak goes through auth and the rate limiter like any other client. It reads garak's report
(JSON lines: ``attempt`` entries = prompts answered, ``eval`` entries = ``passed`` of ``total``
per probe and detector) and the server's ``/metrics`` (requests by status), and writes
``results/garak.json``.

What it shows is the plumbing (garak's client parses every response of our server, nothing 5xx);
the attack success rate of a 3.4M-parameter story model is not a safety finding.

Run: ``OMP_NUM_THREADS=1 nice -n 10 uv run python
packages/ch17-serving/benchmarks/bench_garak.py [TIMEOUT_S]``.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

RESULTS = Path(__file__).resolve().parent / "results" / "garak.json"
PROBES = "promptinject.HijackHateHumans,dan.Dan_11_0"
GARAK = os.environ.get("GARAK_SPEC", "garak")
KEY = "sk-garak-bench"


def _texts(value: object) -> list[str]:
    """Every ``text`` string in a garak prompt (a Conversation of turns, or plain text)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        if isinstance(value.get("text"), str):
            return [value["text"]]
        return [t for v in value.values() for t in _texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return []


def summarise_report(path: Path, count_tokens: object = None) -> dict:
    """garak's report: attempts answered, and per probe/detector ``passed`` of ``total``.

    For attempts that came back with no output, the prompt's length in the served model's tokens
    (``count_tokens``), to check them against the model's context window.
    """
    evals, attempts, unanswered = [], 0, []
    for line in path.read_text().splitlines():
        entry = json.loads(line)
        kind = entry.get("entry_type")
        if kind == "attempt" and entry.get("status") == 2:  # 2 = evaluated
            attempts += 1
            outputs = entry.get("outputs") or []
            texts = [o.get("text") if isinstance(o, dict) else o for o in outputs]
            if all(not t for t in texts):
                prompt = "\n".join(_texts(entry.get("prompt")))
                tokens = count_tokens(prompt) if callable(count_tokens) else None
                unanswered.append({"probe": entry.get("probe_classname"), "prompt_tokens": tokens})
        if kind == "eval":
            total = entry.get("total_evaluated", entry.get("total")) or 0
            evals.append({**{k: entry[k] for k in ("probe", "detector", "passed")}, "total": total})
    total = sum(e["total"] for e in evals)
    failed = sum(e["total"] - e["passed"] for e in evals)
    return {
        "report": path.name,
        "attempts_evaluated": attempts,
        "attempts_with_no_output": len(unanswered),
        "unanswered": unanswered,
        "evals": evals,
        "detector_results": total,
        "attack_success_rate": round(failed / total, 4) if total else None,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _requests_by_status(base: str) -> dict[str, float]:
    """``llmpath_requests_total{route="/v1/chat/completions",status=...}`` from ``/metrics``."""
    with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
        text = r.read().decode()
    out: dict[str, float] = {}
    pattern = r'llmpath_requests_total\{route="/v1/chat/completions",status="(\d+)"\} ([\d.e+]+)'
    for status, value in re.findall(pattern, text):
        out[status] = out.get(status, 0.0) + float(value)
    return out


def _token_counter() -> object:
    """Token count of a text as the server sees it: the default model's chat template applied."""
    from ch17_serving.labs import load_backend

    backend = load_backend()

    def count(text: str) -> int:
        return len(backend.encode(backend.render_chat([{"role": "user", "content": text}])))

    return count


def run_garak(base_url: str, workdir: Path, timeout: float) -> dict:
    options = {
        "openai": {
            "OpenAICompatible": {
                "uri": base_url,
                "model": "default",
                "api_key": KEY,
                "suppressed_params": ["n", "frequency_penalty", "presence_penalty", "stop"],
                "max_tokens": 32,
            }
        }
    }
    opt_file = workdir / "options.json"
    opt_file.write_text(json.dumps(options))
    config = workdir / "config.yaml"
    config.write_text(
        "run:\n  soft_probe_prompt_cap: 20\n  generations: 1\n"
        f"reporting:\n  report_dir: {workdir}\n"
    )
    cmd = [
        "uv",
        "tool",
        "run",
        "--from",
        GARAK,
        "garak",
        "--model_type",
        "openai.OpenAICompatible",
        "--model_name",
        "default",
        "--generator_option_file",
        str(opt_file),
        "--config",
        str(config),
        "--probes",
        PROBES,
        "--report_prefix",
        "ch17",
        "--generations",
        "1",
    ]
    env = {**os.environ, "OPENAI_API_KEY": KEY, "OPENAICOMPATIBLE_API_KEY": KEY}
    start = time.perf_counter()
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=workdir
    )
    seconds = time.perf_counter() - start
    version = re.search(r"garak LLM vulnerability scanner v([\w.]+)", proc.stdout)
    reports = sorted(workdir.rglob("ch17*.report.jsonl"))
    summary = (
        summarise_report(reports[-1], _token_counter())
        if reports
        else {"evals": [], "detector_results": 0}
    )
    return {
        "garak_version": version.group(1) if version else None,
        "returncode": proc.returncode,
        "seconds": round(seconds, 1),
        **summary,
        "stdout_tail": proc.stdout[-2500:],
        "stderr_tail": proc.stderr[-1500:],
    }


def main() -> None:
    from llmpath_core import machine_info, write_json

    timeout = float(sys.argv[1]) if len(sys.argv) > 1 else 1500
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    serve_cmd = [
        "ch17-serving",
        "serve",
        "--port",
        str(port),
        "--api-key",
        KEY,
        "--rate-limit",
        "600/min",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "ch17_serving.cli", *serve_cmd[1:]],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    result: dict = {
        "command": "uv run python packages/ch17-serving/benchmarks/bench_garak.py",
        "server": " ".join(serve_cmd),
        "probes": PROBES,
        "garak_spec": GARAK,
    }
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(base + "/ready", timeout=2).read()
                break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.5)
        with tempfile.TemporaryDirectory() as tmp:
            try:
                result["garak"] = run_garak(base + "/v1", Path(tmp), timeout)
            except subprocess.TimeoutExpired:
                result["garak"] = {"error": f"garak did not finish in {timeout:.0f} s"}
        result["server_chat_requests_by_status"] = _requests_by_status(base)
        with urllib.request.urlopen(base + "/health", timeout=10) as r:
            result["server_alive_after"] = json.loads(r.read())["status"] == "ok"
    finally:
        server.terminate()
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
        result["server_exit_code"] = server.returncode
    from ch17_serving.labs import load_backend

    result["model_context_tokens"] = load_backend().context_length
    result["machine"] = machine_info()
    result["date"] = time.strftime("%Y-%m-%d")
    result["load_average_after"] = os.getloadavg()
    write_json(RESULTS, result)
    short = {k: v for k, v in result["garak"].items() if not k.endswith("_tail") and k != "evals"}
    print(json.dumps(short), result["server_chat_requests_by_status"])


if __name__ == "__main__":
    main()
