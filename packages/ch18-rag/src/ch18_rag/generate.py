"""Generators for answers: a local Hugging Face causal LM (llmpath's default model by default) or
any OpenAI-compatible ``/v1/chat/completions`` endpoint (base URL + model name), both streamed.

The prompt numbers the retrieved chunks by id and asks for an answer that cites them::

    Answer the question using only the context. Cite chunk ids in brackets.
    [pydoc:assert#0] Assert statements are a convenient way ...
    Question: What are assert statements?
    Answer:

llmpath's default model is a 1.7M-parameter Llama trained on children's stories: it runs this
whole path (prompt, streaming, citations) but knows nothing about the documents' subject, so with
it the generator is a plumbing demonstration; the extractive reader gives the real answers.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator

from llmpath_core import UserError


def build_prompt(question: str, hits, max_chars: int = 2000) -> str:
    lines, used = [], 0
    for h in hits:
        text = " ".join(h.text.split())[: max(0, max_chars - used)]
        if not text:
            break
        lines.append(f"[{h.chunk_id}] {text}")
        used += len(text)
    context = "\n".join(lines)
    return (
        "Answer the question using only the context. Cite chunk ids in brackets.\n"
        f"{context}\nQuestion: {question}\nAnswer:"
    )


class HFGenerator:
    """Greedy decoding with a local causal LM folder, or llmpath's default model (``None``)."""

    def __init__(
        self, model: str | os.PathLike | None = None, device: str = "cpu", max_new_tokens: int = 48
    ) -> None:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        if model is None or str(model) == "default":
            from llmpath_core import load_default_model

            self.model, self.tokenizer = load_default_model(device=device)
            self.name = "llmpath-default"
        else:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            try:
                self.tokenizer = AutoTokenizer.from_pretrained(str(model))
                self.model = AutoModelForCausalLM.from_pretrained(str(model)).to(device).eval()
            except OSError as exc:
                raise UserError(f"{model}: not a causal LM folder ({exc})") from None
            self.name = str(model)
        self.device = device
        self.max_new_tokens = max_new_tokens
        self.context = getattr(self.model.config, "max_position_embeddings", 2048)

    def token_ids(self, prompt: str) -> Iterator[int]:
        """Greedy next-token ids with a KV cache (the prompt keeps its last tokens if too long)."""
        import torch

        ids = self.tokenizer(prompt, return_tensors="pt")["input_ids"]
        ids = ids[:, -max(1, self.context - self.max_new_tokens) :].to(self.device)
        eos = self.tokenizer.eos_token_id
        past, step_input = None, ids
        with torch.no_grad():
            for _ in range(self.max_new_tokens):
                out = self.model(input_ids=step_input, past_key_values=past, use_cache=True)
                past = out.past_key_values
                token = int(out.logits[0, -1].argmax())
                if token == eos:
                    return
                yield token
                step_input = torch.tensor([[token]], device=self.device)

    def stream(self, prompt: str) -> Iterator[str]:
        """Text pieces as they are generated (decoded incrementally, so bytes stay whole)."""
        tokens: list[int] = []
        shown = ""
        for token in self.token_ids(prompt):
            tokens.append(token)
            text = self.tokenizer.decode(tokens, skip_special_tokens=True)
            if not text.endswith("\ufffd"):
                yield text[len(shown) :]
                shown = text

    def __call__(self, prompt: str) -> str:
        return "".join(self.stream(prompt))


class OpenAIGenerator:
    """Chat completions from an OpenAI-compatible server (vLLM, llama.cpp, Ollama, OpenAI)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        max_tokens: int = 256,
        timeout: float = 60.0,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.name = f"{model}@{base_url}"
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY", "")
        self.max_tokens = max_tokens
        self.timeout = timeout

    def _request(self, prompt: str, stream: bool):
        body = json.dumps(
            {
                "model": self.model,
                "messages": [{"role": "user", "content": prompt}],
                "max_tokens": self.max_tokens,
                "temperature": 0,
                "stream": stream,
            }
        ).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            raise UserError(f"{self.url}: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise UserError(
                f"{self.url}: cannot reach the endpoint ({getattr(exc, 'reason', exc)})"
            ) from None

    def stream(self, prompt: str) -> Iterator[str]:
        """Server-sent events: ``data: {choices: [{delta: {content}}]}`` until ``data: [DONE]``."""
        with self._request(prompt, stream=True) as response:
            for raw in response:
                line = raw.decode("utf-8").strip()
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                delta = json.loads(data)["choices"][0].get("delta", {}).get("content")
                if delta:
                    yield delta

    def __call__(self, prompt: str) -> str:
        with self._request(prompt, stream=False) as response:
            payload = json.loads(response.read())
        try:
            return payload["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise UserError(f"{self.url}: unexpected response {str(payload)[:200]}") from None


def make_generator(spec: str | None, *, base_url: str | None = None, device: str = "cpu"):
    """``None`` -> no generator; ``default`` -> llmpath's default model; a folder -> HF causal LM;
    with ``base_url``, ``spec`` is the model name on an OpenAI-compatible endpoint."""
    if base_url:
        if not spec:
            raise UserError("--base-url needs --generator MODEL_NAME")
        return OpenAIGenerator(base_url, spec)
    if spec in (None, "", "none", "extractive"):
        return None
    if spec == "default":
        return HFGenerator(None, device=device)
    if not os.path.isdir(spec):
        raise UserError(f"{spec}: no such model folder (use 'default', a folder, or --base-url)")
    return HFGenerator(spec, device=device)


__all__ = ["HFGenerator", "OpenAIGenerator", "build_prompt", "make_generator"]
