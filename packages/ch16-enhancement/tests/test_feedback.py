"""Feedback logs: malformed lines named by number; pairs; learning from corrections."""

from __future__ import annotations

import json

import pytest

from ch16_enhancement.feedback import Feedback, read_feedback, training_pairs
from llmpath_core import UserError


def test_malformed_lines_are_named_by_number(tmp_path):
    log = tmp_path / "feedback.jsonl"
    log.write_text(
        "\n".join(
            [
                json.dumps({"prompt": "1+1=", "response": "2", "rating": "up"}),
                "{not json",
                json.dumps({"prompt": "2+2=", "response": "5", "rating": "meh"}),
                "",
                json.dumps({"prompt": "3+3=", "rating": "down"}),
            ]
        )
    )
    with pytest.raises(UserError) as info:
        read_feedback(log)
    message = str(info.value)
    assert "line 2: not valid JSON" in message
    assert "line 3: 'rating'" in message
    assert "line 5: 'response' missing" in message
    assert "line 1" not in message and "\n" not in message


def test_training_pairs_keep_likes_and_corrections():
    records = [
        Feedback("1+1=", "2", 1),
        Feedback("2+2=", "5", -1, "4"),
        Feedback("3+3=", "7", -1),
    ]
    assert training_pairs(records) == [("1+1=", "2"), ("2+2=", "4")]


def test_cli_feedback_bad_log_exits_2_and_good_log_lowers_the_loss(tmp_path):
    from typer.testing import CliRunner

    from ch16_enhancement.cli import app
    from llmpath_core.bench import run_json

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a", "response": "b", "rating": "up"}\n[1, 2]\n')
    done = CliRunner().invoke(app, ["feedback", "--log", str(bad), "--json"])
    assert done.exit_code == 2
    assert "line 2: not a JSON object" in done.stderr and "Traceback" not in done.stderr

    good = tmp_path / "good.jsonl"
    rows = [
        {"prompt": f"{a}+{b}=", "response": "0", "rating": "down", "correction": str(a + b)}
        for a in range(3)
        for b in range(3)
    ]
    good.write_text("\n".join(json.dumps(r) for r in rows))
    result, _ = run_json(app, ["feedback", "--log", str(good), "--steps", "15", "--json"])
    assert result["pairs"] == 9
    assert result["loss_after_last_step"] < 0.5 * result["loss_before"]
