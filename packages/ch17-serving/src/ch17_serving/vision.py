"""OpenAI-style image content parts, routed to an image-to-text model when one is configured.

A chat message may carry image parts, ``{"type": "image_url", "image_url": {"url": ...}}`` with
a ``data:image/png;base64,...`` URL. A text-only LM cannot see them, so the server asks an
image-to-text model (any Hugging Face folder that ``transformers.pipeline("image-to-text")``
loads; in transformers 5 the task is ``image-text-to-text``: BLIP, GIT, ...) for a caption and
puts ``[image: <caption>]`` in the prompt. Without one the request is refused with 400: silently
dropping an image would answer a question the model never saw.
"""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from llmpath_core import UserError

Captioner = Callable[[Any], str]


def decode_data_url(url: str) -> Any:
    """A ``data:image/...;base64,...`` URL → a PIL image (remote URLs are refused: offline)."""
    from PIL import Image, UnidentifiedImageError

    if not url.startswith("data:image/") or ";base64," not in url:
        raise ValueError(
            "image_url must be a data:image/...;base64,... URL (this server is offline)"
        )
    try:
        raw = base64.b64decode(url.split(";base64,", 1)[1], validate=True)
        return Image.open(io.BytesIO(raw)).convert("RGB")
    except (binascii.Error, UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"image_url does not hold a readable image ({exc})") from exc


def captioning_task() -> str:
    """The pipeline task that captions images in the installed transformers.

    transformers 4 had ``image-to-text``; transformers 5 folded captioning into
    ``image-text-to-text`` (BLIP, GIT, Florence-2, ... with an empty text prompt).
    """
    from transformers.pipelines import SUPPORTED_TASKS

    return "image-to-text" if "image-to-text" in SUPPORTED_TASKS else "image-text-to-text"


def load_captioner(path: str | Path, max_new_tokens: int = 20) -> Captioner:
    """A captioning pipeline from a local model folder, as a ``image -> caption`` function.

    Greedy (the same image gets the same caption); one caption at a time (a lock: the server
    calls it from worker threads).
    """
    import threading

    from transformers import pipeline

    folder = Path(path)
    if not folder.is_dir():
        raise UserError(f"--vision-model {folder}: not a folder (give an image-to-text model)")
    task = captioning_task()
    try:
        pipe = pipeline(task, model=str(folder))
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise UserError(f"--vision-model {folder}: cannot load it as {task} ({exc})") from exc
    lock = threading.Lock()
    generate = {"max_new_tokens": max_new_tokens, "do_sample": False}

    def caption(image: Any) -> str:
        with lock:
            if task == "image-to-text":
                out = pipe(image, generate_kwargs=generate)
            else:
                out = pipe(images=image, text="", return_full_text=False, generate_kwargs=generate)
        return str(out[0]["generated_text"]).strip()

    return caption


__all__ = ["Captioner", "captioning_task", "decode_data_url", "load_captioner"]
