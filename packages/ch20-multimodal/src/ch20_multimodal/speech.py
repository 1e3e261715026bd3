"""Speech out and in: espeak-ng text-to-speech and pocketsphinx speech-to-text, scored by WER.

``synthesize`` runs the ``espeak-ng`` binary (formant synthesis: many voices and speeds, no
model files) and returns 16 kHz mono samples; ``transcribe`` decodes them with pocketsphinx's
bundled US-English acoustic model and language model; ``wer`` is the word-level edit distance
over the reference length.
"""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
import wave
from pathlib import Path
from typing import Any

import numpy as np

from llmpath_core import UserError

RATE = 16_000


def require_espeak() -> str:
    """Path of ``espeak-ng``; :class:`UserError` when it is not installed."""
    path = shutil.which("espeak-ng")
    if path is None:
        raise UserError("espeak-ng is not installed: apt-get install espeak-ng")
    return path


def resample(samples: np.ndarray, rate: int, target: int = RATE) -> np.ndarray:
    """Linear-interpolation resampling of int16 mono samples."""
    if rate == target:
        return samples
    positions = np.arange(0, len(samples), rate / target)
    return np.interp(positions, np.arange(len(samples)), samples).astype(np.int16)


def read_wav(data: bytes | str | Path) -> np.ndarray:
    """16 kHz int16 mono samples from WAV bytes or a WAV file."""
    try:
        source = io.BytesIO(data) if isinstance(data, bytes) else str(data)
        with wave.open(source) as w:
            if w.getsampwidth() != 2:
                raise UserError("only 16-bit PCM WAV files are supported")
            samples = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
            if w.getnchannels() > 1:
                samples = samples.reshape(-1, w.getnchannels()).mean(axis=1).astype(np.int16)
            return resample(samples, w.getframerate())
    except (wave.Error, EOFError) as exc:
        raise UserError(f"cannot read the audio as a WAV file: {exc}") from None


def synthesize(text: str, voice: str = "en-us", speed: int = 160, pitch: int = 50) -> np.ndarray:
    """Speak ``text`` with espeak-ng; 16 kHz int16 mono samples."""
    cmd = [require_espeak(), "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", text]
    proc = subprocess.run(cmd, capture_output=True, check=False, timeout=60)
    if proc.returncode != 0 or not proc.stdout:
        raise UserError(f"espeak-ng failed: {proc.stderr.decode(errors='replace').strip()}")
    return read_wav(proc.stdout)


def write_wav(samples: np.ndarray, path: str | Path, rate: int = RATE) -> None:
    """Write int16 mono samples as a WAV file."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype(np.int16).tobytes())


@functools.cache
def _decoder(grammar: str | None) -> Any:
    from pocketsphinx import Decoder

    decoder = Decoder(samprate=RATE, loglevel="FATAL")
    if grammar is not None:
        decoder.add_jsgf_string("scene", grammar)
        decoder.activate_search("scene")
    return decoder


def scene_grammar(words: list[str]) -> str:
    """A JSGF grammar accepting any sequence of ``words`` (a closed-vocabulary search)."""
    alternatives = " | ".join(sorted(set(words)))
    return f"#JSGF V1.0;\ngrammar scene;\npublic <utterance> = ( {alternatives} )+ ;\n"


def transcribe(samples: np.ndarray, grammar: str | None = None) -> str:
    """pocketsphinx (bundled en-us acoustic model) transcript of 16 kHz int16 samples.

    Without ``grammar`` it decodes with the bundled open-vocabulary English language model; with a
    JSGF ``grammar`` (e.g. :func:`scene_grammar`) the search is restricted to it.
    """
    decoder = _decoder(grammar)
    decoder.start_utt()
    decoder.process_raw(samples.astype(np.int16).tobytes(), full_utt=True)
    decoder.end_utt()
    hyp = decoder.hyp()
    return hyp.hypstr if hyp is not None else ""


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate: word-level edit distance / number of reference words."""
    ref, hyp = reference.lower().split(), hypothesis.lower().split()
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i]
        for j, h in enumerate(hyp, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h)))
        prev = cur
    return prev[-1] / max(1, len(ref))
