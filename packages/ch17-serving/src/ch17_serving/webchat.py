"""A web chat page (plain HTML + JavaScript) that streams from the OpenAI-compatible SSE endpoint.

``serve`` answers ``GET /chat`` with :data:`CHAT_PAGE`. The page is a client like any other: it
keeps the conversation in the browser, POSTs the whole history to ``/v1/chat/completions`` with
``stream: true`` (and the API key typed into the page as ``Authorization: Bearer``), reads the
response body as a stream (``fetch`` + ``ReadableStream``, because ``EventSource`` cannot POST),
splits it into server-sent events and appends each ``delta.content`` to the reply as it arrives.
Model text goes in with ``textContent``, never as HTML. Errors show OpenAI's
``error.message``; "Stop" aborts the request, which the server sees as a disconnect and stops
generating.

For tests, ``window.llmpathChat`` exposes what arrived: the deltas of the last reply, the request
bodies sent, and a ``busy`` flag.
"""

from __future__ import annotations

CHAT_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>llmpath chat</title>
<style>
  body { font-family: system-ui, sans-serif; max-width: 46rem; margin: 1.5rem auto;
         padding: 0 1rem; }
  #log { border: 1px solid #ccc; border-radius: 6px; padding: .5rem; min-height: 12rem; }
  .msg { margin: .4rem 0; white-space: pre-wrap; }
  .user { color: #234; font-weight: 600; }
  .assistant { color: #222; }
  #error { color: #b00; min-height: 1.2rem; }
  form { display: flex; gap: .4rem; margin-top: .5rem; }
  #message { flex: 1; }
  fieldset { border: none; padding: 0; display: flex; gap: .8rem; flex-wrap: wrap;
             font-size: .9rem; }
</style>
</head>
<body>
<h1>llmpath chat</h1>
<fieldset>
  <label>API key <input id="api-key" type="password" autocomplete="off" size="18"></label>
  <label>model <input id="model" value="default" size="12"></label>
  <label>temperature <input id="temperature" type="number" min="0" max="2" step="0.1"
         value="0.7" style="width: 4rem"></label>
  <label>max tokens <input id="max-tokens" type="number" min="1" max="4096" value="64"
         style="width: 5rem"></label>
</fieldset>
<div id="log" aria-live="polite"></div>
<div id="error" role="alert"></div>
<form id="chat-form">
  <input id="message" autocomplete="off" placeholder="Say something and press Enter">
  <button id="send" type="submit">Send</button>
  <button id="stop" type="button" disabled>Stop</button>
  <button id="clear" type="button">Clear</button>
</form>
<p id="status"></p>
<script>
"use strict";
const state = { history: [], deltas: [], requests: [], busy: false, controller: null, turns: 0 };
window.llmpathChat = state;
const $ = (id) => document.getElementById(id);

function bubble(role, text) {
  const div = document.createElement("div");
  div.className = "msg " + role;
  const who = document.createElement("span");
  who.textContent = role + ": ";
  const body = document.createElement("span");
  body.className = "text";
  body.textContent = text;
  div.append(who, body);
  $("log").append(div);
  return body;
}

async function errorMessage(response) {
  try {
    const data = await response.json();
    if (data && data.error && data.error.message) return data.error.message;
  } catch (e) { /* not JSON */ }
  return "HTTP " + response.status;
}

async function send(text) {
  $("error").textContent = "";
  state.history.push({ role: "user", content: text });
  bubble("user", text);
  const reply = bubble("assistant", "");
  reply.id = "reply-" + (++state.turns);
  state.deltas = [];
  state.busy = true;
  $("send").disabled = true;
  $("stop").disabled = false;
  $("status").textContent = "streaming...";
  const body = {
    model: $("model").value || "default",
    messages: state.history.slice(),
    stream: true,
    temperature: Number($("temperature").value),
    max_tokens: Number($("max-tokens").value),
  };
  state.requests.push(body);
  const headers = { "Content-Type": "application/json" };
  if ($("api-key").value) headers["Authorization"] = "Bearer " + $("api-key").value;
  state.controller = new AbortController();
  let finish = null;
  const started = performance.now();
  let firstAt = null;
  try {
    const response = await fetch("/v1/chat/completions", {
      method: "POST", headers, body: JSON.stringify(body), signal: state.controller.signal,
    });
    if (!response.ok) throw new Error(await errorMessage(response));
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\\n\\n")) >= 0) {
        const event = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        for (const line of event.split("\\n")) {
          if (!line.startsWith("data: ")) continue;
          const data = line.slice(6);
          if (data === "[DONE]") continue;
          const chunk = JSON.parse(data);
          if (chunk.error) throw new Error(chunk.error.message);
          const choice = (chunk.choices || [])[0];
          if (!choice) continue;
          const piece = choice.delta && choice.delta.content;
          if (piece) {
            if (firstAt === null) firstAt = performance.now();
            state.deltas.push(piece);
            reply.textContent += piece;
          }
          if (choice.finish_reason) finish = choice.finish_reason;
        }
      }
    }
    state.history.push({ role: "assistant", content: reply.textContent });
    const ttft = firstAt === null ? "-" : Math.round(firstAt - started) + " ms";
    $("status").textContent =
      "done (" + finish + ", " + state.deltas.length + " chunks, first token " + ttft + ")";
  } catch (err) {
    if (err.name === "AbortError") {
      state.history.push({ role: "assistant", content: reply.textContent });
      $("status").textContent = "stopped";
    } else {
      state.history.pop();  // the server did not take this turn: do not send it again
      reply.parentElement.remove();
      if (!$("message").value) $("message").value = text;  // give it back, to retry
      $("error").textContent = err.message;
      $("status").textContent = "error";
    }
  } finally {
    state.busy = false;
    state.controller = null;
    $("send").disabled = false;
    $("stop").disabled = true;
  }
}

$("chat-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("message").value.trim();
  if (!text || state.busy) return;
  $("message").value = "";
  send(text);
});
$("stop").addEventListener("click", () => { if (state.controller) state.controller.abort(); });
$("clear").addEventListener("click", () => {
  state.history = []; state.turns = 0; $("log").textContent = ""; $("status").textContent = "";
});
</script>
</body>
</html>
"""

__all__ = ["CHAT_PAGE"]
