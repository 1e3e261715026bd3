"""The contract: command names, options, JSON keys, exit code 2 on bad input."""

from __future__ import annotations

import json

from ch06_data.corpus import planted_corpus
from ch06_data.shards import iter_records, write_records


def test_dedup_contract(tmp_path, run_in_process):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    corpus = planted_corpus(n_base=80, copies_per_level=4, seed=1)
    write_records(src, [{**r, "meta": {"i": i}} for i, r in enumerate(corpus.records)])
    code, result, _ = run_in_process(
        "dedup", "--input", str(src), "--out", str(out), "--threshold", "0.8", "--json"
    )
    assert code == 0
    assert result["documents_in"] == len(corpus.records)
    kept = list(iter_records(out))
    assert result["documents_out"] == len(kept) < len(corpus.records)
    assert all("meta" in r and "id" in r for r in kept)
    code, _, err = run_in_process(
        "dedup", "--input", str(src), "--out", str(out), "--threshold", "0", "--json"
    )
    assert code == 2 and "threshold" in err


def test_pii_contract(tmp_path, run_in_process):
    src, out = tmp_path / "in.txt", tmp_path / "out.txt"
    src.write_text("Reach me at ana@example.org or +44 20 7946 0958.\nCard: 4111-1111-1111-1111\n")
    code, result, _ = run_in_process("pii", "--input", str(src), "--out", str(out), "--json")
    assert code == 0
    assert result["entities"] == {"CREDIT_CARD": 1, "EMAIL_ADDRESS": 1, "PHONE_NUMBER": 1}
    assert (
        out.read_text() == "Reach me at <EMAIL_ADDRESS> or <PHONE_NUMBER>.\nCard: <CREDIT_CARD>\n"
    )


def test_demo_funnel(run_in_process):
    code, result, _ = run_in_process("demo", "--json")
    assert code == 0 and result["showed"] and result["headline"]
    stages = {f["stage"]: f["removed"] for f in result["funnel"]}
    planted = result["planted"]
    assert stages["exact duplicates"] == planted["exact_copies"]
    assert stages["near duplicates"] == planted["near_copies"]
    assert (
        stages["language != en"] + stages["quality rules"] == planted["junk"] + planted["foreign"]
    )
    assert result["crawl"][-1]["count"] == 46


def test_console_script_bad_input(tmp_path, cli):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\nnot json\n')
    out = tmp_path / "out.jsonl"
    proc = cli("dedup", "--input", str(bad), "--out", str(out), "--json")
    assert proc.returncode == 2
    assert "bad.jsonl:2" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert "error" in json.loads(proc.stdout)
    assert not out.exists()
