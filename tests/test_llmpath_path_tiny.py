"""`llmpath path --preset tiny` end to end, killed with SIGKILL during pretraining, then resumed.

Slow (about 20 minutes on an idle 2-core machine): run with LLMPATH_SLOW=1.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest


@pytest.mark.slow
def test_tiny_path_survives_a_kill_during_pretraining_and_writes_the_report(tmp_path):
    out = tmp_path / "path"
    env = {**os.environ, "LLMPATH_HOME": str(tmp_path / "home")}
    argv = [sys.executable, "-m", "llmpath.cli", "path", "--preset", "tiny", "--out", str(out)]
    proc = subprocess.Popen(
        argv, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    checkpoints = out / "work" / "pretrain" / "run" / "checkpoints"
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline and proc.poll() is None:
        if any(p.name != "step-000000" for p in checkpoints.glob("step-*")):
            break
        time.sleep(2)
    assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
    os.killpg(proc.pid, signal.SIGKILL)  # the pipeline and the training process, mid-run
    proc.wait()
    assert not (out / "pretrain").exists()  # no half-written artefact
    assert (out / "records" / "data.json").is_file()

    done = subprocess.run([*argv, "--json"], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    stages = {row["stage"]: row for row in report["stages"]}
    assert stages["tokenizer"]["skipped"] and stages["data"]["skipped"]
    assert not stages["pretrain"]["skipped"]
    pre = report["results"]["pretrain"]
    assert pre["resumed_from"] is not None and pre["resumed_from"] != "step-000000"
    assert pre["steps"] == 120
    assert pre["val_loss"] < pre["initial_val_loss"] - 0.5  # it learned something
    assert (out / "report.md").is_file() and (out / "loss.png").is_file()
    for row in report["stages"]:
        assert row["headline"]

    again = subprocess.run([*argv, "--json"], env=env, capture_output=True, text=True, check=False)
    assert again.returncode == 0
    assert all(row["skipped"] for row in json.loads(again.stdout)["stages"])

    chat = subprocess.run(
        [
            sys.executable,
            "-m",
            "llmpath.cli",
            "chat",
            str(out),
            "--prompt",
            "Hello",
            "--json",
            "--max-tokens",
            "8",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert chat.returncode == 0, chat.stderr[-3000:]
    turn = json.loads(chat.stdout)["turns"][0]
    assert turn["pieces"] >= 1 and turn["ttft_s"] is not None  # streamed, piece by piece
