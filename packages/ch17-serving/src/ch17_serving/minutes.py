"""The meeting-minutes app: audio → transcript → structured minutes, streamed as Markdown.

Speech: espeak-ng (Debian) speaks a script into a WAV file, pocketsphinx (PyPI, ships an English
acoustic model and language model) transcribes it offline, and :func:`word_error_rate` (word-level
Levenshtein distance / reference length, the ASR standard) says how well.

Minutes: :func:`extract_minutes` is an offline, rule-based pipeline — decisions are sentences
with a decision verb ("we decided", "agreed", "let's go with"), action items are commitments with
an owner ("Alice will ...", "Bob, can you ...", "I'll ..." said by the speaker, "action item: X to
...") and an optional due date; the summary is the three sentences with the highest content-word
frequency score (Luhn, 1958), in meeting order. :func:`llm_minutes` asks any OpenAI-compatible
endpoint for the same structure under a JSON schema (our server enforces it by constrained
decoding). :func:`scripted_meeting` makes transcripts with known action items, so precision and
recall are measured, not guessed.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
import wave
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from llmpath_core import UserError

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
_DATE = (
    r"(?:(?:next |this )?(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
    r"|tomorrow|today|next week|end of (?:the )?(?:day|week|month)"
    r"|\d{4}-\d{2}-\d{2}"
    r"|(?:January|February|March|April|May|June|July|August|September|October|November|December)"
    r" \d{1,2})"
)
_DUE = re.compile(rf"\b(?:by|before|on|until)\s+({_DATE})\b", re.IGNORECASE)
_NAME = r"[A-Z][a-z]+"
_ACTION_PATTERNS = [
    re.compile(
        rf"^(?:(?i:action item):\s*)?(?P<owner>{_NAME}) (?:will|is going to|to) (?P<task>.+)$"
    ),
    re.compile(rf"^(?P<owner>{_NAME}), (?:can|could) you (?:please )?(?P<task>.+?)\??$"),
    re.compile(r"^(?P<owner>I)(?:'ll| will) (?P<task>.+)$"),
]
_NOT_A_COMMITMENT = re.compile(
    r"\b(?:probably|maybe|might|was|were|yesterday|last week|already)\b", re.IGNORECASE
)
_DECISION = re.compile(
    r"\b(?:we|the team|everyone) (?:decided|agreed|chose)\b|\blet's go with\b|^decision:",
    re.IGNORECASE,
)
_STOPWORDS = set(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "it",
        "this",
        "that",
        "we",
        "you",
        "i",
        "he",
        "she",
        "they",
        "them",
        "our",
        "your",
        "will",
        "can",
        "could",
        "would",
        "should",
        "just",
        "so",
        "then",
        "than",
        "as",
        "not",
        "do",
        "does",
        "did",
        "have",
        "has",
        "had",
        "let's",
        "ok",
        "okay",
        "yes",
        "no",
    ]
)


@dataclass
class ActionItem:
    owner: str
    task: str
    due: str | None = None


@dataclass
class Minutes:
    summary: list[str] = field(default_factory=list)
    decisions: list[str] = field(default_factory=list)
    action_items: list[ActionItem] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


MINUTES_SCHEMA: dict = {
    "type": "object",
    "properties": {
        "summary": {"type": "string", "maxLength": 40},
        "decisions": {"type": "array", "items": {"type": "string", "maxLength": 30}, "maxItems": 1},
        "action_items": {
            "type": "array",
            "maxItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "owner": {"type": "string", "maxLength": 10},
                    "task": {"type": "string", "maxLength": 24},
                    "due": {"type": "string", "maxLength": 10},
                },
            },
        },
    },
}


def utterances(transcript: str) -> list[tuple[str | None, str]]:
    """``(speaker, sentence)`` pairs from ``Speaker: text`` lines (or plain text)."""
    out = []
    for line in transcript.splitlines():
        line = line.strip()
        if not line:
            continue
        speaker = None
        m = re.match(rf"^({_NAME}):\s*(.*)$", line)
        if m:
            speaker, line = m.group(1), m.group(2)
        for sentence in re.split(r"(?<=[.!?])\s+", line):
            if sentence.strip():
                out.append((speaker, sentence.strip()))
    return out


def _action(speaker: str | None, sentence: str) -> ActionItem | None:
    text = sentence.rstrip(".!")
    if _NOT_A_COMMITMENT.search(text):
        return None
    for pattern in _ACTION_PATTERNS:
        m = pattern.match(text)
        if not m:
            continue
        owner = m.group("owner")
        if owner == "I":
            if speaker is None:
                return None
            owner = speaker
        if owner.lower() in {"we", "it", "that", "this", "there", "everyone"}:
            return None
        task = m.group("task").strip()
        due_match = _DUE.search(task)
        due = due_match.group(1) if due_match else None
        if due_match:
            task = (task[: due_match.start()] + task[due_match.end() :]).strip(" ,")
        return ActionItem(owner, task, due)
    return None


def extract_minutes(transcript: str, summary_sentences: int = 3) -> Minutes:
    """Rule-based minutes (offline): summary, decisions, action items with owners and dates."""
    units = utterances(transcript)
    if not units:
        raise UserError("the transcript is empty")
    minutes = Minutes()
    for speaker, sentence in units:
        if _DECISION.search(sentence):
            minutes.decisions.append(sentence)
        item = _action(speaker, sentence)
        if item is not None:
            minutes.action_items.append(item)
    words = [w for _, s in units for w in re.findall(r"[a-z']+", s.lower()) if w not in _STOPWORDS]
    freq = Counter(words)

    def score(sentence: str) -> float:
        tokens = [w for w in re.findall(r"[a-z']+", sentence.lower()) if w not in _STOPWORDS]
        return sum(freq[w] for w in tokens) / (len(tokens) + 1)

    first_seen: dict[str, int] = {}
    for i, (_, sentence) in enumerate(units):
        first_seen.setdefault(sentence, i)  # a repeated sentence counts once
    ranked = sorted(first_seen.values(), key=lambda i: -score(units[i][1]))[:summary_sentences]
    minutes.summary = [units[i][1] for i in sorted(ranked)]
    return minutes


def minutes_markdown(minutes: Minutes, title: str = "Meeting minutes") -> Iterator[str]:
    """The minutes as Markdown, one line at a time (so a UI can stream it)."""
    yield f"# {title}\n"
    yield "\n## Summary\n"
    for s in minutes.summary:
        yield f"- {s}\n"
    yield "\n## Decisions\n"
    for d in minutes.decisions or ["(none recorded)"]:
        yield f"- {d}\n"
    yield "\n## Action items\n"
    if not minutes.action_items:
        yield "- (none recorded)\n"
    for a in minutes.action_items:
        due = f" — due {a.due}" if a.due else ""
        yield f"- [ ] **{a.owner}**: {a.task}{due}\n"


def llm_minutes(
    client: Any, transcript: str, max_tokens: int = 200, max_transcript_chars: int = 200
) -> Minutes:
    """Minutes from any OpenAI-compatible endpoint (a
    :class:`~ch17_serving.client.ResilientClient`),
    asked for :data:`MINUTES_SCHEMA` through ``response_format``. The transcript's last
    ``max_transcript_chars`` are sent (llmpath's default model has a 256-token window)."""
    reply = client.chat(
        [
            {
                "role": "system",
                "content": "Write meeting minutes as JSON: summary, decisions, action_items "
                "(owner, task, due).",
            },
            {"role": "user", "content": transcript[-max_transcript_chars:]},
        ],
        temperature=0,
        max_tokens=max_tokens,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "minutes", "schema": MINUTES_SCHEMA},
        },
    )
    content = reply["choices"][0]["message"]["content"] or ""
    if reply["choices"][0]["finish_reason"] == "length":
        raise UserError("the minutes were cut at max_tokens: raise max_tokens")
    try:
        data = json.loads(content)
    except ValueError as exc:
        raise UserError(f"the endpoint's minutes are not JSON ({exc}): raise max_tokens") from exc
    summary = data.get("summary") or ""
    return Minutes(
        summary=[summary] if isinstance(summary, str) else list(summary),
        decisions=[str(d) for d in data.get("decisions", [])],
        action_items=[
            ActionItem(str(a.get("owner", "")), str(a.get("task", "")), a.get("due") or None)
            for a in data.get("action_items", [])
            if isinstance(a, dict)
        ],
    )


# -- scripted meetings with known answers ----------------------------------------------------

_PEOPLE = ("Alice", "Bob", "Carol", "David", "Erin", "Frank")
_TASKS = (
    "send the budget report",
    "update the release notes",
    "book the venue",
    "review the pull request",
    "call the supplier",
    "draft the press release",
    "fix the login bug",
    "prepare the slides",
)
_FILLER = (
    "Thanks everyone for joining.",
    "The numbers look better than last quarter.",
    "Customers liked the new dashboard.",
    "Support tickets went down this month.",
    "The launch went smoothly overall.",
)
_DISTRACTORS = (
    "{p} was already working on {t}.",
    "{p} might look at {t} at some point.",
    "Last week {p} finished {t}.",
    "It would be nice if someone checked {t}.",
)
_DECISIONS = (
    "We decided to ship version {n} next month.",
    "We agreed to move the standup to ten.",
    "Let's go with the cheaper hosting plan.",
)


@dataclass
class ScriptedMeeting:
    transcript: str
    action_items: list[ActionItem]
    decisions: list[str]


def scripted_meeting(seed: int = 0, n_actions: int = 6) -> ScriptedMeeting:
    """A transcript whose action items (owner, task, due) and decisions are known."""
    rng = random.Random(seed)
    lines, gold, decisions = [], [], []
    lines.append(f"{rng.choice(_PEOPLE)}: {rng.choice(_FILLER)}")
    for i in range(n_actions):
        speaker, owner = rng.sample(_PEOPLE, 2)
        task = rng.choice(_TASKS)
        due = rng.choice(WEEKDAYS)
        form = i % 4
        if form == 0:
            lines.append(f"{speaker}: {owner} will {task} by {due}.")
            gold.append(ActionItem(owner, task, due))
        elif form == 1:
            lines.append(f"{speaker}: {owner}, can you {task} by {due}?")
            gold.append(ActionItem(owner, task, due))
        elif form == 2:
            lines.append(f"{owner}: I'll {task} by {due}.")
            gold.append(ActionItem(owner, task, due))
        else:
            lines.append(f"{speaker}: Action item: {owner} to {task} before {due}.")
            gold.append(ActionItem(owner, task, due))
        lines.append(f"{rng.choice(_PEOPLE)}: {rng.choice(_FILLER)}")
        distractor = rng.choice(_DISTRACTORS).format(
            p=rng.choice(_PEOPLE), t=rng.choice(_TASKS).split(" ", 1)[1]
        )
        lines.append(f"{rng.choice(_PEOPLE)}: {distractor}")
    decision = rng.choice(_DECISIONS).format(n=rng.randint(2, 9))
    lines.append(f"{rng.choice(_PEOPLE)}: {decision}")
    decisions.append(decision)
    return ScriptedMeeting("\n".join(lines), gold, decisions)


def action_item_scores(predicted: list[ActionItem], gold: list[ActionItem]) -> dict:
    """Precision and recall of (owner, task) pairs; ``due_accuracy`` over the matched ones."""

    def key(a: ActionItem) -> tuple[str, str]:
        return a.owner.lower(), " ".join(a.task.lower().split())

    unmatched = list(gold)
    matched: list[tuple[ActionItem, ActionItem]] = []
    for p in predicted:
        hit = next((g for g in unmatched if key(g) == key(p)), None)
        if hit is not None:
            unmatched.remove(hit)
            matched.append((p, hit))
    due_ok = sum(1 for p, g in matched if (p.due or "").lower() == (g.due or "").lower())
    return {
        "precision": len(matched) / len(predicted) if predicted else 0.0,
        "recall": len(matched) / len(gold) if gold else 0.0,
        "due_accuracy": due_ok / len(matched) if matched else 0.0,
        "predicted": len(predicted),
        "gold": len(gold),
    }


# -- speech ---------------------------------------------------------------------------------

SAMPLE_RATE = 16000


def synthesize_speech(text: str, path: str | Path, voice: str = "en-us+m3", wpm: int = 130) -> Path:
    """Speak ``text`` with espeak-ng into a 16 kHz mono 16-bit WAV at ``path``."""
    import numpy as np

    from llmpath_core import atomic_write

    exe = shutil.which("espeak-ng")
    if exe is None:
        raise UserError("espeak-ng is not installed (apt-get install espeak-ng)")
    done = subprocess.run(
        [exe, "-v", voice, "-s", str(wpm), "--stdout", text], capture_output=True, check=False
    )
    if done.returncode != 0:
        raise UserError(f"espeak-ng failed: {done.stderr.decode(errors='replace').strip()}")
    import io

    with wave.open(io.BytesIO(done.stdout)) as w:
        rate = w.getframerate()
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64)
    n = int(len(samples) * SAMPLE_RATE / rate)
    resampled = np.interp(np.arange(n) * rate / SAMPLE_RATE, np.arange(len(samples)), samples)
    path = Path(path)
    with atomic_write(path, mode="wb") as f, wave.open(f, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(resampled.clip(-32768, 32767).astype(np.int16).tobytes())
    return path


def transcribe(path: str | Path) -> str:
    """Offline speech recognition with pocketsphinx's bundled US-English models."""
    import numpy as np
    from pocketsphinx import Decoder

    path = Path(path)
    try:
        with wave.open(str(path)) as w:
            if w.getsampwidth() != 2:
                raise UserError(f"{path}: need 16-bit PCM WAV")
            rate, channels = w.getframerate(), w.getnchannels()
            samples = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    except (wave.Error, EOFError) as exc:
        raise UserError(f"{path}: not a WAV file ({exc})") from exc
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1).astype(np.int16)
    decoder = Decoder(samprate=rate, loglevel="FATAL")
    decoder.start_utt()
    decoder.process_raw(samples.tobytes(), full_utt=True)
    decoder.end_utt()
    hyp = decoder.hyp()
    return hyp.hypstr if hyp is not None else ""


def normalize_words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, by word-level edit distance."""
    ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    if not ref:
        raise UserError("the reference transcript is empty")
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1] / len(ref)


__all__ = [
    "MINUTES_SCHEMA",
    "ActionItem",
    "Minutes",
    "ScriptedMeeting",
    "action_item_scores",
    "extract_minutes",
    "llm_minutes",
    "minutes_markdown",
    "scripted_meeting",
    "synthesize_speech",
    "transcribe",
    "word_error_rate",
]
