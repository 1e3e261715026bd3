"""The console script: the contract commands, --json, and one-line exit-2 errors."""

from __future__ import annotations

import json

import pytest

from llmpath_core import load_text


@pytest.fixture
def files(tmp_path):
    train = tmp_path / "train.txt"
    train.write_text(load_text("pydoc", split="train", max_chars=40_000))
    held = tmp_path / "eval.txt"
    held.write_text(load_text("pydoc", split="validation", max_chars=8_000))
    return train, held


@pytest.mark.parametrize(
    "smoothing", ["laplace", "witten-bell", "kneser-ney", "modified-kneser-ney"]
)
def test_ngram_contract(cli_in_process, files, smoothing):
    from ch02_classic_lm.ngram import NgramLM, tokenize

    train, held = files
    code, out, err = cli_in_process(
        "ngram",
        "--order",
        "3",
        "--smoothing",
        smoothing,
        "--level",
        "word",
        "--train",
        str(train),
        "--eval",
        str(held),
        "--json",
    )
    assert code == 0, err
    result = json.loads(out)
    model = NgramLM(3, smoothing).fit(tokenize(train.read_text(), "word"))
    expected = model.evaluate(tokenize(held.read_text(), "word"))
    assert result["perplexity"] == pytest.approx(expected["perplexity"], rel=1e-12)
    assert result["oov_rate"] == pytest.approx(expected["oov_rate"])
    assert 0 < result["oov_rate"] < 0.2


def test_ngram_char_and_arpa(cli_in_process, files, tmp_path):
    train, held = files
    code, out, err = cli_in_process(
        "ngram",
        "--order",
        "4",
        "--smoothing",
        "kneser-ney",
        "--level",
        "char",
        "--train",
        str(train),
        "--eval",
        str(held),
        "--arpa",
        str(tmp_path / "m.arpa"),
        "--json",
    )
    assert code == 0, err
    result = json.loads(out)
    assert 2 < result["perplexity"] < 10
    assert (tmp_path / "m.arpa").read_text().startswith("\\data\\\nngram 1=")


def test_bleu_contract(cli_in_process, tmp_path):
    import sacrebleu

    hyps = ["the cat sat on a mat .", "He read the book in 2 days.", "no overlap here"]
    refs = ["the cat sat on the mat .", "He read the whole book in two days.", "nothing shared"]
    (tmp_path / "h.txt").write_text("\n".join(hyps) + "\n")
    (tmp_path / "r.txt").write_text("\n".join(refs) + "\n")
    code, out, err = cli_in_process(
        "bleu", "--hyp", str(tmp_path / "h.txt"), "--ref", str(tmp_path / "r.txt"), "--json"
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score, abs=0.01)


@pytest.mark.parametrize(
    "args, message",
    [
        (["ngram", "--order", "0"], "order"),
        (["ngram", "--smoothing", "magic"], "smoothing"),
        (["ngram", "--train", "EMPTY", "--eval", "EMPTY"], "empty"),
        (["ngram", "--train", "MISSING"], "MISSING"),
        (["bleu", "--hyp", "TWO", "--ref", "ONE"], "lines"),
    ],
)
def test_bad_input_is_one_line_exit_2(cli_in_process, tmp_path, args, message):
    (tmp_path / "EMPTY").write_text("")
    (tmp_path / "TWO").write_text("a b\nc d\n")
    (tmp_path / "ONE").write_text("a b\n")
    args = [str(tmp_path / a) if a in ("EMPTY", "TWO", "ONE", "MISSING") else a for a in args]
    code, out, err = cli_in_process(*args, "--json")
    assert code == 2
    assert message in json.loads(out)["error"]
    assert len(err.strip().splitlines()) == 1


def test_console_script_subprocess(tmp_path):
    """One real process: exit code 2 and one line for mismatched files; --json on stdout."""
    from llmpath_core.testing import run_cli

    (tmp_path / "h.txt").write_text("a b c\nd e f\n")
    (tmp_path / "r.txt").write_text("a b c\n")
    bad = run_cli(
        "ch02_classic_lm.cli",
        "bleu",
        "--hyp",
        str(tmp_path / "h.txt"),
        "--ref",
        str(tmp_path / "r.txt"),
        "--json",
    )
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    good = run_cli("ch02_classic_lm.cli", "bleu", "--json")
    assert good.returncode == 0 and 0 < json.loads(good.stdout)["bleu"] < 100


def test_seq2seq_command_small(cli_in_process, tmp_path):
    code, out, err = cli_in_process(
        "seq2seq",
        "--steps",
        "10",
        "--test",
        "8",
        "--attention",
        "luong",
        "--beam",
        "2",
        "--out",
        str(tmp_path / "att.png"),
        "--json",
    )
    assert code == 0, err
    result = json.loads(out)
    assert {"bleu", "exact_match", "beam_bleu", "rouge", "heatmap"} <= set(result)
    assert (tmp_path / "att.png").read_bytes()[:4] == b"\x89PNG"
