"""Streaming under load: our HTTP server vs the same generations in-process, at 1, 8 and 32 streams.

Run: ``uv run python packages/ch17-serving/benchmarks/bench_serving.py``. For each concurrency level
it opens N streaming chats at once against the server (uvicorn on a free port, llmpath's default
model, greedy, ``max_tokens`` tokens each) and runs the same N generations on threads in-process,
then reports time to first token, inter-token latency, throughput, and the throughput ratio
server / in-process (the goal: >= 0.9 at 8 streams). Writes ``results/serving.json`` and
``results/serving.png``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def main(levels: tuple[int, ...] = (1, 8, 32), max_tokens: int = 32) -> None:
    import torch

    from llmpath_core import line_plot, machine_info, write_json
    from llmpath_core.testing import use_offline_env

    use_offline_env()
    torch.set_num_threads(1)
    from ch17_serving.labs import ServeConfig, load_backend, local_server
    from ch17_serving.loadtest import http_load, in_process_load

    backend = load_backend()
    rows = []
    with local_server(ServeConfig(max_concurrency=max(levels)), backend) as server:
        url = server.url + "/v1"
        http_load(url, 2, 4)  # warm-up
        in_process_load(backend, 2, 4)
        for n in levels:
            served = http_load(url, n, max_tokens).to_dict()
            direct = in_process_load(backend, n, max_tokens).to_dict()
            ratio = served["tokens_per_s"] / direct["tokens_per_s"]
            rows.append(
                {
                    "streams": n,
                    "server": served,
                    "in_process": direct,
                    "throughput_ratio": round(ratio, 3),
                }
            )
            print(
                json.dumps(
                    {
                        "streams": n,
                        "server_tok_s": served["tokens_per_s"],
                        "in_process_tok_s": direct["tokens_per_s"],
                        "ratio": round(ratio, 3),
                        "ttft_median_s": served["ttft_median_s"],
                        "itl_median_ms": served["itl_median_ms"],
                    }
                ),
                file=sys.stderr,
            )
    payload = {
        "command": "uv run python packages/ch17-serving/benchmarks/bench_serving.py",
        "model": backend.name,
        "max_tokens": max_tokens,
        "torch_threads": 1,
        "load_average_after": os.getloadavg(),
        "rows": rows,
        "machine": machine_info(),
    }
    write_json(RESULTS / "serving.json", payload)
    xs = [r["streams"] for r in rows]
    line_plot(
        RESULTS / "serving.png",
        {
            "server tok/s": (xs, [r["server"]["tokens_per_s"] for r in rows]),
            "in-process tok/s": (xs, [r["in_process"]["tokens_per_s"] for r in rows]),
        },
        title="Streaming throughput vs concurrent streams",
        xlabel="concurrent streams",
        ylabel="tokens / s",
        logx=True,
    )
    print(json.dumps([{k: r[k] for k in ("streams", "throughput_ratio")} for r in rows]))


if __name__ == "__main__":
    main()
