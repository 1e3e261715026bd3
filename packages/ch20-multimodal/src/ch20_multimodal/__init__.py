"""ch20-multimodal: a tiny CLIP and a LLaVA-style assistant trained here, OCR and documents,
speech in and out, and a small text-to-image diffusion model."""

__version__ = "0.2.0"
