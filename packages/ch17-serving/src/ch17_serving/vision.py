"""OpenAI-style image content parts, routed to an image-to-text model when one is configured.

A chat message may carry image parts, ``{"type": "image_url", "image_url": {"url": ...}}`` with
a ``data:image/png;base64,...`` URL. A text-only LM cannot see them, so the server asks an
image-to-text model (any Hugging Face folder that ``transformers.pipeline("image-to-text")``
loads: BLIP, GIT, a VisionEncoderDecoder) for a caption and puts ``[image: <caption>]`` in the
prompt. Without one the request is refused with 400: silently dropping an image would answer a
question the model never saw.
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


def load_captioner(path: str | Path, max_new_tokens: int = 20) -> Captioner:
    """An image-to-text pipeline from a local model folder, as a ``image -> caption`` function."""
    from transformers import pipeline

    folder = Path(path)
    if not folder.is_dir():
        raise UserError(f"--vision-model {folder}: not a folder (give an image-to-text model)")
    try:
        pipe = pipeline("image-to-text", model=str(folder))
    except (OSError, ValueError) as exc:
        raise UserError(f"--vision-model {folder}: cannot load it ({exc})") from exc

    def caption(image: Any) -> str:
        out = pipe(image, generate_kwargs={"max_new_tokens": max_new_tokens})
        return str(out[0]["generated_text"]).strip()

    return caption


__all__ = ["Captioner", "decode_data_url", "load_captioner"]
