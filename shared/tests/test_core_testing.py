"""llmpath_core.testing (the helpers every package's conftest uses) and the per-package time
table of llmpath_core's pytest plugin."""

import json

import pytest
import torch

from llmpath_core import testing

pytest_plugins = ["pytester"]
PLUGIN = ("-p", "no:llmpath", "-p", "llmpath_core.pytest_plugin")


def test_torch_threads_sets_and_restores_even_on_error():
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError), testing.torch_threads(1):
        assert torch.get_num_threads() == 1
        raise RuntimeError
    assert torch.get_num_threads() == before


def test_use_offline_env_keeps_what_is_set(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    testing.use_offline_env()
    import os

    assert os.environ["HF_HUB_OFFLINE"] == "0" and os.environ["HF_DATASETS_OFFLINE"] == "1"


def test_run_cli_runs_the_module_with_the_cli_env_and_never_raises(tmp_path):
    (tmp_path / "echo_env.py").write_text(
        "import os, sys\n"
        "print(os.environ['OMP_NUM_THREADS'], os.environ['LLMPATH_PROGRESS'],"
        " os.environ['HF_HUB_OFFLINE'], os.environ['X'], *sys.argv[1:])\n"
        "sys.exit(3)\n"
    )
    cli = testing.cli_runner("echo_env", env={"PYTHONPATH": str(tmp_path), "X": "x"}, timeout=60)
    done = cli("a", "--json")
    assert done.returncode == 3 and done.stdout.split() == ["1", "0", "1", "x", "a", "--json"]
    missing = testing.run_cli("this_module_does_not_exist", timeout=60)
    assert missing.returncode == 1 and "No module named" in missing.stderr


def test_tiny_llama_is_deterministic_and_shaped_by_its_arguments():
    a = testing.tiny_llama(3, vocab=50, hidden=32, heads=4, kv_heads=2, head_scale=8.0)
    b = testing.tiny_llama(3, vocab=50, hidden=32, heads=4, kv_heads=2, head_scale=8.0)
    c = testing.tiny_llama(4, vocab=50, hidden=32, heads=4, kv_heads=2, head_scale=8.0)
    assert not a.training
    assert a.config.num_key_value_heads == 2 and a.config.intermediate_size == 64
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.no_grad():
        la, lb, lc = (m(input_ids=ids).logits for m in (a, b, c))
    assert torch.equal(la, lb) and not torch.equal(la, lc)
    tied = testing.tiny_llama(0, vocab=50, hidden=32, tie=True, bos=0, eos=0, pad=0)
    assert tied.lm_head.weight.data_ptr() == tied.model.embed_tokens.weight.data_ptr()
    assert (tied.config.bos_token_id, tied.config.pad_token_id) == (0, 0)


def test_byte_tokenizer_maps_bytes_to_ids_1_to_256_and_round_trips():
    tok = testing.byte_tokenizer()
    text = "héllo, wörld 🤖"
    ids = tok.encode(text)
    assert len(ids) == len(text.encode()) and all(1 <= i <= 256 for i in ids)
    assert tok.decode(ids) == text
    assert tok.eos_token_id == tok.pad_token_id == 0 and tok.bos_token is None
    assert testing.byte_tokenizer(bos=True).bos_token_id == 0


def test_train_byte_bpe_learns_merges_and_round_trips():
    text = "the cat sat on the mat. " * 50 + "a dog ran to the cat. " * 50
    tok = testing.train_byte_bpe([text], vocab_size=270)
    assert len(tok) == 270 and tok.convert_ids_to_tokens(0) == testing.EOS
    assert tok.eos_token_id == tok.bos_token_id == tok.pad_token_id == 0
    sample = "the cat sat on the mat."
    ids = tok.encode(sample)
    assert len(ids) < len(sample.encode()) / 2  # merges compress the seen text
    assert tok.decode(ids) == sample


PACKAGES = {
    "ch98_a/pyproject.toml": '[project]\nname = "ch98-a"\n',
    "ch98_a/tests/test_a.py": "import time\n\ndef test_one():\n    time.sleep(0.3)\n\n"
    "def test_two():\n    pass\n",
    "ch99_b/pyproject.toml": '[project]\nname = "ch99-b"\n',
    "ch99_b/tests/deeper/test_b.py": "import pytest\n\ndef test_fails():\n    assert False\n\n"
    "@pytest.mark.skip\ndef test_skipped():\n    pass\n",
}


def test_time_table_sums_per_package_and_flags_the_budget(pytester, monkeypatch):
    monkeypatch.setenv("LLMPATH_TEST_BUDGET_S", "0.2")
    for name, text in PACKAGES.items():
        path = pytester.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    out = pytester.path / "times.json"
    result = pytester.runpytest(*PLUGIN, "--llmpath-times", str(out))
    result.assert_outcomes(passed=2, failed=1, skipped=1)
    result.stdout.re_match_lines([r".*llmpath: test time per package \(budget 0.2 s\).*"])
    result.stdout.re_match_lines([r"ch98-a\s+2\s+2\s+0\s+0\s+0\.\d\s+OVER BUDGET"])
    result.stdout.re_match_lines([r"ch99-b\s+2\s+0\s+1\s+1\s+0\.\d\s*$"])
    report = json.loads(out.read_text())
    rows = {r["package"]: r for r in report["packages"]}
    assert report["budget_s"] == 0.2
    assert rows["ch98-a"]["over_budget"] and not rows["ch99-b"]["over_budget"]
    assert rows["ch98-a"]["seconds"] >= 0.3


def test_no_table_when_nothing_ran_or_for_other_projects(pytester):
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest(*PLUGIN, "--collect-only", "-q")
    assert "test time per package" not in result.stdout.str()
    (pytester.path / "pyproject.toml").write_text('[project]\nname = "someone-else"\n')
    result = pytester.runpytest(*PLUGIN)
    result.assert_outcomes(passed=1)
    assert "test time per package" not in result.stdout.str()
