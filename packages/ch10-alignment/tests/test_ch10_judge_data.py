"""The programmatic judge, the pairs file reader and the CLI's bad-input exits."""

from __future__ import annotations

import json

import pytest

from ch10_alignment.data import Pair, load_pairs, save_pairs, split_prompts
from ch10_alignment.judge import KeywordJudge, MultiJudge
from llmpath_core import UserError


def test_judge_prefers_target_words_and_penalises_banned():
    j = KeywordJudge()
    assert j.score("She smiled, happy with her friend.") == 3
    assert j.score("He cried and was sad.") == -2
    assert j.prefer("they had fun", "they were sad") == 1.0
    assert j.prefer("they were sad", "they had fun") == 0.0
    assert j.prefer("a cat", "a dog") == 0.5


HACK = " happy happy happy happy love love love smile smile smile happy happy"
SENTENCE = " She smiled and gave her friend a big hug."


def test_multi_judge_no_longer_rewards_repeating_target_words():
    """The RL runs' hack (repeat target words) wins under the keyword judge, loses under multi."""
    kw, multi = KeywordJudge(), MultiJudge()  # no fluency scorer: heuristics alone
    assert kw.score(HACK) == 12 and kw.score(SENTENCE) == 3
    assert kw.prefer(HACK, SENTENCE) == 1.0
    d = multi.dimensions(HACK)
    # 3 distinct targets capped at 2; 3 distinct words of 12 -> repetition -2 * 0.75
    assert d["keywords"] == 2 and d["repetition"] == pytest.approx(-1.5)
    assert d["total"] == pytest.approx(0.5) and d["fluency"] == 0.0
    assert multi.score(SENTENCE) == pytest.approx(2.0)
    assert multi.prefer(SENTENCE, HACK) == 1.0 and multi.prefer(HACK, SENTENCE) == 0.0
    # listing every target word earns no more than two of them; short texts lose on length
    assert multi.dimensions(" happy smile love kind friend fun glad")["keywords"] == 2
    assert multi.dimensions(" happy")["length"] == pytest.approx(-5 / 6)
    assert multi.dimensions(" sad and alone")["banned"] == -2
    for t in (HACK, SENTENCE, " the the the the the the"):
        parts = multi.dimensions(t)
        assert parts["total"] == pytest.approx(
            sum(parts[k] for k in ("keywords", "banned", "repetition", "length", "fluency"))
        )


def test_prompt_split_is_disjoint():
    train, held = split_prompts(seed=0)
    assert len(held) == 48 and len(train) > 100
    assert not set(train) & set(held)


def test_pairs_roundtrip(tmp_path):
    pairs = [Pair("p", "good", "bad"), Pair("q", "a", "b")]
    save_pairs(pairs, tmp_path / "x.jsonl")
    assert load_pairs(tmp_path / "x.jsonl") == pairs


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "no preference pairs"),
        ('{"prompt": "p", "chosen": "same", "rejected": "same"}\n', "identical"),
        ('{"prompt": "p", "chosen": "x"}\n', "need string fields"),
        ("not json\n", "not JSON"),
    ],
)
def test_bad_pairs_files(tmp_path, text, needle):
    path = tmp_path / "bad.jsonl"
    path.write_text(text)
    with pytest.raises(UserError, match=needle):
        load_pairs(path)


@pytest.mark.parametrize(("command", "bad"), [("dpo", "empty"), ("reward-model", "same")])
def test_cli_bad_input_exit_2(cli, tmp_path, command, bad):
    data = tmp_path / "bad.jsonl"
    row = {"prompt": "p", "chosen": "x", "rejected": "x"}
    data.write_text("" if bad == "empty" else json.dumps(row) + "\n")
    out = tmp_path / "out"
    r = cli(command, "--data", str(data), "--out", str(out), "--json")
    assert r.returncode == 2, r.stderr
    assert "error" in json.loads(r.stdout.strip().splitlines()[-1])
    assert not out.exists()


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["rl", "--algo", "a2c"], "--algo must be grpo, rloo or ppo"),
        (["rl", "--reward", "human"], "--reward must be judge or rm"),
        (["rl", "--steps", "0"], "--steps must be at least 1"),
        (["rl", "--judge", "human"], "--judge must be keyword or multi"),
        (["frontier", "--checkpoints", "x"], "comma-separated integers"),
        (["frontier", "--rl-algo", "dqn"], "--rl-algo must be"),
        (["trl-compare", "--algo", "ppo"], "--algo must be dpo, grpo or rloo"),
    ],
)
def test_new_commands_reject_bad_options_with_exit_2(tmp_path, argv, needle):
    from ch10_alignment.cli import app
    from llmpath_core.bench import run_captured

    out = tmp_path / "out"
    code, stdout, stderr = run_captured(app, [*argv, "--out", str(out), "--json"])
    assert code == 2, (stdout, stderr)
    assert needle in stdout + stderr
    assert not out.exists()
