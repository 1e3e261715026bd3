"""The CLI: train -> encode -> decode round trip, --json output, and one-line errors (exit 2).

Most calls run the real entry point in-process (``run_app``, which exits with the status code);
one runs ``python -m ch03_tokenization.cli`` as a user would.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ch03_tokenization.cli import app


def cli(capsys, *args: str) -> tuple[int, str, str]:
    from llmpath_core.cli import run_app

    with pytest.raises(SystemExit) as exit_info:
        run_app(app, list(args))
    out = capsys.readouterr()
    return exit_info.value.code, out.out, out.err


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, pydoc_docs):
    path = tmp_path_factory.mktemp("corpus") / "train.txt"
    path.write_text("\n\n".join(pydoc_docs[:10]), encoding="utf-8")
    return path


@pytest.mark.parametrize("algo", ["byte-bpe", "char-bpe", "wordpiece", "unigram"])
def test_train_encode_decode(capsys, tmp_path, corpus, algo):
    from tokenizers import Tokenizer as HFTokenizer

    out = tmp_path / algo
    size = {"byte-bpe": 400, "char-bpe": 500, "wordpiece": 400, "unigram": 450}[algo]
    code, stdout, _ = cli(
        capsys,
        "train",
        "--algo",
        algo,
        "--vocab-size",
        str(size),
        "--input",
        str(corpus),
        "--out",
        str(out),
        "--json",
    )
    assert code == 0
    result = json.loads(stdout)
    assert result["vocab_size"] == size
    assert "tokenizer.json" in result["files"]
    if algo == "byte-bpe":
        assert "tokenizer.tiktoken" in result["files"]
    text = "The for statement iterates over the elements."
    code, stdout, _ = cli(capsys, "encode", "--tokenizer", str(out), "--text", text, "--json")
    assert code == 0
    encoded = json.loads(stdout)
    assert len(encoded["ids"]) == len(encoded["tokens"]) > 0
    hf = HFTokenizer.from_file(str(out / "tokenizer.json"))
    assert hf.encode(text, add_special_tokens=False).ids == encoded["ids"]
    code, stdout, _ = cli(
        capsys,
        "decode",
        "--tokenizer",
        str(out),
        "--ids",
        " ".join(map(str, encoded["ids"])),
        "--json",
    )
    decoded = json.loads(stdout)["text"]
    expected = text.lower().replace(".", " .") if algo == "wordpiece" else text
    assert decoded == expected


def test_bad_input_is_one_line_exit_2(capsys, tmp_path, corpus):
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n", encoding="utf-8")
    broken = tmp_path / "tokenizer.json"
    broken.write_text("{not json", encoding="utf-8")
    cases = [
        (
            ["train", "--input", str(tmp_path / "missing.txt"), "--out", str(tmp_path / "a")],
            "no such input file",
        ),
        (["train", "--input", str(empty), "--out", str(tmp_path / "b")], "no text found"),
        (
            ["train", "--input", str(corpus), "--vocab-size", "100", "--out", str(tmp_path / "c")],
            "smaller than the 256 byte alphabet",
        ),
        (
            [
                "train",
                "--algo",
                "char-bpe",
                "--input",
                str(corpus),
                "--vocab-size",
                "300",
                "--out",
                str(tmp_path / "d"),
            ],
            "smaller than the base alphabet",
        ),
        (["encode", "--tokenizer", str(broken), "--text", "hi"], "not valid JSON"),
        (["encode", "--tokenizer", str(tmp_path / "nope"), "--text", "hi"], "no such tokenizer"),
    ]
    for args, message in cases:
        code, _, err = cli(capsys, *args)
        assert code == 2, args
        lines = [line for line in err.splitlines() if line.startswith("error:")]
        assert len(lines) == 1 and message in lines[0], err
    assert not (tmp_path / "a").exists() and not (tmp_path / "c").exists()


def test_module_entry_point_json_error(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ch03_tokenization.cli",
            "encode",
            "--tokenizer",
            str(tmp_path / "missing"),
            "--text",
            "hi",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert json.loads(proc.stdout) == {
        "error": f"no such tokenizer file or folder: {tmp_path / 'missing'}"
    }
    assert len(proc.stderr.strip().splitlines()) == 1


def test_compare_html_page(capsys, tmp_path):
    from ch03_tokenization import ByteBPETokenizer, UnigramTokenizer
    from ch03_tokenization.html_view import render_html, token_spans

    bpe = ByteBPETokenizer().train(["the cat sat on the mat " * 30], 270)
    uni = UnigramTokenizer().train(["the cat sat on the mat " * 30], 280)
    text = "the <script>cat</script> 🐱"
    spans, count = token_spans(bpe, text)
    assert count == len(bpe.encode(text)) == spans.count('<span class="tok"')
    assert "<script" not in spans and "&lt;" in spans
    page = render_html({"bpe": bpe, "uni": uni}, {"sample": text}, {"t": [{"a": 1}]})
    assert page.count('<span class="tok"') == count + len(uni.encode(text))
    assert "<script" not in page.replace("&lt;script", "")
    bpe.save(tmp_path / "b")
    out = tmp_path / "page.html"
    code, stdout, _ = cli(
        capsys,
        "compare",
        "--tokenizer",
        str(tmp_path / "b"),
        "--max-chars",
        "20000",
        "--html",
        str(out),
        "--json",
    )
    assert code == 0 and json.loads(stdout)["html"] == str(out)
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>")
    # ours, tiktoken from our ranks and HF from our json cut every sample into the same tokens
    from ch03_tokenization.labs import anchor_views

    views = anchor_views({"b": bpe}, None, 0)
    sample = "A tiny dragon 🐉 said: don't   panic!\n"
    expected = token_spans(bpe, sample)
    assert token_spans(views["tiktoken (b ranks)"], sample) == expected
    assert token_spans(views["HF tokenizers (b json)"], sample) == expected
    bert_spans, bert_count = token_spans(views["transformers BertTokenizerFast"], sample)
    assert bert_count == 11 and "[UNK]" in bert_spans  # a tiny dragon [UNK] said : don ' t panic !


def test_domain_on_a_file_and_quick_bench(capsys, tmp_path, pydoc_docs):
    domain_file = tmp_path / "domain.txt"
    domain_file.write_text("\n\n".join(pydoc_docs[:20]), encoding="utf-8")
    code, stdout, _ = cli(
        capsys,
        "domain",
        "--domain",
        str(domain_file),
        "--vocab-size",
        "500",
        "--max-chars",
        "60000",
        "--json",
    )
    assert code == 0
    rows = {
        (r["trained on"].split(" ")[0], r["measured on"]): r["chars/token"]
        for r in json.loads(stdout)["rows"]
    }
    assert len(rows) == 4
    # each tokenizer compresses held-out text of its own kind better than the other one does
    assert rows[("domain", "domain")] > rows[("general", "domain")]
    assert rows[("general", "general")] > rows[("domain", "general")]

    code, stdout, _ = cli(capsys, "bench", "--vocab-size", "300", "--max-chars", "20000", "--json")
    assert code == 0
    result = json.loads(stdout)
    assert [r["anchor"] for r in result["rows"]] == [
        "hf",
        "naive",
        "tiktoken",
        "hf",
    ]
    assert all(r["ours_s"] > 0 and r["anchor_s"] > 0 for r in result["rows"])
