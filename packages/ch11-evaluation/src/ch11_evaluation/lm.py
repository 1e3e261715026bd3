"""Models under evaluation: any Hugging Face causal LM folder, or an OpenAI-compatible endpoint.

Both answer the two questions a harness asks (the same interface as lm-eval's ``LM``):

- ``loglikelihood([(context, continuation), ...])`` → ``[(logprob, is_greedy), ...]``: the summed
  log-probability of the continuation's tokens given the context, and whether greedy decoding
  would have produced exactly those tokens;
- ``generate_until([(context, stop_strings), ...], max_gen_toks)`` → greedy completions cut at the
  first stop string.

:class:`HFCausalLM` tokenizes the way lm-eval's ``HFLM`` does, so the numbers agree: trailing
spaces of the context move to the continuation, the pair is encoded whole and the continuation's
tokens are what the whole has beyond the encoded context, and the input is left-truncated to the
model's context length (``max_position_embeddings``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmpath_core import UserError


def split_pair(tokenizer: Any, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """Token ids of ``context`` and of ``continuation`` as lm-eval splits a causal LM's pair."""
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces:
        continuation = context[-n_spaces:] + continuation
        context = context[:-n_spaces]
    whole = tokenizer.encode(context + continuation)
    ctx = tokenizer.encode(context)
    return ctx, whole[len(ctx) :]


def check_model_folder(path: str | Path) -> Path:
    """A clear UserError unless ``path`` is a HF model folder with weights and a tokenizer."""
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"model folder not found: {path}")
    if not (path / "config.json").is_file():
        raise UserError(f"{path} is not a Hugging Face model folder (no config.json)")
    tok_files = ("tokenizer.json", "tokenizer.model", "vocab.json", "tokenizer_config.json")
    if not any((path / f).is_file() for f in tok_files):
        raise UserError(
            f"{path} has no tokenizer (tokenizer.json or tokenizer.model): save the tokenizer "
            "into the model folder with tokenizer.save_pretrained(...)"
        )
    return path


class HFCausalLM:
    """A causal LM from a folder (or an already loaded ``model, tokenizer`` pair)."""

    def __init__(self, model: Any, tokenizer: Any, *, name: str = "model", device: Any = "cpu"):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        self.device = device
        self.max_length = int(getattr(model.config, "max_position_embeddings", 2048))
        eos = tokenizer.eos_token_id
        self.eos_token_id = eos if eos is not None else model.config.eos_token_id

    @classmethod
    def from_folder(cls, path: str | Path | None = None, device: Any = "cpu") -> HFCausalLM:
        """Load ``path`` (default: llmpath's default model) in float32, offline."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from llmpath_core import default_model_path

        path = check_model_folder(path if path is not None else default_model_path())
        try:
            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(
                path, local_files_only=True, dtype="float32"
            )
        except (OSError, ValueError) as exc:
            raise UserError(
                f"cannot load the model in {path}: {str(exc).splitlines()[0]}"
            ) from None
        return cls(model.to(device), tokenizer, name=path.name, device=device)

    def _logits(self, ids: list[int]):
        import torch

        with torch.no_grad():
            x = torch.tensor([ids], device=self.device)
            return self.model(input_ids=x).logits[0].float()

    def loglikelihood(self, requests: list[tuple[str, str]]) -> list[tuple[float, bool]]:
        """Summed log p(continuation | context) and greedy-match, one pair at a time."""
        import torch

        out = []
        for context, continuation in requests:
            if not context:
                raise UserError("an empty context cannot be scored")
            ctx, cont = split_pair(self.tokenizer, context, continuation)
            if not cont:
                raise UserError(f"the continuation {continuation!r} encodes to no tokens")
            ids = (ctx + cont)[-(self.max_length + 1) :][:-1]
            logprobs = torch.log_softmax(self._logits(ids), dim=-1)[-len(cont) :]
            target = torch.tensor(cont, device=logprobs.device)
            chosen = logprobs.gather(1, target[:, None])[:, 0]
            greedy = bool((logprobs.argmax(-1) == target).all())
            out.append((float(chosen.sum()), greedy))
        return out

    def generate_until(
        self, requests: list[tuple[str, list[str]]], max_gen_toks: int = 64
    ) -> list[str]:
        """Greedy continuations, stopped at end-of-text or the first stop string."""
        if max_gen_toks >= self.max_length:
            raise UserError(f"max_gen_toks {max_gen_toks} must be below the context length")
        results = []
        for context, until in requests:
            ids = self.tokenizer.encode(context)[-(self.max_length - max_gen_toks) :]
            new: list[int] = []
            for _ in range(max_gen_toks):
                nxt = int(self._logits(ids + new)[-1].argmax())
                new.append(nxt)
                if nxt == self.eos_token_id:
                    break
                text = self.tokenizer.decode(new, skip_special_tokens=True)
                if any(stop in text for stop in until):
                    break
            text = self.tokenizer.decode(new, skip_special_tokens=True)
            for stop in until:
                text = text.split(stop)[0]
            results.append(text)
        return results


@dataclass
class EndpointLM:
    """An OpenAI-compatible completions endpoint (vLLM, llama.cpp server, TGI...).

    ``loglikelihood`` needs ``echo=True`` with ``logprobs`` (as lm-eval's ``local-completions``
    model does); servers that do not support it answer with an error, which becomes a UserError.
    """

    model: str
    base_url: str
    api_key: str = "EMPTY"
    name: str = "endpoint"

    def _client(self):
        from openai import OpenAI

        return OpenAI(base_url=self.base_url, api_key=self.api_key, max_retries=0, timeout=60)

    def loglikelihood(self, requests: list[tuple[str, str]]) -> list[tuple[float, bool]]:
        client = self._client()
        out = []
        for context, continuation in requests:
            try:
                r = client.completions.create(
                    model=self.model,
                    prompt=context + continuation,
                    max_tokens=0,
                    echo=True,
                    logprobs=1,
                    temperature=0,
                )
            except Exception as exc:  # the endpoint's own error, in one line
                raise UserError(f"endpoint {self.base_url}: {str(exc).splitlines()[0]}") from None
            lp = r.choices[0].logprobs
            offsets, tokens = lp.text_offset, lp.token_logprobs
            start = next(i for i, o in enumerate(offsets) if o >= len(context))
            total = sum(tokens[start:])
            greedy = all(
                max(top, key=top.get) == tok
                for tok, top in zip(lp.tokens[start:], lp.top_logprobs[start:], strict=True)
            )
            out.append((float(total), greedy))
        return out

    def generate_until(
        self, requests: list[tuple[str, list[str]]], max_gen_toks: int = 64
    ) -> list[str]:
        client = self._client()
        out = []
        for context, until in requests:
            try:
                r = client.completions.create(
                    model=self.model,
                    prompt=context,
                    max_tokens=max_gen_toks,
                    temperature=0,
                    stop=until[:4] or None,
                )
            except Exception as exc:
                raise UserError(f"endpoint {self.base_url}: {str(exc).splitlines()[0]}") from None
            text = r.choices[0].text
            for stop in until:
                text = text.split(stop)[0]
            out.append(text)
        return out


def load_lm(model: str | None, *, base_url: str | None = None, device: Any = "cpu"):
    """A model folder (default: llmpath's default model) or, with ``base_url``, an endpoint."""
    if base_url:
        if not model:
            raise UserError("--base-url needs --model NAME (the endpoint's model name)")
        return EndpointLM(model=model, base_url=base_url, name=model)
    return HFCausalLM.from_folder(model, device=device)
