"""The web chat page in headless Chromium: a real browser types, and the reply streams in.

Chromium is driven over the DevTools protocol (websockets): the message is typed with
``Input.insertText`` and sent with a real Enter key event; a MutationObserver in the page records
every state the reply went through, so the test sees tokens arrive one chunk at a time. The
finished reply is held to the non-streamed reply of the official ``openai`` client for the same
conversation at temperature 0.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import time
import urllib.request

import httpx
import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
MAX_TOKENS = 24


def test_chat_page_is_served_outside_the_api_schema(server):
    page = httpx.get(server.url + "/chat")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/v1/chat/completions" in page.text and "getReader" in page.text
    assert "/chat" not in httpx.get(server.url + "/openapi.json").json()["paths"]


class Page:
    """The smallest DevTools-protocol client: evaluate JavaScript, type, press keys."""

    def __init__(self, ws) -> None:
        self.ws, self.ids = ws, itertools.count(1)

    def call(self, method: str, **params):
        msg_id = next(self.ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self.ws.recv(timeout=60))
            if reply.get("id") == msg_id:
                if "error" in reply:
                    raise AssertionError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def js(self, expression: str):
        result = self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, seconds: float = 90) -> None:
        end = time.time() + seconds
        while time.time() < end:
            try:
                if self.js(expression):
                    return
            except AssertionError as error:
                # while the page navigates, the old document's context goes away under an
                # evaluation ("Inspected target navigated or closed"): ask the new one again
                if "navigated" not in str(error) and "context" not in str(error).lower():
                    raise
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {expression}")

    def type_and_enter(self, selector: str, text: str) -> None:
        self.js(f"document.querySelector({json.dumps(selector)}).focus()")
        self.call("Input.insertText", text=text)
        for kind in ("keyDown", "keyUp"):
            self.call(
                "Input.dispatchKeyEvent",
                type=kind,
                key="Enter",
                code="Enter",
                windowsVirtualKeyCode=13,
                **({"text": "\r"} if kind == "keyDown" else {}),
            )


@pytest.fixture
def browser(tmp_path):
    if CHROMIUM is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")
    ws_client = pytest.importorskip("websockets.sync.client")
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
        deadline = time.time() + 90
        ws_url = None
        while ws_url is None:  # the file appears before it is written; the page a bit later
            if time.time() > deadline:
                raise AssertionError("Chromium's DevTools endpoint did not come up in 90 s")
            time.sleep(0.1)
            written = port_file.read_text().split() if port_file.exists() else []
            if len(written) < 2:
                continue
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{written[0]}/json/list", timeout=10
                ) as r:
                    pages = [p for p in json.loads(r.read()) if p["type"] == "page"]
            except OSError:
                continue
            if pages:
                ws_url = pages[0]["webSocketDebuggerUrl"]
        with ws_client.connect(ws_url, max_size=None, open_timeout=30) as ws:
            yield Page(ws)
    finally:
        proc.kill()
        proc.wait()


WATCH_REPLIES = """
window.replyStates = [];
new MutationObserver(() => {
  const last = document.querySelector('#log .assistant:last-child .text');
  if (last) window.replyStates.push(last.textContent);
}).observe(document.getElementById('log'),
           {subtree: true, childList: true, characterData: true});
true
"""


def _finished(turn: int) -> str:
    return (
        f"window.llmpathChat && window.llmpathChat.turns === {turn} && "
        "!window.llmpathChat.busy && document.getElementById('status').textContent !== ''"
    )


def test_a_browser_chats_and_sees_tokens_stream(server, client, browser):
    page = browser
    page.call("Page.enable")
    page.call("Page.navigate", url=server.url + "/chat")
    page.wait_for("!!document.getElementById('message') && !!window.llmpathChat")
    page.js(
        f"document.getElementById('api-key').value = {json.dumps(client.api_key)};"
        "document.getElementById('temperature').value = '0';"
        f"document.getElementById('max-tokens').value = '{MAX_TOKENS}'; true"
    )
    page.js(WATCH_REPLIES)
    history: list[dict] = []
    for turn, text in enumerate(("Tell me a story about a cat.", "What did the cat do next?"), 1):
        page.type_and_enter("#message", text)
        page.wait_for(_finished(turn))
        assert page.js("document.getElementById('error').textContent") == ""
        assert page.js("document.getElementById('message').value") == ""  # the form took it
        shown = page.js(f"document.getElementById('reply-{turn}').textContent")
        deltas = page.js("window.llmpathChat.deltas")
        states = page.js("window.replyStates.splice(0)")
        sent = page.js(f"window.llmpathChat.requests[{turn - 1}]")
        history.append({"role": "user", "content": text})
        assert sent["stream"] is True and sent["messages"] == history
        # streamed: several SSE deltas, and the page showed the reply growing through them
        assert len(deltas) > 1 and "".join(deltas) == shown
        growing = [s for s in dict.fromkeys(states) if s]
        assert len(growing) >= 2 and growing[-1] == shown
        assert all(shown.startswith(s) for s in growing)
        # the streamed reply in the browser == the official client's non-streamed reply
        whole = client.chat.completions.create(
            model="default", messages=history, temperature=0, max_tokens=MAX_TOKENS
        )
        assert shown == whole.choices[0].message.content
        history.append({"role": "assistant", "content": shown})
    assert page.js("document.getElementById('status').textContent").startswith("done (")
    # a wrong key: the page shows the server's OpenAI-style error message, and keeps no turn
    page.js("document.getElementById('api-key').value = 'sk-wrong'; true")
    page.type_and_enter("#message", "Hello?")
    page.wait_for("document.getElementById('error').textContent !== ''")
    assert "Incorrect API key" in page.js("document.getElementById('error').textContent")
    assert page.js("window.llmpathChat.history.length") == 4
    assert page.js("document.getElementById('message').value") == "Hello?"  # back, to retry
