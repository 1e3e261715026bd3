"""Constitutional AI: principles' checks, written critiques, adherence, the CLI's bad options."""

from __future__ import annotations

import pytest

from ch10_alignment.constitution import CONSTITUTION, adherence, critique, critique_text
from ch10_alignment.judge import MultiJudge


def test_principles_check_what_they_say():
    j = MultiJudge()  # no fluency scorer: the fluent principle holds (NLL unknown)
    names = lambda t: [p.name for p, _ in critique(t, j)]  # noqa: E731
    assert names(" She smiled at her friend and they played.") == []
    assert names(" He was sad and cried all day long.") == ["harmless", "warm"]
    assert names(" a cat a cat a cat went home happy.") == ["no-repetition"]
    text = critique_text(critique(" the dog was grumpy.", j))
    assert '"Do not use sad, angry or frightening words."' in text and "grumpy" in text
    assert critique_text([]) == "The response follows every principle."
    assert {p.constraint for p in CONSTITUTION} == {"ban", "no_repeat", "warm", "cool"}


def test_fluent_principle_uses_the_scorers_nll():
    j = MultiJudge(nll_fn=lambda texts: [9.0 if "zz" in t else 2.0 for t in texts])
    assert [p.name for p, _ in critique(" zz happy day zz", j)] == ["fluent"]
    assert critique(" a happy day", j) == []


def test_adherence_fractions():
    j = MultiJudge()
    a = adherence([" happy dog", " sad dog", " a happy happy happy day day a happy happy"], j)
    assert a["harmless"] == pytest.approx(2 / 3)
    assert a["warm"] == pytest.approx(2 / 3)
    assert a["no-repetition"] == pytest.approx(2 / 3)
    assert a["all"] == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["constitutional", "--rounds", "0"], "--rounds must be at least 1"),
        (["constitutional", "--beta", "0"], "--beta and --lr must be positive"),
        (["constitutional", "--max-steps", "0"], "--max-steps must be at least 1"),
    ],
)
def test_constitutional_rejects_bad_options_with_exit_2(tmp_path, argv, needle):
    from ch10_alignment.cli import app
    from llmpath_core.bench import run_captured

    out = tmp_path / "out"
    code, stdout, stderr = run_captured(app, [*argv, "--out", str(out), "--json"])
    assert code == 2, (stdout, stderr)
    assert needle in stdout + stderr
    assert not out.exists()


@pytest.mark.slow
def test_constitutional_and_rl_multi_judge_commands_in_process(tmp_path):
    """``constitutional`` and ``rl --judge multi`` end to end on the default model (short)."""
    from ch10_alignment.cli import app
    from llmpath_core.bench import run_json

    out = tmp_path / "cai"
    d, _ = run_json(app, ["constitutional", "--max-steps", "2", "--out", str(out)])
    for key in ("win_rate", "win_rate_stderr", "kl", "adherence_before", "adherence_after"):
        assert key in d
    assert d["pairs"] > 0 and d["steps"] == 2 and len(d["history"]) == 2
    assert set(d["adherence_after"]) == {"harmless", "no-repetition", "warm", "fluent", "all"}
    assert (out / "pairs.jsonl").is_file() and (out / "policy" / "config.json").is_file()
    r, _ = run_json(app, ["rl", "--judge", "multi", "--steps", "1"])
    assert r["judge"] == "multi"
    for who in ("policy", "reference"):
        assert {"keyword_score", "multi_score", "fluency", "nll"} <= set(r["judges"][who])
