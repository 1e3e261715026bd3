"""Compare trained models on the same held-out text, with paired standard errors.

Two models that share a tokenizer see exactly the same evaluation windows, so their difference
can be measured window by window (``llmpath_core.models.paired_difference``): each window's own
difficulty cancels, and a difference far smaller than either model's own error bar is resolved.
That is how llmpath's model card shows that capacity matters (a 4x larger model of the same
recipe, the 10x smaller draft model) with an honest error bar.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from llmpath_core import UserError


def _load(path: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not (path / "config.json").is_file():
        raise UserError(f"{path} is not a model folder (no config.json)")
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True).eval()
    return model, tokenizer


def compare_models(
    models: list[tuple[str, str | os.PathLike]],
    *,
    source: str = "mix:validation",
    max_chars: int | None = 200_000,
    seq_len: int | None = None,
) -> dict[str, Any]:
    """Evaluate ``(label, folder)`` models on ``source``; each later model is paired with the first.

    Returns ``{"source", "max_chars", "models": [...], "paired": [...]}``: every model's loss,
    bits per byte and their standard errors, and for each model after the first its difference
    from the first (``b - a``) with the paired standard error. Models whose tokenizer differs
    from the first one's cannot be paired (their windows differ) and get no paired row.
    """
    from llmpath_core.models import evaluate_lm, paired_difference, summary

    if len(models) < 1:
        raise UserError("give at least one model folder to compare")
    results, rows, paired = [], [], []
    for label, folder in models:
        model, tokenizer = _load(Path(folder))
        if seq_len is None:
            seq_len = min(256, model.config.max_position_embeddings)
        result = evaluate_lm(model, tokenizer, source, seq_len=seq_len, max_chars=max_chars)
        n_params = sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
        results.append(result)
        rows.append(
            {"label": label, "path": str(folder), "parameters": n_params, **summary(result)}
        )
    base = results[0]
    for row, result in zip(rows[1:], results[1:], strict=True):
        if result["window_bytes"] != base["window_bytes"]:
            continue
        diff = paired_difference(base, result)
        paired.append({"label": row["label"], "versus": rows[0]["label"], **diff})
    return {"source": source, "max_chars": max_chars, "models": rows, "paired": paired}


__all__ = ["compare_models"]
