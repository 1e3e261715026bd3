"""The instruction-dataset pipeline: seeds -> generation -> filters -> scores -> JSONL.

:func:`build_dataset` runs the stages and returns the funnel (how many records each stage let
through) with the records. Every record carries ``provenance``: which generator made it (task
template, rule evolution, self-instruct or evol-instruct with which model and prompt hash,
or a planted bad record), with seed and index. The same seed gives the same file.

The language-model stage is the slow one, so it is **resumable**: each record it makes is
appended to ``OUT.partial.jsonl`` as soon as it exists, and a rerun with the same settings reads
that file back and generates only the records still missing. The final JSONL is written
atomically and the partial file removed, so a killed run never leaves a half-written dataset.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ch08_instruction_data.filters import FilterConfig, apply_filters
from ch08_instruction_data.quality import RuleJudge, score_record
from ch08_instruction_data.tasks import SEEDS, evolve_in_depth, plant_noise, template_records
from llmpath_core.errors import UserError
from llmpath_core.io import atomic_write

#: planted noise of a default build: about a third of the records are bad in some way
DEFAULT_NOISE: dict[str, float] = {
    "wrong": 0.15,
    "mismatched": 0.15,
    "refusal": 0.03,
    "empty": 0.03,
    "runaway": 0.02,
    "leak": 0.02,
    "duplicate": 0.04,
    "near_duplicate": 0.04,
    "foreign": 0.02,
    "seed_copy": 0.02,
}


def read_jsonl(path: str | Path, required: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The objects of a JSONL file; a bad line raises :class:`UserError` naming its number."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no such file: {path}")
    records = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UserError(f"{path}: line {number} is not valid JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise UserError(f"{path}: line {number} is not a JSON object")
            for key in required:
                if not isinstance(obj.get(key), str):
                    raise UserError(f"{path}: line {number} has no string field {key!r}")
            records.append(obj)
    return records


def write_jsonl(path: str | Path, records: Sequence[dict[str, Any]]) -> None:
    """Write ``records`` as JSONL, atomically."""
    with atomic_write(path) as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")


@dataclass
class BuildConfig:
    """What :func:`build_dataset` makes (the defaults run in seconds on a CPU)."""

    template_records: int = 600
    evolved: int = 30  # records made by rule evolution (in-depth, reasoning steps)
    self_instruct: int = 4  # records asked of the language model by self-instruct
    evol_instruct: int = 4  # ... and by evol-instruct
    noise: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_NOISE))
    seed: int = 0
    filters: FilterConfig = field(default_factory=FilterConfig)


def _lm_stage(
    completer_factory: Callable[[], Any] | None,
    config: BuildConfig,
    partial: Path | None,
    log: Callable[[str], None],
) -> tuple[list[dict[str, Any]], int]:
    """LM-made records, resumed from ``partial``; returns (records, how many were generated now)."""
    from ch08_instruction_data.generate import lm_record

    jobs = [("self-instruct", i) for i in range(config.self_instruct)]
    jobs += [("evol-instruct", i) for i in range(config.evol_instruct)]
    if not jobs or completer_factory is None:
        return [], 0
    done: dict[tuple[str, int], dict[str, Any]] = {}
    if partial is not None and partial.is_file():
        for record in read_jsonl(partial, ("instruction", "response")):
            p = record.get("provenance", {})
            if p.get("seed") == config.seed:
                done[(p.get("generator"), p.get("index"))] = record
        if done:
            log(f"resuming: {len(done)} language-model records read from {partial}")
    pool = [s["instruction"] for s in SEEDS]
    completer = None
    made = 0
    records = []
    for method, index in jobs:
        record = done.get((method, index))
        if record is None:
            completer = completer or completer_factory()
            record = lm_record(completer, method, index, pool, seed=config.seed)
            made += 1
            if partial is not None:
                with open(partial, "a", encoding="utf-8") as f:
                    f.write(json.dumps(record, ensure_ascii=False) + "\n")
        records.append(record)
    return records, made


def build_dataset(
    out: str | Path | None = None,
    config: BuildConfig | None = None,
    *,
    completer_factory: Callable[[], Any] | None = None,
    judge=None,
    log: Callable[[str], None] = lambda message: None,
) -> dict[str, Any]:
    """Run the pipeline; write the kept, scored records to ``out`` (JSONL) if given.

    ``completer_factory`` makes the language model for self-instruct and evol-instruct (None
    skips that stage). Returns ``{"funnel", "records", "removed"}``.
    """
    config = config or BuildConfig()
    judge = judge or RuleJudge()
    generated = template_records(config.template_records, config.seed)
    rng = random.Random(f"{config.seed}:evolve")
    evolved = []
    for record in generated:
        if len(evolved) >= config.evolved:
            break
        child = evolve_in_depth(record, rng)
        if child is not None:
            child["provenance"]["parent"] = f"templates:{record['provenance']['index']}"
            evolved.append(child)
    partial = Path(str(out) + ".partial.jsonl") if out is not None else None
    lm_records, made = _lm_stage(completer_factory, config, partial, log)
    candidates = plant_noise(generated + evolved, config.noise, config.seed) + lm_records
    filtered = apply_filters(candidates, [s["instruction"] for s in SEEDS], config.filters)
    kept = []
    for i, record in enumerate(filtered.kept):
        scores = score_record(record, judge)
        kept.append(
            {
                "id": f"ch08-{config.seed}-{i:05d}",
                "instruction": record["instruction"],
                "response": record["response"],
                "messages": [
                    {"role": "user", "content": record["instruction"]},
                    {"role": "assistant", "content": record["response"]},
                ],
                "provenance": record["provenance"],
                "scores": scores,
            }
        )
    funnel = {
        "seeds": len(SEEDS),
        "generated_templates": len(generated),
        "generated_evolved": len(evolved),
        "generated_lm": len(lm_records),
        "lm_generated_this_run": made,
        **filtered.funnel,
        "judge": judge.name,
        "mean_score": sum(r["scores"]["score"] for r in kept) / max(1, len(kept)),
    }
    if out is not None:
        write_jsonl(out, kept)
        if partial is not None and partial.exists():
            partial.unlink()
    return {"funnel": funnel, "records": kept, "removed": filtered.removed}


def top_scored(records: Sequence[dict[str, Any]], fraction: float) -> list[dict[str, Any]]:
    """The best ``fraction`` of records by score (ties keep file order): AlpaGasus' selection."""
    if not 0 < fraction <= 1:
        raise UserError("the fraction of records to keep must be in (0, 1]")
    k = max(1, round(fraction * len(records)))
    order = sorted(range(len(records)), key=lambda i: (-records[i]["scores"]["score"], i))
    return [records[i] for i in sorted(order[:k])]


def select_by_score(
    records: Sequence[dict[str, Any]], min_score: float = 4.5
) -> list[dict[str, Any]]:
    """The records whose score is at least ``min_score`` (AlpaGasus kept ratings >= 4.5)."""
    return [r for r in records if r["scores"]["score"] >= min_score]


__all__ = [
    "DEFAULT_NOISE",
    "BuildConfig",
    "build_dataset",
    "read_jsonl",
    "select_by_score",
    "top_scored",
    "write_jsonl",
]
