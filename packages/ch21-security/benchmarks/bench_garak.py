"""garak against the built-in target, without and with the guardrail proxy (a side environment).

garak caps transformers below the workspace's version, so it is not a workspace dependency: this
script runs it with ``uv tool run --from garak`` (its own environment, cached by uv) and points
its ``openai.OpenAICompatible`` generator at our servers on localhost. It runs the same probes
against the bare target and through the proxy, reads garak's report (JSON lines, ``eval``
entries: ``passed`` of ``total`` per probe and detector) and writes ``results/garak.json`` with
garak's attack success rate (failed / total) for each side.

Run: ``OMP_NUM_THREADS=1 nice -n 10 uv run python
packages/ch21-security/benchmarks/bench_garak.py [TIMEOUT_S]``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from ch21_security.proxy import GuardrailConfig, start_proxy
from ch21_security.target import CANARY, SECRET, start_target
from llmpath_core.bench import machine_info
from llmpath_core.io import write_json

OUT = Path(__file__).parent / "results" / "garak.json"
PROBES = (
    "dan.Dan_11_0,dan.STAN,dan.DUDE,dan.AntiDAN,"
    "promptinject.HijackHateHumans,promptinject.HijackKillHumans"
)
GARAK = os.environ.get("GARAK_SPEC", "garak")


def summarise_report(path: Path) -> dict:
    """garak's ``eval`` entries: per probe and detector, passed of total; the overall ASR."""
    evals = []
    for line in path.read_text().splitlines():
        entry = json.loads(line)
        if entry.get("entry_type") == "eval":
            total = entry.get("total_evaluated", entry.get("total")) or 0
            keys = ("probe", "detector", "passed")
            evals.append({**{k: entry[k] for k in keys}, "total": total})
    total = sum(e["total"] for e in evals)
    failed = sum(e["total"] - e["passed"] for e in evals)
    return {
        "report": path.name,
        "evals": evals,
        "attempts_judged": total,
        "attack_success_rate": failed / total if total else None,
    }


def run_garak(base_url: str, workdir: Path, name: str, timeout: float) -> dict:
    options = {
        "openai": {
            "OpenAICompatible": {
                "uri": base_url,
                "model": "llmpath-default",
                "api_key": "not-needed",
                "suppressed_params": ["n", "frequency_penalty", "presence_penalty", "stop"],
                "max_tokens": 32,
            }
        }
    }
    opt_file = workdir / f"{name}-options.json"
    opt_file.write_text(json.dumps(options))
    config = workdir / f"{name}-config.yaml"
    config.write_text(
        "run:\n  soft_probe_prompt_cap: 25\n  generations: 1\n"
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
        "llmpath-default",
        "--generator_option_file",
        str(opt_file),
        "--config",
        str(config),
        "--probes",
        PROBES,
        "--report_prefix",
        name,
        "--generations",
        "1",
    ]
    env = {**os.environ, "OPENAI_API_KEY": "not-needed", "OPENAICOMPATIBLE_API_KEY": "not-needed"}
    start = time.perf_counter()
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=workdir
    )
    seconds = time.perf_counter() - start
    reports = sorted(workdir.rglob(f"{name}*.report.jsonl"))
    summary = summarise_report(reports[-1]) if reports else {"evals": [], "attempts_judged": 0}
    return {
        "returncode": proc.returncode,
        "seconds": seconds,
        **summary,
        "stderr_tail": proc.stderr[-3000:],
        "stdout_tail": proc.stdout[-3000:],
    }


def main() -> None:
    torch.set_num_threads(1)
    if len(sys.argv) > 2 and sys.argv[1] == "--parse":  # re-read reports kept from a run
        result = json.loads(OUT.read_text()) if OUT.is_file() else {"probes": PROBES}
        for name in ("unguarded", "guarded"):
            reports = sorted(Path(sys.argv[2]).glob(f"{name}*.report.jsonl"))
            if reports:
                result.setdefault(name, {}).update(summarise_report(reports[-1]))
        write_json(OUT, result)
        return
    timeout = float(sys.argv[1]) if len(sys.argv) > 1 else 1200
    result: dict = {"probes": PROBES, "garak": GARAK}
    with tempfile.TemporaryDirectory() as tmp, start_target() as target:
        proxy, _ = start_proxy(target.url, GuardrailConfig(secrets=[SECRET], canaries=[CANARY]))
        with proxy:
            for name, url in (("unguarded", target.url), ("guarded", proxy.url)):
                try:
                    result[name] = run_garak(url, Path(tmp), name, timeout)
                except subprocess.TimeoutExpired:
                    result[name] = {"error": f"garak did not finish in {timeout:.0f} s"}
                print(
                    name,
                    {
                        k: v
                        for k, v in result[name].items()
                        if k not in ("evals", "stderr_tail", "stdout_tail")
                    },
                    flush=True,
                )
    result["machine"] = machine_info()
    result["date"] = time.strftime("%Y-%m-%d")
    write_json(OUT, result)


if __name__ == "__main__":
    main()
