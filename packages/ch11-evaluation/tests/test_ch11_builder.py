"""The benchmark builder finds duplicates, leaks and contamination, and registers clean tasks."""

from __future__ import annotations

import json

import pytest

from ch11_evaluation.builder import register_task, validate_task
from ch11_evaluation.tasks import load_task
from llmpath_core import UserError, load_text


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_checks_find_what_was_planted(tmp_path):
    corpus = load_text("stories", split="train", max_chars=20_000)
    words = corpus.split()
    copied = " ".join(words[100:120])  # 20 words straight from the training text
    rows = [
        {"question": "What colour is grass?", "choices": ["green", "blue"], "answer": 0},
        {"question": "what colour is GRASS", "choices": ["green", "red"], "answer": 0},
        {
            "question": "Tom had a kite. What did Tom have?",
            "choices": ["a kite", "a cat"],
            "answer": 0,
        },
        {"question": f"{copied} What happened?", "choices": ["this", "that"], "answer": 1},
        {"question": "How many legs has a bird?", "choices": ["four", "two"], "answer": 1},
    ]
    v = validate_task(_write(tmp_path / "t.jsonl", rows), corpus=corpus)
    assert v.duplicates == [[1, 2]]
    assert v.answer_leaks == [3]
    assert v.contaminated == [4]
    assert v.gold_position_counts == {0: 3, 1: 2}
    assert not v.passed
    with pytest.raises(UserError, match="did not pass validation"):
        register_task(tmp_path / "t.jsonl", tmp_path / "reg", "bad", v)


def test_clean_task_registers_and_runs(tmp_path, default_lm):
    rows = [json.loads(line) for line in (load_task("mmlu").path.read_text().splitlines()[:8])]
    path = _write(tmp_path / "clean.jsonl", rows)
    v = validate_task(
        path, corpus=load_text("stories", split="train", max_chars=20_000), lm=default_lm
    )
    assert v.passed and v.duplicates == [] and v.contaminated == []
    assert 0 <= v.difficulty["n_correct"] <= 8
    target = register_task(path, tmp_path / "reg", "story-facts", v)
    manifest = json.loads((tmp_path / "reg" / "registry.json").read_text())
    assert manifest["story-facts"]["n"] == 8 and target.read_text() == path.read_text()
    assert len(load_task(f"mc:{target}").items) == 8


def test_schema_errors_name_the_line(tmp_path):
    path = _write(
        tmp_path / "t.jsonl",
        [
            {"question": "q", "choices": ["a", "b"], "answer": 0},
            {"question": "q2", "choices": ["a"], "answer": 0},
        ],
    )
    with pytest.raises(UserError, match=r"t.jsonl:2: 'choices' must list at least two"):
        validate_task(path)
