"""Helpers for the tests of llmpath packages: one implementation instead of a copy per chapter.

Each package's ``tests/conftest.py`` imports what it needs from here:

- :func:`use_offline_env` — Hugging Face offline, no tokenizers fork warnings, a headless
  matplotlib backend (call it at import time, before transformers is imported);
- :func:`torch_threads` — run a block on N torch intra-op threads, then restore the old count;
- :func:`run_cli` / :func:`cli_runner` — run a console script in a real subprocess, offline, on
  one thread, without progress bars;
- :func:`tiny_llama` — a tiny random ``LlamaForCausalLM``, identical for identical arguments;
- :func:`byte_tokenizer` and :func:`train_byte_bpe` — byte-level tokenizers (no merges, or BPE
  trained on text) as ``PreTrainedTokenizerFast``.

Nothing heavy is imported at module level: importing this module does not import torch.
The pytest markers (``gpu``, ``slow``) and the per-package time table live in
:mod:`llmpath_core.pytest_plugin`.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

#: Environment every llmpath test runs under: the hub is unreachable offline, and a lookup would
#: retry for ~30 s before failing.
OFFLINE_ENV: dict[str, str] = {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "MPLBACKEND": "Agg",
}

#: Added to the environment of a console script run by :func:`run_cli`.
CLI_ENV: dict[str, str] = {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "OMP_NUM_THREADS": "1",
    "LLMPATH_PROGRESS": "0",
}

EOS = "<|endoftext|>"


def use_offline_env() -> None:
    """Set :data:`OFFLINE_ENV` in ``os.environ`` where a variable is not already set."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)


@contextmanager
def torch_threads(n: int = 1) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads, then restore the previous count.

    Tiny models run fastest on one thread, and a CI machine's cores are shared.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_cli(
    module: str,
    *args: str,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m <module> <args>`` in this interpreter, capturing text stdout and stderr.

    The child gets ``os.environ`` plus :data:`CLI_ENV` plus ``env``. It never raises on a non-zero
    exit code: tests assert on ``returncode``, ``stdout`` (the ``--json`` object) and ``stderr``.
    """
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **CLI_ENV, **(env or {})},
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


def cli_runner(module: str, **defaults: Any) -> Callable[..., subprocess.CompletedProcess[str]]:
    """:func:`run_cli` bound to one console-script module: ``cli("train", "--json")``."""
    return functools.partial(run_cli, module, **defaults)


def tiny_llama(
    seed: int = 0,
    *,
    vocab: int = 300,
    hidden: int = 64,
    layers: int = 2,
    heads: int = 4,
    kv_heads: int | None = None,
    ctx: int = 128,
    tie: bool = False,
    bos: int | None = None,
    eos: int | None = None,
    pad: int | None = None,
    head_scale: float | None = None,
) -> LlamaForCausalLM:
    """A tiny random ``LlamaForCausalLM`` in eval mode, seeded with ``torch.manual_seed(seed)``.

    ``intermediate_size`` is ``2 * hidden``; ``kv_heads`` defaults to ``heads`` (no GQA).
    ``head_scale`` multiplies the (untied) output head: random init gives near-uniform logits,
    and a larger scale makes greedy argmax ties impossible in fp32.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads if kv_heads is None else kv_heads,
        max_position_embeddings=ctx,
        tie_word_embeddings=tie,
        bos_token_id=bos,
        eos_token_id=eos,
        pad_token_id=pad,
    )
    model = LlamaForCausalLM(config).eval()
    if head_scale is not None:
        with torch.no_grad():
            model.lm_head.weight.mul_(head_scale)
    return model


def _fast(tokenizer: Any, *, bos: bool) -> PreTrainedTokenizerFast:
    from transformers import PreTrainedTokenizerFast

    special = {"eos_token": EOS, "pad_token": EOS}
    if bos:
        special["bos_token"] = EOS
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, **special)


def byte_tokenizer(*, bos: bool = False) -> PreTrainedTokenizerFast:
    """A byte-level tokenizer with no merges: id 0 is ``<|endoftext|>`` (eos and pad, and bos
    if ``bos``), ids 1..256 the bytes in the order of ``ByteLevel.alphabet()`` sorted."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {EOS: 0, **{c: i + 1 for i, c in enumerate(alphabet)}}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    return _fast(tok, bos=bos)


def train_byte_bpe(
    texts: Iterable[str], vocab_size: int = 300, *, bos: bool = True
) -> PreTrainedTokenizerFast:
    """A byte-level BPE (GPT-2 style, no prefix space) trained on ``texts`` with HF tokenizers.

    ``<|endoftext|>`` is id 0 and serves as eos and pad (and bos if ``bos``).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(texts), trainer)
    return _fast(tok, bos=bos)
