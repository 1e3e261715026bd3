"""The console script: clean errors (exit 2, one line), --json, the deploy and minutes commands."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from ch17_serving.cli import app


def test_bad_input_exits_2_with_one_line(cli):
    done = cli("serve", "--rate-limit", "lots", "--port", "0")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("error: --rate-limit 'lots'")
    done = cli("minutes", "--transcript", "/nonexistent.txt", "--json")
    assert done.returncode == 2 and json.loads(done.stdout)["error"]


def test_deploy_and_minutes_json(tmp_path):
    runner = CliRunner()
    out = runner.invoke(app, ["deploy", "--out", str(tmp_path / "d"), "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["problems"] == [] and len(data["files"]) == 3
    out = runner.invoke(app, ["minutes", "--json", "--out", str(tmp_path / "m.md")])
    data = json.loads(out.stdout)
    assert data["scores"]["recall"] == 1.0 and (tmp_path / "m.md").read_text() == data["markdown"]


def test_keys_file_stores_only_hashes(tmp_path):
    runner = CliRunner()
    out = runner.invoke(app, ["keys", "alice", "--file", str(tmp_path / "k.json"), "--json"])
    key = json.loads(out.stdout)["key"]
    stored = (tmp_path / "k.json").read_text()
    assert key not in stored
    from ch17_serving.keys import KeyStore

    assert KeyStore.load(tmp_path / "k.json").lookup(key).name == "alice"
    again = runner.invoke(app, ["keys", "alice", "--file", str(tmp_path / "k.json")])
    assert again.exit_code == 2


@pytest.mark.slow
def test_demo_shows_the_chapter(backend):
    """The whole demo in-process (about a minute idle; LLMPATH_SLOW=1 runs it)."""
    out = CliRunner().invoke(app, ["demo", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["streamed_equals_whole"] is True
    assert "AuthenticationError" in data["headline"]
    # 6/min in fixed clock-minute windows: the 7th request, or a few more if a minute turned over
    assert isinstance(data["showed"], str) and "\n" not in data["showed"]
    assert "RateLimitError" in data["steps"][2] and "None" not in data["steps"][2]
    assert [row["streams"] for row in data["load"]] == [1, 8]
    assert all(row["errors"] == 0 and row["ok"] == row["streams"] for row in data["load"])
    assert data["minutes"]["action_items"]["recall"] == 1.0
    assert len(data["steps"]) >= 5


def test_serve_console_script_end_to_end(tmp_path):
    """`ch17-serving serve --port P --api-key K --rate-limit N/min` as a real process."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    import httpx
    import openai

    from llmpath_core.testing import CLI_ENV

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ch17_serving.cli",
            "serve",
            "--port",
            str(port),
            "--api-key",
            "k1",
            "k2",
            "--rate-limit",
            "100/min",
        ],
        env={**os.environ, **CLI_ENV},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 600  # the model loads in seconds; a loaded CI box is slower
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready").status_code == 200:
                    break
            except httpx.ConnectError:
                pass
            assert proc.poll() is None, "serve exited before it was ready"
            assert time.time() < deadline, "serve was not ready in time"
            time.sleep(0.5)
        c = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="k2", max_retries=0)
        assert c.models.list().data[0].id == "llmpath-default"
        reply = c.chat.completions.create(
            model="default", messages=[{"role": "user", "content": "Hi"}], max_tokens=4
        )
        assert reply.usage.completion_tokens >= 1
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    # uvicorn finishes its graceful shutdown, then re-raises the signal it caught (exit by SIGTERM)
    assert proc.returncode in (0, -signal.SIGTERM)


def test_api_key_takes_several_values():
    from ch17_serving.cli import expand_repeated_keys

    argv = ["serve", "--api-key", "a", "b", "--rate-limit", "3/min"]
    assert expand_repeated_keys(argv) == [
        "serve",
        "--api-key",
        "a",
        "--api-key",
        "b",
        "--rate-limit",
        "3/min",
    ]
    assert expand_repeated_keys(["chat", "a", "b"]) == ["chat", "a", "b"]
