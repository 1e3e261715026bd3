"""The pipeline: deterministic, resumable, clean errors; the JSONL loads in datasets."""

from __future__ import annotations

import json

import pytest

from ch08_instruction_data.cli import app
from ch08_instruction_data.pipeline import BuildConfig, build_dataset, read_jsonl, select_by_score
from ch08_instruction_data.quality import RuleJudge, balance, distinct_n, score_record
from llmpath_core import UserError
from llmpath_core.bench import run_json


class CountingCompleter:
    """A deterministic stand-in LM: its text is a function of the prompt and the seed."""

    name = "counting"

    def __init__(self):
        self.calls = 0

    def complete(self, prompt: str, max_new_tokens: int, seed: int) -> str:
        self.calls += 1
        if prompt.rstrip().endswith("Task 9:"):
            return f" Name a colour that starts with letter {'abcdefg'[seed % 7]}.\nTask 10: x"
        if "#Rewritten Prompt#" in prompt or "#Created Prompt#" in prompt:
            return f"Write a short poem about the number {seed % 97} for a child.\n\n###"
        return f"Here is my answer number {seed % 89}, written plainly for you.\n\n### Instruction:"


SMALL = dict(template_records=120, evolved=6, self_instruct=3, evol_instruct=3)


def test_build_is_deterministic_and_has_provenance(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first = build_dataset(a, BuildConfig(**SMALL), completer_factory=CountingCompleter)
    build_dataset(b, BuildConfig(**SMALL), completer_factory=CountingCompleter)
    assert a.read_bytes() == b.read_bytes()
    records = read_jsonl(a)
    generators = {r["provenance"]["generator"] for r in records}
    assert {"templates", "evol-instruct-rule", "self-instruct", "evol-instruct"} <= generators
    lm = [r for r in records if r["provenance"]["generator"] == "self-instruct"]
    assert lm and all(r["provenance"]["model"] == "counting" for r in lm)
    assert all(len(r["provenance"]["prompt_sha"]) == 12 for r in lm)
    assert first["funnel"]["records_out"] == len(records)
    other = build_dataset(None, BuildConfig(**SMALL, seed=1))
    assert [r["instruction"] for r in other["records"]] != [r["instruction"] for r in records]


def test_build_resumes_from_the_partial_file(tmp_path):
    full = tmp_path / "full.jsonl"
    build_dataset(full, BuildConfig(**SMALL), completer_factory=CountingCompleter)
    # a run killed after 4 of the 6 language-model records leaves them in the partial file
    out = tmp_path / "resumed.jsonl"
    done = CountingCompleter()
    killed = BuildConfig(**{**SMALL, "evol_instruct": 1})
    build_dataset(out, killed, completer_factory=lambda: done)
    partial = tmp_path / "resumed.jsonl.partial.jsonl"
    assert not partial.exists()  # a finished run cleans up
    from ch08_instruction_data.generate import lm_record
    from ch08_instruction_data.tasks import SEEDS

    pool = [s["instruction"] for s in SEEDS]
    lines = [lm_record(CountingCompleter(), "self-instruct", i, pool) for i in range(3)]
    lines.append(lm_record(CountingCompleter(), "evol-instruct", 0, pool))
    partial.write_text("".join(json.dumps(x) + "\n" for x in lines))
    again = CountingCompleter()
    result = build_dataset(out, BuildConfig(**SMALL), completer_factory=lambda: again)
    assert result["funnel"]["lm_generated_this_run"] == 2
    assert again.calls == 4  # two records, an instruction and a response each
    assert out.read_bytes() == full.read_bytes()


def test_malformed_jsonl_is_named_by_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "a b c", "response": "d"}\n\n{"instruction": oops}\n')
    with pytest.raises(UserError, match="line 3 is not valid JSON"):
        read_jsonl(bad)
    bad.write_text('{"instruction": "a b c"}\n')
    with pytest.raises(UserError, match="line 1 has no string field 'response'"):
        read_jsonl(bad, ("instruction", "response"))


def test_scores_rank_the_planted_wrong_answers_last():
    built = build_dataset(None, BuildConfig(template_records=200, self_instruct=0, evol_instruct=0))
    records = built["records"]
    selected = select_by_score(records)
    assert selected and all("planted" not in r["provenance"] for r in selected)
    wrong = [r for r in records if r["provenance"].get("planted") in ("wrong", "mismatched")]
    assert len(wrong) > 30 and all(r["scores"]["judge"] == 1.0 for r in wrong)
    assert len(selected) + len(wrong) == len(records)
    judge = RuleJudge()
    toxic = score_record({"instruction": "Add 1 and 2.", "response": "3, idiot"}, judge)
    assert toxic["score"] == 4.0 and toxic["toxic"] == 1


def test_distinct_n_and_balance():
    assert distinct_n(["a b a b"], 1) == 0.5
    assert distinct_n(["a b a b"], 2) == pytest.approx(2 / 3)
    assert balance(["x", "y", "x", "y"]) == pytest.approx(1.0)
    assert balance(["x", "x", "x"]) == 0.0


def test_cli_build_and_score_contract(tmp_path):
    out = tmp_path / "set.jsonl"
    funnel, _ = run_json(app, ["build", "--out", str(out), "--records", "100", "--lm", "none"])
    assert {"records_in", "records_out"} <= set(funnel)
    assert funnel["records_out"] == len(read_jsonl(out)) < funnel["records_in"]
    scored, _ = run_json(
        app, ["score", "--input", str(out), "--no-model-features", "--out", str(tmp_path / "r")]
    )
    assert scored["records"] == funnel["records_out"]
    assert 0 < scored["selected"] < scored["records"]
    assert scored["scores"]["records"] == scored["records"]
    assert (tmp_path / "r" / "composition.png").stat().st_size > 1000

    import datasets

    loaded = datasets.load_dataset("json", data_files=str(out), split="train")
    assert loaded.num_rows == funnel["records_out"]
    assert loaded[0]["messages"][1]["role"] == "assistant"


def _exit_code(args):
    """Run the app in process: (exit code, stderr)."""
    import contextlib
    import io

    from llmpath_core.cli import run_app

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            run_app(app, args)
        except SystemExit as exc:
            return exc.code, err.getvalue()
    return 0, err.getvalue()


def test_cli_errors_exit_2(cli, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "a b c", "response": "d"}\nnot json\n')
    proc = cli("score", "--input", str(bad), "--no-model-features", "--json")
    assert proc.returncode == 2
    assert "line 2 is not valid JSON" in proc.stderr
    assert json.loads(proc.stdout)["error"].endswith("(Expecting value)")
    conv = tmp_path / "conv.json"
    conv.write_text(
        json.dumps([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])
    )
    code, err = _exit_code(["render", "--template", "llama2", "--conversation", str(conv)])
    assert code == 2 and "alternate" in err
    code, err = _exit_code(["render", "--template", "chatml", "--tokenizer", "default"])
    assert code == 2 and "lacks: <|im_start|>, <|im_end|>" in err
    code, err = _exit_code(["install", "--template", "llama3", "--out", str(tmp_path / "tok")])
    assert code == 2 and "--add-special-tokens" in err and not (tmp_path / "tok").exists()


def test_cli_render_contract(tmp_path):
    from transformers import AutoTokenizer

    from llmpath_core import default_model_path

    conv = tmp_path / "conv.json"
    conv.write_text(json.dumps([{"role": "user", "content": "Hi"}]))
    tok = AutoTokenizer.from_pretrained(default_model_path(), local_files_only=True)
    for name, want in (
        ("chatml", "<|im_start|>user\nHi<|im_end|>\n"),
        ("llama3", "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"),
    ):
        for agp in (False, True):
            args = ["render", "--template", name, "--conversation", str(conv)]
            result, _ = run_json(app, args + (["--add-generation-prompt"] if agp else []))
            assert want in result["text"]
            assert result["text"] == tok.apply_chat_template(
                [{"role": "user", "content": "Hi"}],
                chat_template=result["template"],
                tokenize=False,
                add_generation_prompt=agp,
            )
    result, _ = run_json(
        app, ["render", "--template", "roleplay", "--tokenizer", "default", "--add-special-tokens"]
    )
    assert "<|character|>" in result["added_tokens"] and result["assistant_tokens"] > 0
