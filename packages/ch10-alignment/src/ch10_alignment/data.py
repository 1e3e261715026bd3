"""Prompts from the bundled stories, sampled continuations, and preference pairs judged."""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

from ch10_alignment.judge import KeywordJudge
from llmpath_core import UserError


@dataclass(frozen=True)
class Pair:
    """One preference: the prompt, the preferred continuation and the other one."""

    prompt: str
    chosen: str
    rejected: str


def story_prompts(n_words: int = 8) -> list[str]:
    """Distinct prompts: the first ``n_words`` words of each bundled tiny story."""
    from llmpath_core import tiny_stories

    seen: dict[str, None] = {}
    for doc in tiny_stories():
        words = doc.split()
        if len(words) > n_words:
            seen.setdefault(" ".join(words[:n_words]), None)
    return list(seen)


def split_prompts(seed: int = 0, n_heldout: int = 48) -> tuple[list[str], list[str]]:
    """(train prompts, held-out prompts), shuffled with ``seed``; the two never share a prompt."""
    prompts = story_prompts()
    random.Random(seed).shuffle(prompts)
    return prompts[n_heldout:], prompts[:n_heldout]


def sample_continuations(
    model, tokenizer, prompts: list[str], *, n: int, max_new_tokens: int, seed: int, batch: int = 32
) -> list[list[str]]:
    """``n`` sampled continuations (temperature 1, no top-k) of each prompt, decoded text only."""
    import torch

    torch.manual_seed(seed)
    tokenizer.padding_side = "left"
    out: list[list[str]] = []
    flat = [p for p in prompts for _ in range(n)]
    texts: list[str] = []
    model.eval()
    with torch.no_grad():
        for start in range(0, len(flat), batch):
            chunk = flat[start : start + batch]
            enc = tokenizer(chunk, return_tensors="pt", padding=True).to(model.device)
            gen = model.generate(
                **enc,
                do_sample=True,
                top_k=0,
                max_new_tokens=max_new_tokens,
                pad_token_id=tokenizer.eos_token_id,
            )
            new = gen[:, enc["input_ids"].shape[1] :]
            texts.extend(tokenizer.batch_decode(new, skip_special_tokens=True))
    for i in range(len(prompts)):
        out.append(texts[i * n : (i + 1) * n])
    return out


def make_pairs(
    model,
    tokenizer,
    prompts: list[str],
    judge: KeywordJudge,
    *,
    n: int = 4,
    max_new_tokens: int = 24,
    seed: int = 0,
) -> list[Pair]:
    """Best vs worst of ``n`` samples per prompt by ``judge``; all-tie prompts are dropped."""
    pairs = []
    for prompt, conts in zip(
        prompts,
        sample_continuations(
            model, tokenizer, prompts, n=n, max_new_tokens=max_new_tokens, seed=seed
        ),
        strict=True,
    ):
        scored = sorted(conts, key=judge.score)
        if judge.score(scored[-1]) > judge.score(scored[0]):
            pairs.append(Pair(prompt, scored[-1], scored[0]))
    return pairs


def load_pairs(path: str | Path) -> list[Pair]:
    """Preference pairs from a JSONL of ``{prompt, chosen, rejected}``; bad input: UserError."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"preference file not found: {path}")
    pairs = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}:{lineno}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict) or not all(
            isinstance(row.get(k), str) for k in ("prompt", "chosen", "rejected")
        ):
            raise UserError(f"{path}:{lineno}: need string fields prompt, chosen, rejected")
        if row["chosen"] == row["rejected"]:
            raise UserError(f"{path}:{lineno}: chosen and rejected are identical")
        if not row["chosen"] or not row["rejected"]:
            raise UserError(f"{path}:{lineno}: empty chosen or rejected")
        pairs.append(Pair(row["prompt"], row["chosen"], row["rejected"]))
    if not pairs:
        raise UserError(f"{path}: no preference pairs")
    return pairs


def save_pairs(pairs: list[Pair], path: str | Path) -> None:
    """Write pairs as JSONL (atomically)."""
    from llmpath_core import atomic_write

    text = "".join(json.dumps(asdict(p)) + "\n" for p in pairs)
    with atomic_write(path) as f:
        f.write(text)
