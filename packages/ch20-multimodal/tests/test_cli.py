"""The console script: the contract commands, JSON results, and clean failures (exit 2)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from ch20_multimodal.cli import app
from ch20_multimodal.scenes import COLOURS
from llmpath_core.bench import run_captured, run_json

from .conftest import needs_espeak, needs_tesseract


def test_scene_renders_the_spec(tmp_path):
    out = tmp_path / "s.png"
    result, _ = run_json(app, ["scene", "--spec", "2 red circle, 1 blue square", "--out", str(out)])
    assert result["caption"] == "2 red circles and 1 blue square"
    pixels = np.asarray(Image.open(out).convert("RGB"))
    red = (pixels == COLOURS["red"]).all(-1).sum()
    blue = (pixels == COLOURS["blue"]).all(-1).sum()
    assert red > 2 * 60 and blue > 100
    assert not (pixels == COLOURS["green"]).all(-1).any()


@pytest.fixture(scope="module")
def random_llava(tmp_path_factory):
    """An untrained assistant saved as a Hugging Face Llava folder (fast stand-in)."""
    from ch20_multimodal.clip import CLIPConfig, TinyCLIP
    from ch20_multimodal.vocab import WordTokenizer
    from ch20_multimodal.vqa import build_vqa_model

    tok = WordTokenizer()
    folder = tmp_path_factory.mktemp("llava")
    clip = TinyCLIP(CLIPConfig(vocab_size=len(tok), eos_token_id=tok.eos_id))
    build_vqa_model(clip).to_hf().save_pretrained(folder)
    return folder


def test_vqa_answers_from_a_llava_folder(tmp_path, random_llava):
    image = tmp_path / "s.png"
    run_json(app, ["scene", "--spec", "1 green triangle", "--out", str(image)])
    args = ["vqa", "--image", str(image), "--question", "how many red circles?"]
    result, _ = run_json(app, [*args, "--model", str(random_llava)])
    assert isinstance(result["answer"], str) and result["answer"]


@needs_tesseract
def test_ocr_command_reads_a_png(tmp_path):
    from ch20_multimodal.documents import render_text

    path = tmp_path / "t.png"
    render_text("Hello multimodal world 2026").save(path)
    result, _ = run_json(app, ["ocr", "--image", str(path)])
    assert result["text"] == "Hello multimodal world 2026"
    assert result["source"] == "ocr" and result["words"] == 4


def test_bad_inputs_exit_2_with_one_line(tmp_path):
    from pypdf import PdfWriter

    from ch20_multimodal.documents import write_text_pdf

    write_text_pdf(["x"], tmp_path / "p.pdf")
    writer = PdfWriter(clone_from=str(tmp_path / "p.pdf"))
    writer.encrypt("pw")
    writer.write(str(tmp_path / "locked.pdf"))
    (tmp_path / "junk.png").write_bytes(b"junk")
    cases = [
        (["vqa", "--image", str(tmp_path / "missing.png")], "no image"),
        (["vqa", "--image", str(tmp_path / "junk.png")], "cannot read"),
        (["vqa", "--question", "how many purple circles?"], "purple"),
        (["ocr", "--image", str(tmp_path / "locked.pdf")], "encrypted"),
        (["scene", "--spec", "9 red circle", "--out", str(tmp_path / "x.png")], "at most 5"),
    ]
    for args, needle in cases:
        code, stdout, stderr = run_captured(app, [*args, "--json"])
        assert code == 2, (args, stderr)
        assert needle in json.loads(stdout)["error"]
        assert "Traceback" not in stderr
    assert not (tmp_path / "x.png").exists()


def test_console_script_exit_code(cli, tmp_path):
    """The real console script: a missing image is one line on stderr and exit 2."""
    proc = cli("vqa", "--image", str(tmp_path / "missing.png"))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"error: no image at {tmp_path / 'missing.png'}"]


@needs_espeak
def test_speak_grammar_beats_open_vocabulary():
    """pocketsphinx on espeak-ng speech: the scene grammar cuts WER against the English LM."""
    result, _ = run_json(app, ["speak", "--text", "how many red circles"])
    open_lm, grammar = result["results"]
    assert grammar["wer"] <= 0.25
    assert grammar["wer"] < open_lm["wer"]
