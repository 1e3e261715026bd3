"""Load test of the similarity API on localhost: requests/s and p99 latency under N concurrent
clients, with and without batching (a real uvicorn server on a free port).

    uv run python packages/ch04-embeddings/benchmarks/bench_api.py
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from pathlib import Path

import numpy as np

from llmpath_core.bench import machine_info
from llmpath_core.io import write_json
from llmpath_core.report import print_table

OUT = Path(__file__).parent / "results" / "api.json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def load(url: str, clients: int, requests: int, tag: str) -> dict:
    import httpx

    latencies: list[float] = []

    async def client(c: int) -> None:
        async with httpx.AsyncClient(timeout=120) as http:
            for i in range(requests):
                start = time.perf_counter()
                r = await http.post(
                    f"{url}/embed",
                    json={"texts": [f"{tag} client {c} req {i}"]},
                    headers={"x-client-id": f"c{c}"},
                )
                r.raise_for_status()
                latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(client(c) for c in range(clients)))
    wall = time.perf_counter() - start
    return {
        "requests_per_s": clients * requests / wall,
        "p50_ms": float(np.percentile(latencies, 50) * 1000),
        "p99_ms": float(np.percentile(latencies, 99) * 1000),
    }


def main(clients: int = 16, requests: int = 8) -> None:
    import torch
    import uvicorn

    from ch04_embeddings.api import EmbeddingService, ServiceConfig, create_app
    from ch04_embeddings.encoder import load_encoder

    torch.set_num_threads(2)
    encoder = load_encoder()
    rows = []
    for batching in (False, True):
        service = EmbeddingService(encoder, ServiceConfig(batching=batching, rate_per_s=0))
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(create_app(service), port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}"
        asyncio.run(load(url, 2, 2, f"warm{batching}"))
        stats = asyncio.run(load(url, clients, requests, f"b{batching}"))
        server.should_exit = True
        thread.join()
        rows.append(
            {
                "batching": batching,
                "clients": clients,
                **{k: round(v, 1) for k, v in stats.items()},
                "forward_passes": service.batches,
            }
        )
    print_table(rows, title=f"POST /embed, {clients} clients x {requests} requests")
    write_json(
        OUT,
        {
            "rows": rows,
            "machine": machine_info(),
            "note": "loaded 2-core CPU box; server and clients in one process",
            "date": time.strftime("%Y-%m-%d"),
        },
    )


if __name__ == "__main__":
    main()
