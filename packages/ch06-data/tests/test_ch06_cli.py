"""The contract: command names, options, JSON keys, exit code 2 on bad input."""

from __future__ import annotations

import json

import pytest

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


def test_dedup_writes_lineage(tmp_path, run_in_process):
    from ch06_data.lineage import verify_lineage

    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_records(src, planted_corpus(n_base=30, copies_per_level=2, seed=2).records)
    code, result, _ = run_in_process("dedup", "--input", str(src), "--out", str(out), "--json")
    assert code == 0
    record = json.loads((tmp_path / "out.jsonl.lineage.json").read_text())
    assert result["lineage"].endswith("out.jsonl.lineage.json") and record["stage"] == "dedup"
    assert record["params"]["threshold"] == 0.8 and record["inputs"][0]["path"] == str(src)
    assert verify_lineage(result["lineage"]) == []
    src.write_text(src.read_text() + '{"text": "one more"}\n')
    assert verify_lineage(result["lineage"]) == [f"input {src} changed"]


def test_synth_bad_input(run_in_process):
    code, _, err = run_in_process("synth", "--generator", "endpoint", "--json")
    assert code == 2 and "--base-url" in err
    code, _, err = run_in_process("synth", "--threshold", "1.5", "--json")
    assert code == 2 and "threshold" in err


@pytest.mark.slow
def test_synth_cli(tmp_path, run_in_process):
    out = tmp_path / "synth.jsonl"
    code, result, _ = run_in_process(
        "synth", "--docs", "40", "--steps", "8", "--out", str(out), "--json"
    )
    assert code == 0 and result["generator"] == "template"
    assert result["documents_kept"] == len(list(iter_records(out))) == 40
    assert [r["data"] for r in result["rows"]] == ["real", "synthetic", "mixed"]
    assert result["funnel"][0]["remaining"] == 40 and "loss_diff_vs_real" in result["rows"][1]
