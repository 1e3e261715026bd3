"""Sampling chains from the policy, counting model calls and generated tokens.

One *model call* is one generation request for one prompt (a chain, or one step of a chain in
tree search), whatever its length; *tokens* are the generated tokens, the unit of test-time
compute on the README's plot. Prompts are left-padded into batches and decoded with
``transformers``' ``generate`` (KV cache); ``temperature=0`` is greedy decoding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import LlamaForCausalLM

    from ch12_reasoning.policy import CharTokenizer


@dataclass
class Counter:
    """Model calls and generated tokens spent so far."""

    calls: int = 0
    tokens: int = 0


def sample(
    model: LlamaForCausalLM,
    tok: CharTokenizer,
    prompts: Sequence[str],
    *,
    temperature: float = 1.0,
    top_k: int = 0,
    max_new_tokens: int = 48,
    stop: str = "",
    batch_size: int = 256,
    counter: Counter | None = None,
    lengths: list[int] | None = None,
) -> list[str]:
    """One continuation per prompt (text after the prompt, without the end token).

    ``lengths``, if given, receives each continuation's generated-token count (end token
    included), in order.

    ``stop`` adds characters that end a continuation (``";"`` for one step); the stop character
    is kept in the text. ``top_k > 0`` samples from the ``top_k`` most likely tokens only (0 = the
    whole distribution). Randomness comes from torch's global generator (seed it for repeats).
    """
    import torch

    out: list[str] = []
    stop_ids = [tok.eos_id, *(tok.id(c) for c in stop)]
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start : start + batch_size]
        enc = [[tok.bos_id, *tok.encode(p)] for p in chunk]
        width = max(len(e) for e in enc)
        ids = torch.full((len(enc), width), tok.pad_id)
        mask = torch.zeros((len(enc), width), dtype=torch.long)
        for i, e in enumerate(enc):
            ids[i, width - len(e) :] = torch.tensor(e)
            mask[i, width - len(e) :] = 1
        kwargs = (
            {"do_sample": True, "temperature": temperature, "top_k": top_k, "top_p": 1.0}
            if temperature > 0
            else {"do_sample": False}
        )
        with torch.no_grad():
            gen = model.generate(
                input_ids=ids,
                attention_mask=mask,
                max_new_tokens=max_new_tokens,
                eos_token_id=stop_ids,
                pad_token_id=tok.pad_id,
                **kwargs,
            )
        for row in gen[:, width:].tolist():
            text, n = [], 0
            for t in row:
                if t == tok.pad_id:
                    break
                n += 1
                if t == tok.eos_id:
                    break
                text.append(tok.chars[t])
                if t in stop_ids:
                    break
            out.append("".join(text))
            if lengths is not None:
                lengths.append(n)
            if counter is not None:
                counter.calls += 1
                counter.tokens += n
    return out
