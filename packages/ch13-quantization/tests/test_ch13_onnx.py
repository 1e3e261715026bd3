"""ONNX export: onnxruntime fp32 = torch (dynamic batch/sequence), int8 smaller and close, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import onnx
import pytest
import torch

from ch13_quantization.onnx_export import OnnxCausalLM, export_onnx, quantize_int8

FP32_TOL = 1e-4  # max |logit difference|, onnxruntime fp32 vs torch fp32 (measured ~1e-5)


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "LLMPATH_PROGRESS": "0"}
    return subprocess.run(
        [sys.executable, "-m", "ch13_quantization.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny random Llama (hidden 192, 2 layers, GQA) exported to fp32 and int8 ONNX."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=300, hidden_size=192, intermediate_size=512, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
        tie_word_embeddings=True,
    )  # fmt: skip
    model = LlamaForCausalLM(config).eval()
    where = tmp_path_factory.mktemp("ch13-onnx")
    fp32 = export_onnx(model, where / "tiny.onnx")
    int8 = where / "tiny-int8.onnx"
    quantize_int8(fp32, int8)
    return model, fp32, int8


@pytest.mark.parametrize("batch,seq", [(1, 1), (1, 7), (3, 33), (2, 128)])
def test_onnxruntime_fp32_matches_torch_on_dynamic_shapes(exported, batch, seq):
    model, fp32, _ = exported
    ids = torch.randint(0, 300, (batch, seq), generator=torch.Generator().manual_seed(seq))
    with torch.no_grad():
        ref = model(input_ids=ids, use_cache=False).logits.numpy()
    got = OnnxCausalLM(fp32, model.config, threads=1).logits(ids.numpy())
    assert got.shape == ref.shape == (batch, seq, 300)
    assert np.abs(got - ref).max() < FP32_TOL


def test_attention_mask_is_a_real_input(exported):
    """Left padding: the mask must change the graph's output exactly as it changes torch's."""
    model, fp32, _ = exported
    ids = torch.randint(1, 300, (2, 20), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(ids)
    mask[0, :6] = 0
    with torch.no_grad():
        ref = model(input_ids=ids, attention_mask=mask, use_cache=False).logits.numpy()
    got = OnnxCausalLM(fp32, model.config, threads=1).logits(ids.numpy(), mask.numpy())
    unmasked = OnnxCausalLM(fp32, model.config, threads=1).logits(ids.numpy())
    assert np.abs(got[:, 6:] - ref[:, 6:]).max() < FP32_TOL
    assert np.abs(got[0, 6:] - unmasked[0, 6:]).max() > 1e-3  # the mask did something


def test_int8_file_is_small_self_contained_and_close(exported):
    model, fp32, int8 = exported
    assert int8.stat().st_size <= 0.40 * fp32.stat().st_size  # measured 0.332
    proto = onnx.load(str(int8))
    onnx.checker.check_model(proto)
    ops = {node.op_type for node in proto.graph.node}
    assert "MatMulInteger" in ops or "DynamicQuantizeLinear" in ops
    assert not list(int8.parent.glob("*.data"))  # no external data left next to it
    ids = torch.randint(0, 300, (2, 64), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ref = model(input_ids=ids, use_cache=False).logits.numpy()
    got = OnnxCausalLM(int8, model.config, threads=1).logits(ids.numpy())
    # bound the error relative to the logits' range (random weights: |logit| <= 2.5)
    assert np.abs(got - ref).max() < 0.1 * np.abs(ref).max()  # measured 0.048 / 2.46 = 0.02
    assert (got.argmax(-1) == ref.argmax(-1)).mean() >= 0.95  # measured 0.992


def test_cli_exports_int8_and_reports_fp32_side_by_side(tokenizer, tmp_path):
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=300, hidden_size=64, intermediate_size=128, num_hidden_layers=1,
        num_attention_heads=2, max_position_embeddings=64, tie_word_embeddings=True,
    )  # fmt: skip
    model_dir = tmp_path / "tiny"
    LlamaForCausalLM(config).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    out = tmp_path / "out" / "tiny-int8.onnx"
    r = _cli("export-onnx", "--model", str(model_dir), "--int8", "--out", str(out),
             "--max-chars", "4000", "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert out.is_file() and result["size_bytes"] == out.stat().st_size
    assert [row["format"] for row in result["rows"]] == ["torch fp32", "onnx fp32", "onnx int8"]
    torch_row, fp32_row, int8_row = result["rows"]
    assert fp32_row["perplexity"] == pytest.approx(torch_row["perplexity"], rel=1e-5)
    assert fp32_row["max_abs_diff"] < FP32_TOL
    assert int8_row["size_bytes"] < fp32_row["size_bytes"]
    assert all(row["tokens_per_s"] > 0 for row in result["rows"])
    assert sorted(p.name for p in out.parent.iterdir()) == ["tiny-int8.onnx"]  # no temp files


def test_missing_model_is_one_line_exit_2_in_a_real_process(tmp_path):
    out = tmp_path / "never" / "x.onnx"
    missing = _cli("export-onnx", "--model", str(tmp_path / "no-such-model"), "--out", str(out))
    assert missing.returncode == 2
    assert len(missing.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "case,message",
    [
        ("not-a-model", "config.json"),
        ("out-under-a-file", "is a file"),
        ("wrong-suffix", ".onnx"),
        ("out-is-a-folder", "is a folder"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, case, message):
    from ch13_quantization.cli import app
    from llmpath_core.cli import run_app

    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("x")
    out = {
        "out-under-a-file": tmp_path / "file.txt" / "x.onnx",
        "wrong-suffix": tmp_path / "x.bin",
        "out-is-a-folder": tmp_path / "folder.onnx",
    }.get(case, tmp_path / "new" / "x.onnx")
    if case == "out-is-a-folder":
        out.mkdir()
    args = ["export-onnx", "--out", str(out)]
    if case == "not-a-model":
        args += ["--model", str(tmp_path / "empty")]
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(SystemExit) as exit_info:
        run_app(app, args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert (tmp_path / "file.txt").read_text() == "x"


def test_default_model_exports_with_parity(tmp_path):
    """The default model itself (5 layers, vocab 920): fp32 ONNX logits = torch logits."""
    from llmpath_core.models import load_default_model

    model, _ = load_default_model()
    path = export_onnx(model, tmp_path / "default.onnx")
    ids = torch.randint(0, 920, (2, 256), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = model(input_ids=ids, use_cache=False).logits.numpy()
    got = OnnxCausalLM(path, model.config, threads=1).logits(ids.numpy())
    assert np.abs(got - ref).max() < FP32_TOL
