"""Meeting minutes: WER vs jiwer, action items with stated precision/recall, speech, LLM path."""

from __future__ import annotations

import shutil

import jiwer
import jsonschema
import pytest

from ch17_serving.minutes import (
    MINUTES_SCHEMA,
    action_item_scores,
    extract_minutes,
    llm_minutes,
    minutes_markdown,
    scripted_meeting,
    synthesize_speech,
    transcribe,
    word_error_rate,
)


@pytest.mark.parametrize(
    ("ref", "hyp"),
    [
        ("the cat sat on the mat", "the cat sit on mat now"),
        ("a b c d", "d c b a"),
        ("Alice will send it", "alice will send it"),
        ("one", ""),
    ],
)
def test_wer_matches_jiwer(ref, hyp):
    assert (
        word_error_rate(ref, hyp)
        == pytest.approx(jiwer.wer(ref.lower(), hyp.lower() or " "), abs=1e-9)
        if hyp
        else word_error_rate(ref, hyp) == 1.0
    )


def test_action_items_precision_recall_on_scripted_meetings():
    """Over 20 scripted meetings (4 phrasings, 4 kinds of distractor): P = R = 1, dates right."""
    totals = {"precision": 0.0, "recall": 0.0, "due_accuracy": 0.0}
    for seed in range(20):
        meeting = scripted_meeting(seed)
        got = extract_minutes(meeting.transcript)
        scores = action_item_scores(got.action_items, meeting.action_items)
        for k in totals:
            totals[k] += scores[k] / 20
        assert got.decisions == meeting.decisions
    assert totals == pytest.approx({"precision": 1.0, "recall": 1.0, "due_accuracy": 1.0})


def test_scoring_catches_a_wrong_extractor():
    meeting = scripted_meeting(1)
    naive = extract_minutes(meeting.transcript.replace("will", "would"))
    scores = action_item_scores(naive.action_items, meeting.action_items)
    assert scores["recall"] < 1.0


def test_markdown_streams_line_by_line():
    lines = list(minutes_markdown(extract_minutes(scripted_meeting(0).transcript)))
    assert lines[0] == "# Meeting minutes\n" and any(x.startswith("- [ ] **") for x in lines)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_speech_round_trip_wer(tmp_path):
    text = "We decided to ship version two next month"
    wav = synthesize_speech(text, tmp_path / "a.wav")
    heard = transcribe(wav)
    wer = word_error_rate(text, heard)
    assert wer == pytest.approx(jiwer.wer(text.lower(), heard.lower() or " "))
    assert wer < 0.9  # pocketsphinx on synthetic speech is rough, but it hears something
    silence = tmp_path / "s.wav"
    synthesize_speech(" ", silence)
    assert word_error_rate(text, transcribe(silence)) >= 0.9


def test_llm_minutes_through_our_server_follow_the_schema(server):
    from ch17_serving.client import ResilientClient

    client = ResilientClient(server.url + "/v1", "sk-test-good")
    minutes = llm_minutes(client, scripted_meeting(0).transcript, max_tokens=170)
    jsonschema.validate(
        {
            "summary": minutes.summary[0],
            "decisions": minutes.decisions,
            "action_items": [a.__dict__ for a in minutes.action_items],
        },
        {
            **MINUTES_SCHEMA,
            "properties": {**MINUTES_SCHEMA["properties"], "action_items": {"type": "array"}},
        },
    )
    assert client.ledger.requests == 1 and client.ledger.completion_tokens > 0
