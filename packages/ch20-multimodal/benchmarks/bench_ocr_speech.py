"""OCR CER on rendered text and speech WER on espeak-ng clips (pocketsphinx: English LM vs grammar).

OCR: sentences rendered with Pillow's bundled font at several sizes, read back by Tesseract
through pytesseract, as PNG and as an image-only (scanned) PDF; CER per case.
Speech: scene-language sentences spoken by espeak-ng in several voices and speeds, transcribed by
pocketsphinx with its bundled English language model and with a JSGF grammar of the scene
vocabulary; WER per decoder with a standard error over clips.

Run: ``uv run python packages/ch20-multimodal/benchmarks/bench_ocr_speech.py``
(writes ``benchmarks/results/ocr-speech.json``).
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from ch20_multimodal.documents import cer, read_document, render_text
from ch20_multimodal.scenes import questions, sample_scenes
from ch20_multimodal.speech import scene_grammar, synthesize, transcribe, wer
from ch20_multimodal.vocab import WORDS
from llmpath_core.bench import machine_info
from llmpath_core.io import write_json

OUT = Path(__file__).parent / "results" / "ocr-speech.json"
SENTENCES = [
    "Invoice INV-2041 from Northwind Traders, total due 318.50 EUR.",
    "The quick brown fox jumps over the lazy dog; 0123456789.",
    "def area(radius):\n    return 3.14159 * radius ** 2",
    "Shipping address: 42 Harbour Road, Bristol BS1 4QA",
]


def mean_se(values: list[float]) -> dict[str, float]:
    se = statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else 0.0
    return {"mean": round(statistics.fmean(values), 4), "se": round(se, 4), "n": len(values)}


def ocr_bench() -> dict:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in (16, 24, 32):
            for i, text in enumerate(SENTENCES):
                image = render_text(text, font_size=size)
                for kind in ("png", "pdf"):
                    path = Path(tmp) / f"{size}-{i}.{kind}"
                    image.save(path)
                    doc = read_document(path)
                    rows.append(
                        {"font_size": size, "format": kind, "cer": round(cer(text, doc.text), 4)}
                    )
    return {"cases": rows, "cer": mean_se([r["cer"] for r in rows])}


def speech_bench(n: int = 12, seed: int = 0) -> dict:
    rng = random.Random(seed)
    grammar = scene_grammar([w for w in WORDS if w.isalpha()])
    voices = ["en-us", "en", "en-us+f3", "en+m3"]
    clips = []
    for scene in sample_scenes(n, seed=seed):
        text = questions(scene, rng, 1)[0].question.rstrip("?")
        clips.append((text, rng.choice(voices), rng.choice([130, 160, 190])))
    rows = []
    for text, voice, speed in clips:
        samples = synthesize(text, voice, speed)
        start = time.perf_counter()
        open_hyp = transcribe(samples)
        mid = time.perf_counter()
        gram_hyp = transcribe(samples, grammar)
        rows.append(
            {
                "text": text,
                "voice": voice,
                "speed": speed,
                "english_lm": open_hyp,
                "grammar": gram_hyp,
                "wer_english_lm": round(wer(text, open_hyp), 4),
                "wer_grammar": round(wer(text, gram_hyp), 4),
                "seconds_english_lm": round(mid - start, 3),
                "seconds_grammar": round(time.perf_counter() - mid, 3),
            }
        )
    return {
        "clips": rows,
        "wer_english_lm": mean_se([r["wer_english_lm"] for r in rows]),
        "wer_grammar": mean_se([r["wer_grammar"] for r in rows]),
    }


def main() -> None:
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "note": "measured while the machine was shared with other jobs",
        "ocr": ocr_bench(),
        "speech": speech_bench(),
    }
    write_json(OUT, result)
    print(result["ocr"]["cer"], result["speech"]["wer_english_lm"], result["speech"]["wer_grammar"])


if __name__ == "__main__":
    main()
