"""Constrained decoding: a small local model that can only emit schema-valid function calls.

The decoder walks the grammar of a call list, ``[{"name": N, "arguments": {...}}, ...]`` or
``[]``, built from the offered functions' JSON Schemas. At each point the model either

- **chooses** among the few continuations the grammar allows (call or no call; which function;
  include an optional parameter or not; an enum value; ``true``/``false``; another call or
  ``]``), scored by the sum of the model's log-probabilities of each option's tokens; or
- **generates** a free value under a token mask: a string from tokens without ``"``, ``\\`` or
  line breaks (the model closes it by preferring the ``"`` token); a number from digit tokens
  (and ``-``, ``.``), clamped to the schema's ``minimum``/``maximum``.

Required parameters are always emitted, names and keys come from the schema, and types follow
the schema, so every output parses and validates (``jsonschema``) by construction: the
benchmark checks 100% schema validity. Whether the calls are *right* depends on the model: the
default model (trained on stories) knows nothing of tools; :func:`finetune` teaches it the
format and the mapping from requests on the bundled benchmark's training split (other seed).

Text is tokenized piece by piece (the prompt, each literal, each value) both here and in the
fine-tune, so the model is scored on exactly the token sequences it was trained on.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ch19_agents.calls import to_json_schema

START_CALL = '[{"name": "'
NEXT_CALL = ', {"name": "'
ARGS_OPEN = '", "arguments": {'


def prompt_text(question: str, functions: list[dict[str, Any]]) -> str:
    """The prompt: offered tool names and the request."""
    names = ", ".join(f["name"] for f in functions)
    return f"Tools: {names}\nUser: {question}\nCalls: "


def _props(fn: dict[str, Any]) -> tuple[dict[str, Any], list[str], list[str]]:
    schema = to_json_schema(fn["parameters"])
    props = schema.get("properties", {})
    required = [p for p in props if p in schema.get("required", [])]
    optional = [p for p in props if p not in required]
    return props, required, optional


def _value_pieces(value: Any, schema: dict[str, Any]) -> list[str]:
    t = schema.get("type")
    if "enum" in schema or t == "boolean":
        return [json.dumps(value)]
    if t == "string":
        return ['"', str(value), '"']
    if t in ("integer", "number"):
        return [str(int(value)) if t == "integer" else str(float(value))]
    if t == "array":
        pieces = ["["]
        for i, item in enumerate(value):
            if i:
                pieces.append(", ")
            pieces += _value_pieces(item, schema.get("items", {"type": "string"}))
        return [*pieces, "]"]
    return [json.dumps(value)]


def call_pieces(calls: list[dict[str, Any]], functions: list[dict[str, Any]]) -> list[str]:
    """The decoder's piece sequence for ``calls`` (what the fine-tune trains on)."""
    if not calls:
        return ["[]"]
    by_name = {f["name"]: f for f in functions}
    pieces: list[str] = []
    for i, call in enumerate(calls):
        pieces += [START_CALL if i == 0 else NEXT_CALL, call["name"], ARGS_OPEN]
        props, required, optional = _props(by_name[call["name"]])
        first = True
        for p in [*required, *optional]:
            if p not in call["arguments"]:
                continue
            pieces.append(('"' if first else ', "') + p + '": ')
            pieces += _value_pieces(call["arguments"][p], props[p])
            first = False
        pieces.append("}}")
    return [*pieces, "]"]


@dataclass
class ConstrainedCaller:
    """Schema-constrained function calling with a causal LM and its tokenizer."""

    model: Any
    tokenizer: Any
    max_string_tokens: int = 12
    max_calls: int = 4

    def __post_init__(self) -> None:
        import torch

        self.model.eval()
        vocab = self.tokenizer.convert_ids_to_tokens(list(range(len(self.tokenizer))))
        special = set(self.tokenizer.all_special_ids)
        texts = [self.tokenizer.decode([i]) for i in range(len(vocab))]
        self.quote = self._ids('"')[0]
        ok = torch.zeros(len(texts), dtype=torch.bool)
        digits = torch.zeros(len(texts), dtype=torch.bool)
        for i, s in enumerate(texts):
            if i in special or not s:
                continue
            ok[i] = s.isprintable() and '"' not in s and "\\" not in s
            digits[i] = s.isdigit()
        self.string_mask = ok
        self.digit_mask = digits
        self.cache: dict[str, list[int]] = {}

    # -------------------------------------------------------------- model helpers

    def _ids(self, text: str) -> list[int]:
        if not hasattr(self, "cache"):
            return self.tokenizer.encode(text, add_special_tokens=False)
        if text not in self.cache:
            self.cache[text] = self.tokenizer.encode(text, add_special_tokens=False)
        return self.cache[text]

    def _logits(self, ids: list[int], state: dict | None = None):
        """Next-token logits after ``ids``; ``state`` keeps a KV cache across growing prefixes."""
        import torch

        with torch.no_grad():
            if state is not None and state.get("ids") and ids[: len(state["ids"])] == state["ids"]:
                new = ids[len(state["ids"]) :]
                out = self.model(
                    torch.tensor([new]), past_key_values=state["cache"], use_cache=True
                )
            else:
                out = self.model(torch.tensor([ids]), use_cache=state is not None)
            if state is not None:
                state["ids"], state["cache"] = list(ids), out.past_key_values
            return out.logits[0, -1].float()

    def _choose(self, prefix: list[int], options: list[str]) -> int:
        """Index of the option whose tokens are most likely after ``prefix``."""
        import torch

        if len(options) == 1:
            return 0
        seqs = [self._ids(o) for o in options]
        longest = max(len(s) for s in seqs)
        batch = torch.tensor([prefix + s + [0] * (longest - len(s)) for s in seqs])
        mask = torch.tensor([[1] * (len(prefix) + len(s)) + [0] * (longest - len(s)) for s in seqs])
        with torch.no_grad():
            logp = torch.log_softmax(self.model(batch, attention_mask=mask).logits.float(), -1)
        scores = []
        for b, s in enumerate(seqs):
            pos = torch.arange(len(prefix) - 1, len(prefix) - 1 + len(s))
            scores.append(logp[b, pos, torch.tensor(s)].sum().item())
        return max(range(len(options)), key=lambda i: scores[i])

    def _gen_string(self, prefix: list[int]) -> tuple[str, list[int]]:
        out: list[int] = []
        state: dict = {}
        for _ in range(self.max_string_tokens):
            logits = self._logits(prefix + out, state)
            masked = logits.masked_fill(~self.string_mask, -math.inf)
            best = int(masked.argmax())
            if out and logits[self.quote] >= masked[best]:
                break
            out.append(best)
        return self.tokenizer.decode(out), out

    def _gen_number(self, prefix: list[int], schema: dict[str, Any], stops: list[str]):
        integer = schema.get("type") == "integer"
        stop_ids = {self._ids(s)[0] for s in stops}
        minus, dot = self._ids("-")[0], self._ids(".")[0]
        text = ""
        ids: list[int] = []
        state: dict = {}
        for _ in range(6):
            logits = self._logits(prefix + ids, state)
            allowed = self.digit_mask.clone()
            if not text and schema.get("minimum", -1) < 0:
                allowed[minus] = True
            if not integer and text and "." not in text and text != "-":
                allowed[dot] = True
            masked = logits.masked_fill(~allowed, -math.inf)
            best = int(masked.argmax())
            if (
                text.strip("-")
                and (not text.endswith("."))
                and max(logits[i] for i in stop_ids) >= masked[best]
            ):
                break
            ids.append(best)
            text += self.tokenizer.decode([best])
        text = text.rstrip(".") or "0"
        if text == "-":
            text = "0"
        value: float | int = int(float(text)) if integer else float(text)
        lo, hi = schema.get("minimum"), schema.get("maximum")
        if lo is not None and value < lo:
            value = type(value)(lo)
        if hi is not None and value > hi:
            value = type(value)(hi)
        return value, self._ids(str(value))

    def _value(self, prefix: list[int], schema: dict[str, Any], stops: list[str]):
        t = schema.get("type")
        if "enum" in schema:
            opts = [json.dumps(v) for v in schema["enum"]]
            i = self._choose(prefix, opts)
            return schema["enum"][i], self._ids(opts[i])
        if t == "boolean":
            i = self._choose(prefix, ["true", "false"])
            return i == 0, self._ids(["true", "false"][i])
        if t in ("integer", "number"):
            return self._gen_number(prefix, schema, stops)
        if t == "array":
            items = schema.get("items", {"type": "string"})
            ids = self._ids("[")
            values = []
            for k in range(3):
                v, vids = self._value(prefix + ids, items, [", ", "]"])
                values.append(v)
                ids += vids
                if k == 2 or self._choose(prefix + ids, ["]", ", "]) == 0:
                    break
                ids += self._ids(", ")
            return values, ids + self._ids("]")
        if t == "object":
            return {}, self._ids("{}")
        ids = self._ids('"')
        text, sids = self._gen_string(prefix + ids)
        return text, ids + sids + self._ids('"')

    # -------------------------------------------------------------- the call list

    def generate(
        self, question: str, functions: list[dict[str, Any]], force: bool = False
    ) -> list[dict[str, Any]]:
        """The calls for ``question`` (``[]`` for none; ``force``: at least one call)."""
        ids = self._ids(prompt_text(question, functions))
        if not force and self._choose(ids, ["[]", START_CALL]) == 0:
            return []
        ids += self._ids(START_CALL)
        calls = []
        names = [f["name"] for f in functions]
        by_name = {f["name"]: f for f in functions}
        while True:
            i = self._choose(ids, names)
            name = names[i]
            ids += self._ids(name) + self._ids(ARGS_OPEN)
            props, required, optional = _props(by_name[name])
            args: dict[str, Any] = {}
            order = [*required, *optional]
            for k, p in enumerate(order):
                key_piece = ('"' if not args else ', "') + p + '": '
                if p in optional:
                    later = [', "' + q + '": ' for q in order[k + 1 :]]
                    if self._choose(ids, [key_piece, "}}", *later]) != 0:
                        continue
                ids += self._ids(key_piece)
                follow = ["}}", *[', "' + q + '": ' for q in order[k + 1 :]]]
                value, vids = self._value(ids, props[p], follow)
                args[p] = value
                ids += vids
            ids += self._ids("}}")
            calls.append({"name": name, "arguments": args})
            if len(calls) >= self.max_calls or self._choose(ids, ["]", NEXT_CALL]) == 0:
                return calls
            ids += self._ids(NEXT_CALL)


def training_ids(tokenizer, question, functions, calls) -> tuple[list[int], list[int]]:
    """(input ids, labels) for one example: loss only on the call pieces, then end of text."""
    prompt = tokenizer.encode(prompt_text(question, functions), add_special_tokens=False)
    target: list[int] = []
    for piece in call_pieces(calls, functions):
        target += tokenizer.encode(piece, add_special_tokens=False)
    target.append(tokenizer.eos_token_id)
    return prompt + target, [-100] * len(prompt) + target


def finetune(
    out: str | Path,
    steps: int = 150,
    n_train: int = 30,
    batch_size: int = 8,
    lr: float = 3e-3,
    seed: int = 0,
    device: str = "cpu",
    progress: bool = False,
) -> dict[str, Any]:
    """Fine-tune the default model on the benchmark's training split; save an HF folder."""
    import torch

    from ch19_agents.benchdata import make_cases, oracle_calls
    from llmpath_core import atomic_dir, load_default_model, seed_everything

    seed_everything(seed)
    model, tok = load_default_model(device)
    train = make_cases(n_train, seed=1000 + seed)
    examples = [training_ids(tok, c["question"], c["function"], oracle_calls(c)) for c in train]
    limit = model.config.max_position_embeddings
    examples = [e for e in examples if len(e[0]) <= limit]  # the model's context
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 20) * max(0.05, 1 - s / steps)
    )
    rng = random.Random(seed)
    losses = []
    for step in range(steps):
        batch = rng.sample(examples, min(batch_size, len(examples)))
        width = max(len(x) for x, _ in batch)
        inp = torch.tensor([x + [0] * (width - len(x)) for x, _ in batch], device=device)
        lab = torch.tensor([y + [-100] * (width - len(y)) for _, y in batch], device=device)
        att = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x, _ in batch], device=device)
        loss = model(input_ids=inp, attention_mask=att, labels=lab).loss
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
        if progress and step % 25 == 0:
            print(f"step {step} loss {loss.item():.3f}")
    model.eval()
    with atomic_dir(out) as tmp:
        model.to("cpu").save_pretrained(tmp)
        tok.save_pretrained(tmp)
        (Path(tmp) / "ch19_finetune.json").write_text(
            json.dumps(
                {
                    "steps": steps,
                    "n_train": len(examples),
                    "batch_size": batch_size,
                    "lr": lr,
                    "seed": seed,
                    "first_loss": losses[0],
                    "last_loss": sum(losses[-20:]) / min(20, len(losses)),
                },
                indent=1,
            )
        )
    return {
        "out": str(out),
        "steps": steps,
        "first_loss": round(losses[0], 4),
        "last_loss": round(sum(losses[-20:]) / min(20, len(losses)), 4),
    }
