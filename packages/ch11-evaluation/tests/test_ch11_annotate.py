"""The annotation app over HTTP and in headless Chromium: it stores exactly what was entered."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
import urllib.parse
import urllib.request

import pytest

from ch11_evaluation.annotate import AnnotationDB, items_from_pairs, make_server
from ch11_evaluation.judge import pairs_from_mc
from ch11_evaluation.tasks import load_task


@pytest.fixture
def app(tmp_path):
    db = AnnotationDB(tmp_path / "judgments.sqlite")
    db.add_items(items_from_pairs(pairs_from_mc(load_task("mmlu").items, n=6)))
    server = make_server(db)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield db, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read().decode()


def _post(url, form):
    data = urllib.parse.urlencode(form).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10) as r:
        return r.read().decode()


def test_http_judgments_round_trip_with_agreement(app):
    from sklearn.metrics import cohen_kappa_score

    db, base = app
    items = [it["item_id"] for it in db.items()]
    entered = {
        "ann": ["A", "B", "A", "tie", "B", "A"],
        "bob": ["A", "B", "B", "tie", "B", "A"],
        "cy": ["A", "A", "B", "tie", None, "A"],
    }
    for name, choices in entered.items():
        skipped = False
        for item_id, choice in zip(items, choices, strict=True):
            if choice is None:
                skipped = True
                continue
            page = _get(f"{base}/next?annotator={name}")
            if not skipped:
                assert f"value='{item_id}'" in page  # the app serves items in order
            after = _post(
                f"{base}/judge", {"annotator": name, "item_id": item_id, "choice": choice}
            )
            assert "item" in after or "All 6 items judged" in after
    exported = json.loads(_get(f"{base}/export.json"))
    got = [(j["annotator"], j["item_id"], j["choice"]) for j in exported]
    want = [
        (n, i, c)
        for n, cs in entered.items()
        for i, c in zip(items, cs, strict=True)
        if c is not None
    ]
    assert got == want
    csv_rows = _get(f"{base}/export.csv").strip().splitlines()
    assert len(csv_rows) == len(want) + 1
    agreement = json.loads(_get(f"{base}/agreement.json"))
    ann_bob = next(p for p in agreement["pairs"] if (p["a"], p["b"]) == ("ann", "bob"))
    assert ann_bob["kappa"] == pytest.approx(cohen_kappa_score(entered["ann"], entered["bob"]))
    import krippendorff
    import numpy as np

    codes = {"A": 0, "B": 1, "tie": 2, None: np.nan}
    data = np.array([[codes[c] for c in cs] for cs in entered.values()], dtype=float)
    theirs = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    assert agreement["alpha"] == pytest.approx(theirs, abs=1e-12)
    assert "All 6 items judged" in _get(f"{base}/next?annotator=ann")


def test_bad_judgments_are_refused(app):
    db, base = app
    for form in (
        {"annotator": "x", "item_id": "nope", "choice": "A"},
        {"annotator": "x", "item_id": "pair-0", "choice": "C"},
        {"annotator": " ", "item_id": "pair-0", "choice": "A"},
    ):
        with pytest.raises(urllib.error.HTTPError) as info:
            _post(f"{base}/judge", form)
        assert info.value.code == 400
    assert db.judgments() == []


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (apt chromium)")
def test_judgments_entered_in_headless_chromium_are_stored_exactly(app, tmp_path):
    ws_client = pytest.importorskip("websockets.sync.client")
    db, base = app
    profile = tmp_path / "profile"
    proc = subprocess.Popen(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.time() + 60
        while not port_file.exists() and time.time() < deadline:
            time.sleep(0.2)
        port = port_file.read_text().split()[0]
        pages = json.loads(_get(f"http://127.0.0.1:{port}/json/list"))
        ws_url = next(p for p in pages if p["type"] == "page")["webSocketDebuggerUrl"]
        with ws_client.connect(ws_url, max_size=None, open_timeout=30) as ws:
            counter = iter(range(1, 10_000))

            def js(expression):
                msg_id = next(counter)
                ws.send(
                    json.dumps(
                        {
                            "id": msg_id,
                            "method": "Runtime.evaluate",
                            "params": {"expression": expression, "returnByValue": True},
                        }
                    )
                )
                while True:
                    reply = json.loads(ws.recv(timeout=30))
                    if reply.get("id") == msg_id:
                        return reply["result"]["result"].get("value")

            def wait_for(expression, seconds=30):
                end = time.time() + seconds
                while time.time() < end:
                    if js(expression):
                        return
                    time.sleep(0.1)
                raise AssertionError(f"timed out waiting for {expression}")

            js(f"location.href = {json.dumps(base + '/')}")
            wait_for("!!document.getElementById('start')")
            js(
                "document.getElementById('annotator').value = 'chromium-user';"
                "document.getElementById('start').click()"
            )
            clicks = ["B", "A", "tie", "A", "B", "B"]
            for n, choice in enumerate(clicks):
                wait_for(
                    f"!!document.getElementById('question') && "
                    f"document.body.innerText.includes('item {n + 1} of 6')"
                )
                js(f"document.getElementById('choose-{choice}').click()")
                end = time.time() + 30
                while len(db.judgments()) < n + 1 and time.time() < end:
                    time.sleep(0.1)
            wait_for("!!document.getElementById('done')")
    finally:
        proc.kill()
        proc.wait()
    stored = [(j["annotator"], j["item_id"], j["choice"]) for j in db.judgments()]
    item_ids = [it["item_id"] for it in db.items()]
    assert stored == [("chromium-user", i, c) for i, c in zip(item_ids, clicks, strict=True)]
    assert os.path.exists(db.path)
