"""ch14-inference: an inference engine from scratch.

A paged KV cache with copy-on-write (:mod:`~ch14_inference.block_manager`), a Llama forward that
attends over it (:mod:`~ch14_inference.model`), a continuous-batching scheduler with chunked
prefill and preemption (:mod:`~ch14_inference.scheduler`), the engine loop
(:mod:`~ch14_inference.engine`), speculative decoding (:mod:`~ch14_inference.speculative`), KV
memory accounting (:mod:`~ch14_inference.memory`), an HTTP server with SSE streaming and a load
generator (:mod:`~ch14_inference.server`, :mod:`~ch14_inference.load`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# names are imported on first use (PEP 562), so `ch14-inference --help` does not import torch
_WHERE = {
    "BlockAllocator": "block_manager",
    "BlockManager": "block_manager",
    "OutOfBlocksError": "block_manager",
    "CompletionOutput": "engine",
    "EngineConfig": "engine",
    "LLMEngine": "engine",
    "RequestOutput": "engine",
    "load_model": "engine",
    "PagedLlama": "model",
    "SamplingParams": "sampling",
    "next_token_probs": "sampling",
    "sample": "sampling",
    "Scheduler": "scheduler",
    "SchedulerConfig": "scheduler",
    "Sequence": "scheduler",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(f"ch14_inference.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ch14_inference' has no attribute {name!r}")


if TYPE_CHECKING:
    from ch14_inference.block_manager import BlockAllocator, BlockManager, OutOfBlocksError
    from ch14_inference.engine import (
        CompletionOutput,
        EngineConfig,
        LLMEngine,
        RequestOutput,
        load_model,
    )
    from ch14_inference.model import PagedLlama
    from ch14_inference.sampling import SamplingParams, next_token_probs, sample
    from ch14_inference.scheduler import Scheduler, SchedulerConfig, Sequence

__all__ = [
    "BlockAllocator",
    "BlockManager",
    "CompletionOutput",
    "EngineConfig",
    "LLMEngine",
    "OutOfBlocksError",
    "PagedLlama",
    "RequestOutput",
    "SamplingParams",
    "Scheduler",
    "SchedulerConfig",
    "Sequence",
    "load_model",
    "next_token_probs",
    "sample",
]
