"""ch16-enhancement: model enhancement after pretraining.

- :mod:`.rope` — RoPE scaling from scratch (linear/PI, NTK, dynamic NTK, YaRN, llama3), equal to
  transformers' ``ROPE_INIT_FUNCTIONS``;
- :mod:`.passkey`, :mod:`.context` — the context-extension lab (passkey, loss by position);
- :mod:`.merge`, :mod:`.ensemble` — linear, SLERP, task arithmetic, TIES, DARE (equal to mergekit);
  logit and routing ensembles;
- :mod:`.distill`, :mod:`.export` — logit and sequence-level KD of the default model into a
  4-10x smaller student (random or teacher-selected init), ONNX;
- :mod:`.continual` — EWC (Fisher diagonal from per-sample gradients), replay, naive fine-tuning;
- :mod:`.feedback` — learning from a thumbs-up/down/correction JSONL log in periodic updates.

Submodules import torch; ``import ch16_enhancement`` alone does not.
"""

from __future__ import annotations

__version__ = "0.2.0"
