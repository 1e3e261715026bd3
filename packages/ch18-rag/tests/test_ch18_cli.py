"""The console script: --json output in process, and one-line exit-2 errors through subprocesses."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys

import pytest

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


def cli_in_process(capsys, *args: str) -> tuple[int, str, str]:
    """The console script's entry point in this process (no interpreter and torch start-up)."""
    from ch18_rag.cli import app
    from llmpath_core.cli import run_app

    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        run_app(app, list(args))
    out = capsys.readouterr()
    return exit_info.value.code, out.out, out.err


def cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ch18_rag.cli", *args],
        capture_output=True,
        text=True,
        env=ENV,
        cwd=cwd,
        timeout=300,
    )


@pytest.fixture
def cli_index(tmp_path_factory, capsys):
    root = tmp_path_factory.mktemp("cli")
    (root / "docs").mkdir()
    (root / "docs" / "zed.md").write_text(
        "# Zed\n\nThe capital of Zed is Quo. Zed was founded "
        "in 1432.\n\n# Yam\n\nThe capital of Yam is Ulo.\n"
    )
    (root / "docs" / "t.csv").write_text("river,length\nQuill,300 km\n")
    code, out, err = cli_in_process(
        capsys, "ingest", str(root / "docs"), "--index", str(root / "idx"), "--size", "32", "--json"
    )
    assert code == 0, err
    report = json.loads(out)
    assert (report["added"], report["chunks"], report["embedded"]) == (2, 3, 3)
    return root


def test_query_json(cli_index, capsys):
    code, out, err = cli_in_process(
        capsys,
        "query",
        "What is the capital of Yam?",
        "--index",
        str(cli_index / "idx"),
        "--k",
        "2",
        "--mode",
        "hybrid",
        "--json",
    )
    assert code == 0, err
    hits = json.loads(out)["hits"]
    assert len(hits) == 2 and set(hits[0]) == {"chunk_id", "source", "score", "text"}
    assert "Ulo" in hits[0]["text"] and hits[0]["chunk_id"].endswith("zed.md#1")


def _one_line_error(done: subprocess.CompletedProcess, expected: str) -> None:
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and expected in lines[0], lines


@pytest.mark.slow  # seven subprocesses importing torch; the same errors are tested in-process in
# test_ch18_documents / test_ch18_index, and a CLI exit-2 line in test_ch18_ragas_llm
def test_bad_inputs_exit_2(cli_index, tmp_path, pdfs):
    make_pdf, encrypt_pdf = pdfs
    idx = str(cli_index / "idx")
    before = sorted(p.name for p in (cli_index / "idx").iterdir())
    _one_line_error(cli("query", "  ", "--index", idx), "query is empty")
    (tmp_path / "x.xyz").write_text("?")
    _one_line_error(cli("ingest", str(tmp_path / "x.xyz"), "--index", idx), "unsupported file")
    (tmp_path / "locked.pdf").write_bytes(encrypt_pdf(make_pdf(["hidden"])))
    _one_line_error(cli("ingest", str(tmp_path / "locked.pdf"), "--index", idx), "encrypted")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _one_line_error(
        cli("ingest", f"http://127.0.0.1:{port}/doc.html", "--index", idx), "cannot fetch"
    )
    other = tmp_path / "other-model"
    other.mkdir()
    _one_line_error(
        cli("query", "capital", "--index", idx, "--model", str(other)), "built with embedding model"
    )
    _one_line_error(
        cli("ingest", str(cli_index / "docs"), "--index", idx, "--model", str(other)),
        "built with embedding model",
    )
    assert sorted(p.name for p in (cli_index / "idx").iterdir()) == before
    done = cli("query", "  ", "--index", idx, "--json")
    assert done.returncode == 2 and json.loads(done.stdout) == {
        "error": "the query is empty: give a question or keywords"
    }
    shutil.rmtree(tmp_path / "other-model")
