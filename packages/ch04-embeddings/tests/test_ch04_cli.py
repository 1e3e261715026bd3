"""The console script: --json shapes in process; exit code 2 with one line in a subprocess."""

from __future__ import annotations

import json

import pytest

from llmpath_core.testing import run_cli


def cli_in_process(capsys, *args):
    from ch04_embeddings.cli import app
    from llmpath_core.cli import run_app

    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        run_app(app, list(args))
    out = capsys.readouterr()
    return info.value.code, out.out, out.err


def test_index_and_search_json(capsys, tmp_path, corpus_dir, encoder):
    code, out, err = cli_in_process(
        capsys,
        "index",
        "--input",
        str(corpus_dir),
        "--index",
        str(tmp_path / "i"),
        "--kind",
        "flat",
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["documents"] == 10
    code, out, err = cli_in_process(
        capsys, "search", "dividing by zero", "--index", str(tmp_path / "i"), "--k", "3", "--json"
    )
    assert code == 0, err
    hits = json.loads(out)["hits"]
    assert len(hits) == 3 and set(hits[0]) == {"id", "text", "score"}
    assert hits[0]["id"] == "python/errors.txt"
    assert hits[0]["score"] >= hits[1]["score"] >= hits[2]["score"]
    code, _, err = cli_in_process(
        capsys, "search", "x", "--index", str(tmp_path / "i"), "--filter", "year=abc..2", "--json"
    )
    assert code == 2 and "bad range" in err


def test_bad_input_exits_2_with_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    r = run_cli(
        "ch04_embeddings.cli",
        "index",
        "--input",
        str(tmp_path / "empty"),
        "--index",
        str(tmp_path / "i"),
        "--json",
    )
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1].startswith("error:") and "empty" in r.stderr
    assert json.loads(r.stdout) == {"error": r.stderr.strip().splitlines()[-1][7:]}
    assert not (tmp_path / "i").exists()
    r = run_cli("ch04_embeddings.cli", "search", "q", "--index", str(tmp_path / "nope"))
    assert r.returncode == 2 and "no index" in r.stderr and "Traceback" not in r.stderr


def test_words_rejects_an_unknown_algorithm(capsys):
    code, _, err = cli_in_process(capsys, "words", "--algorithm", "lda", "--json")
    assert code == 2 and "glove" in err and "fasttext" in err


@pytest.mark.slow  # ~25 s on the shared box (two corpora, t-SNE); the library tests hold quality
def test_words_glove_and_fasttext_json(capsys, tmp_path):
    # one quick epoch each: the command's shape, not the quality
    code, out, err = cli_in_process(
        capsys, "words", "--algorithm", "glove", "--epochs", "1", "--dim", "8", "--json"
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["algorithm"] == "glove" and set(result["analogy_accuracy"]) >= {"all", "tense"}
    code, out, err = cli_in_process(
        capsys,
        *("words", "--algorithm", "fasttext", "--epochs", "1", "--dim", "8"),
        *("--out", str(tmp_path), "--json"),
    )
    assert code == 0, err
    result = json.loads(out)
    assert set(result["oov_neighbours"]) == {"kingz", "capitals", "climbedd", "walkeds"}
    assert (tmp_path / "words_tsne_fasttext.png").is_file()
