"""ragas' LLM metrics through an OpenAI-compatible judge: a fake judge server written here answers
ragas' own prompts deterministically, and the scores ragas computes from those answers must equal
the metric formulas applied to the same canned verdicts.

The fake judge reads the input block ragas puts at the end of each prompt (``input: {...}``) and:
statements = the answer's sentences; a statement is supported (verdict 1) iff its text occurs in
the context; a context is useful for precision iff a reference sentence occurs in it; a reference
sentence is attributed for recall iff it occurs in the context; the question generated for answer
relevancy is ``What is <response>?``. Run this file as a script to serve the fake judge on a port
(``python tests/test_ch18_ragas_llm.py 8765``: what the README's example output used).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import numpy as np
import pytest

from ch18_rag.embeddings import Embedder
from ch18_rag.ragas_eval import Judge, ragas_llm_scores
from llmpath_core import UserError

MARKER = "Now perform the same with the following input\ninput: "


def _norm(text: str) -> str:
    return " ".join(text.lower().strip().rstrip(".").split())


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


def fake_judgement(prompt: str) -> dict:
    """The judge's JSON answer to one of ragas' prompts (chosen by the output schema's title)."""
    data = json.loads(prompt.rsplit(MARKER, 1)[1].rsplit("\nOutput:", 1)[0])
    if '"title": "StatementGeneratorOutput"' in prompt:
        return {"statements": _sentences(data["answer"])}
    if '"title": "NLIStatementOutput"' in prompt:
        context = _norm(data["context"])
        return {
            "statements": [
                {"statement": s, "reason": "text match", "verdict": int(_norm(s) in context)}
                for s in data["statements"]
            ]
        }
    if '"title": "ContextPrecisionOutput"' in prompt:
        context = _norm(data["context"])
        useful = any(_norm(s) in context for s in _sentences(data["answer"]))
        return {"reason": "text match", "verdict": int(useful)}
    if '"title": "ContextRecallOutput"' in prompt:
        context = _norm(data["context"])
        return {
            "classifications": [
                {"statement": s, "reason": "text match", "attributed": int(_norm(s) in context)}
                for s in _sentences(data["answer"])
            ]
        }
    if '"title": "AnswerRelevanceOutput"' in prompt:
        return {"question": f"What is {data['response'].rstrip('.')}?", "noncommittal": 0}
    raise ValueError("unknown prompt")


class FakeJudge(BaseHTTPRequestHandler):
    requests: ClassVar[list[dict]] = []
    garbage: ClassVar[bool] = False

    def log_message(self, *args):
        pass

    def _send(self, code: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # /v1/models
        self._send(200, {"object": "list", "data": [{"id": "fake-judge", "object": "model"}]})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeJudge.requests.append(
            {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
        )
        prompt = next(m["content"] for m in body["messages"] if m["role"] == "user")
        content = "no idea" if FakeJudge.garbage else json.dumps(fake_judgement(prompt))
        self._send(
            200,
            {
                "id": "fake",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            },
        )


@pytest.fixture
def judge_url():
    FakeJudge.requests.clear()
    FakeJudge.garbage = False
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeJudge)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SUPPORTED = {
    "user_input": "What is the capital of Zed?",
    "response": "The capital of Zed is Quo. Zed was founded in 1432.",
    "retrieved_contexts": [
        "Zed was founded in 1432.",
        "Yam is a river.",
        "The capital of Zed is Quo.",
    ],
    "reference": "The capital of Zed is Quo.",
}
UNSUPPORTED = {
    "user_input": "What is the capital of Zed?",
    "response": "The capital of Zed is Ulo. Zed was founded in 1432. Zed has no army.",
    "retrieved_contexts": ["Zed was founded in 1432.", "The capital of Zed is Quo."],
    "reference": "The capital of Zed is Quo. Zed has two moons.",
}


def average_precision(verdicts: list[int]) -> float:
    hits = [sum(verdicts[: i + 1]) / (i + 1) for i, v in enumerate(verdicts) if v]
    return sum(hits) / len(hits) if hits else 0.0


def test_llm_metrics_equal_the_formulas_for_canned_verdicts(judge_url):
    embedder = Embedder()
    judge = Judge(judge_url, "fake-judge", api_key="sk-test")
    rows = ragas_llm_scores([SUPPORTED, UNSUPPORTED], judge, embedder=embedder)

    # supported: both statements occur in the context -> 2/2; only the 3rd context holds the
    # reference -> verdicts [0, 0, 1]; the reference's one sentence is in the context -> 1/1
    # unsupported: only "Zed was founded in 1432." is in the context -> 1/3; verdicts [0, 1];
    # one of the two reference sentences is in the context -> 1/2
    expected = [
        {"faithfulness": 2 / 2, "precision": [0, 0, 1], "recall": 1 / 1},
        {"faithfulness": 1 / 3, "precision": [0, 1], "recall": 1 / 2},
    ]
    for row, want, sample in zip(rows, expected, [SUPPORTED, UNSUPPORTED], strict=True):
        assert row["faithfulness"] == pytest.approx(want["faithfulness"], abs=1e-12)
        assert row["llm_context_precision"] == pytest.approx(
            average_precision(want["precision"]), abs=1e-9
        )  # ragas adds 1e-10 to the denominator
        assert row["llm_context_recall"] == pytest.approx(want["recall"], abs=1e-12)
        # answer relevancy: cosine of MiniLM(question) and MiniLM(the judge's question), 3 times
        q, generated = embedder.encode(
            [sample["user_input"], f"What is {sample['response'].rstrip('.')}?"]
        )
        cosine = float(np.dot(q, generated) / np.linalg.norm(q) / np.linalg.norm(generated))
        assert row["answer_relevancy"] == pytest.approx(cosine, abs=1e-6)
    assert rows[0]["faithfulness"] > rows[1]["faithfulness"]

    # what went over the wire: ragas' calls, all to the chat endpoint, with our model and key
    per_sample = [2 + 3 + 1 + 3, 2 + 2 + 1 + 3]  # statements+verdicts, precision, recall, rel.
    assert len(FakeJudge.requests) == sum(per_sample)
    for r in FakeJudge.requests:
        assert r["path"] == "/v1/chat/completions"
        assert r["body"]["model"] == "fake-judge"
        assert r["auth"] == "Bearer sk-test"
        assert r["body"]["response_format"] == {"type": "json_object"}


def test_without_embedder_no_answer_relevancy(judge_url):
    rows = ragas_llm_scores([UNSUPPORTED], Judge(judge_url, "fake-judge"))
    assert set(rows[0]) == {"faithfulness", "llm_context_precision", "llm_context_recall"}
    assert rows[0]["faithfulness"] == pytest.approx(1 / 3, abs=1e-12)
    assert FakeJudge.requests[0]["auth"] == "Bearer none"


def test_judge_failures_are_one_line_user_errors(judge_url):
    FakeJudge.garbage = True
    with pytest.raises(UserError, match="no valid JSON answer") as bad:
        ragas_llm_scores([SUPPORTED], Judge(judge_url, "fake-judge"))
    assert "\n" not in str(bad.value)
    dead = f"http://127.0.0.1:{_closed_port()}/v1"
    with pytest.raises(UserError, match="cannot reach") as down:
        Judge(dead, "m").check()
    assert "\n" not in str(down.value)
    with pytest.raises(UserError, match="cannot reach") as down:
        ragas_llm_scores([SUPPORTED], Judge(dead, "m"))
    assert "\n" not in str(down.value)


def test_cli_judge_errors_exit_2():
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    dead = f"http://127.0.0.1:{_closed_port()}/v1"
    for args, message in [
        (["--judge-url", dead, "--judge-model", "m"], "cannot reach"),
        (["--judge-url", dead], "both --judge-url"),
        (["--judge-url", dead, "--judge-model", "m", "--judge-key-env", "NO_SUCH_VAR"], "not set"),
    ]:
        done = subprocess.run(
            [sys.executable, "-m", "ch18_rag.cli", "eval", "--ragas", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert done.returncode == 2, done.stderr
        assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


if __name__ == "__main__":  # serve the fake judge: python tests/test_ch18_ragas_llm.py PORT
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8765
    print(f"fake judge on http://127.0.0.1:{port}/v1", flush=True)
    ThreadingHTTPServer(("127.0.0.1", port), FakeJudge).serve_forever()
