"""Synthetic instructions from a language model: self-instruct and evol-instruct prompts.

- **Self-instruct** (Wang et al., 2023): show the model eight tasks from the pool (six seeds, two
  generated ones) as ``Task 1: ... Task 8:`` and let it write ``Task 9``; then ask it to answer
  each new task with an Alpaca-style prompt.
- **Evol-instruct** (Xu et al., 2023, WizardLM): ask the model to rewrite an instruction into a
  harder one (in depth: add a constraint, deepen, concretize, add reasoning steps) or a new one
  in the same domain (in breadth), with the paper's prompt wording.

Any completion model works through one method, ``complete(prompt, max_new_tokens, seed)``: a
Hugging Face causal LM folder (:class:`HFCompleter`, default: llmpath's default model) or any
OpenAI-compatible endpoint (:class:`OpenAICompleter`, e.g. vLLM, llama.cpp's server, ch17).
The default model is a 3.4M-parameter story model, so what it writes is mostly caught by the
filters: that is the lab's lesson about weak generators, and a real endpoint plugs in unchanged.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Sequence
from typing import Any, Protocol

from ch08_instruction_data.tasks import make_record
from llmpath_core.errors import UserError


class Completer(Protocol):
    """Anything that continues a prompt."""

    name: str

    def complete(self, prompt: str, max_new_tokens: int, seed: int) -> str: ...


class HFCompleter:
    """A Hugging Face causal LM: top-k sampling with a seeded torch generator."""

    def __init__(self, model=None, tokenizer=None, *, path: str | None = None, device="cpu"):
        if model is None:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            from llmpath_core import default_model_path

            folder = path or default_model_path()
            tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True)
            model = model.to(device).eval()
            self.name = str(path or "llmpath-default")
        else:
            self.name = getattr(model.config, "_name_or_path", "") or "hf-model"
        self.model, self.tokenizer = model, tokenizer

    def complete(self, prompt: str, max_new_tokens: int, seed: int) -> str:
        import torch

        ids = self.tokenizer(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"]
        limit = getattr(self.model.config, "max_position_embeddings", 2048) - max_new_tokens
        ids = ids[:, -limit:].to(next(self.model.parameters()).device)
        torch.manual_seed(seed)
        with torch.inference_mode():
            out = self.model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=max_new_tokens,
                do_sample=True,
                use_cache=True,
                top_k=50,
                temperature=0.8,
                pad_token_id=self.tokenizer.eos_token_id,
            )
        return self.tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)


class OpenAICompleter:
    """An OpenAI-compatible ``/v1/completions`` endpoint (``openai`` client)."""

    def __init__(self, base_url: str, model: str, api_key: str = "EMPTY", timeout: float = 60):
        from openai import OpenAI

        self.client = OpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=1)
        self.model = model
        self.name = f"{model}@{base_url}"

    def complete(self, prompt: str, max_new_tokens: int, seed: int) -> str:
        import openai

        try:
            reply = self.client.completions.create(
                model=self.model,
                prompt=prompt,
                max_tokens=max_new_tokens,
                temperature=0.8,
                seed=seed,
            )
        except openai.OpenAIError as exc:
            raise UserError(f"the endpoint failed: {type(exc).__name__}: {exc}") from None
        return reply.choices[0].text


def self_instruct_prompt(pool: Sequence[str], rng: random.Random, n_shown: int = 8) -> str:
    """The self-instruct instruction-generation prompt, ending at ``Task {n_shown + 1}:``."""
    shown = rng.sample(list(pool), min(n_shown, len(pool)))
    lines = ["Come up with a series of tasks:", ""]
    lines += [f"Task {i}: {task}" for i, task in enumerate(shown, start=1)]
    lines.append(f"Task {len(shown) + 1}:")
    return "\n".join(lines)


def parse_tasks(text: str) -> list[str]:
    """The instructions in a self-instruct completion: the first line, then ``Task N:`` lines."""
    parts = re.split(r"\n?Task \d+:", text)
    tasks = [p.strip().split("\n")[0].strip() for p in parts]
    return [t for t in tasks if t]


EVOL_METHODS: dict[str, str] = {
    "constraints": "Please add one more constraints/requirements into #The Given Prompt#.",
    "deepen": "If #The Given Prompt# contains inquiries about certain issues, the depth and "
    "breadth of the inquiry can be increased.",
    "concretize": "Please replace general concepts with more specific concepts.",
    "reasoning": "If #The Given Prompt# can be solved with just a few simple thinking processes, "
    "you can rewrite it to explicitly request multiple-step reasoning.",
}


def evol_prompt(instruction: str, method: str) -> str:
    """WizardLM's evol-instruct prompt: in depth (a method of :data:`EVOL_METHODS`) or breadth."""
    if method == "breadth":
        return (
            "I want you act as a Prompt Creator.\n"
            "Your goal is to draw inspiration from the #Given Prompt# to create a brand new "
            "prompt. This new prompt should belong to the same domain as the #Given Prompt# but "
            "be even more rare.\n"
            "#Given Prompt#:\n"
            f"{instruction}\n"
            "#Created Prompt#:\n"
        )
    if method not in EVOL_METHODS:
        raise UserError(f"unknown evol method {method!r}: {', '.join([*EVOL_METHODS, 'breadth'])}")
    return (
        "I want you act as a Prompt Rewriter.\n"
        "Your objective is to rewrite a given prompt into a more complex version to make those "
        "famous AI systems (e.g., chatgpt and GPT4) a bit harder to handle.\n"
        "But the rewritten prompt must be reasonable and must be understood and responded by "
        "humans.\n"
        f"{EVOL_METHODS[method]}\n"
        "#The Given Prompt#:\n"
        f"{instruction}\n"
        "#Rewritten Prompt#:\n"
    )


def response_prompt(instruction: str) -> str:
    """The Alpaca prompt that asks for a response to ``instruction``."""
    return (
        "Below is an instruction that describes a task. Write a response that appropriately "
        f"completes the request.\n\n### Instruction:\n{instruction}\n\n### Response:\n"
    )


def _first_block(text: str) -> str:
    return re.split(r"\n\s*\n|###|#[A-Z]", text, maxsplit=1)[0].strip()


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def lm_record(
    completer: Completer,
    method: str,
    index: int,
    pool: Sequence[str],
    seed: int = 0,
    max_new_tokens: int = 48,
) -> dict[str, Any]:
    """Record ``index`` of a self-instruct (``method="self-instruct"``) or evol-instruct run.

    Deterministic for ``(seed, method, index)`` given a deterministic completer; the record's
    provenance holds the generator, the model, the evol method and a hash of each prompt.
    """
    rng = random.Random(f"{seed}:{method}:{index}")
    if method == "self-instruct":
        prompt = self_instruct_prompt(pool, rng)
        tasks = parse_tasks(completer.complete(prompt, max_new_tokens, seed * 100_003 + index))
        instruction = tasks[0] if tasks else ""
        extra: dict[str, Any] = {}
    elif method == "evol-instruct":
        parent = rng.choice(list(pool))
        evolution = rng.choice([*EVOL_METHODS, "breadth"])
        prompt = evol_prompt(parent, evolution)
        text = completer.complete(prompt, max_new_tokens, seed * 100_003 + index)
        instruction = _first_block(text)
        extra = {"evolution": evolution, "parent": parent}
    else:
        raise UserError(f"unknown generation method {method!r}: self-instruct or evol-instruct")
    answer_prompt = response_prompt(instruction)
    response = _first_block(
        completer.complete(answer_prompt, max_new_tokens, seed * 100_003 + index + 1)
    )
    return make_record(
        instruction,
        response,
        generator=method,
        model=completer.name,
        seed=seed,
        index=index,
        prompt_sha=_sha(prompt),
        response_prompt_sha=_sha(answer_prompt),
        **extra,
    )


__all__ = [
    "EVOL_METHODS",
    "Completer",
    "HFCompleter",
    "OpenAICompleter",
    "evol_prompt",
    "lm_record",
    "parse_tasks",
    "response_prompt",
    "self_instruct_prompt",
]
