"""all-MiniLM-L6-v2 forward pass in plain torch: BERT encoder + mean pooling + L2 norm.

The same computation sentence-transformers runs for this model (``Transformer -> Pooling(mean) ->
Normalize``), read straight from the folder's ``model.safetensors`` and ``tokenizer.json``, so
embedding needs only torch and ``tokenizers`` (no ``transformers`` / ``sentence-transformers``
import: seconds saved on every CLI call). ``test_ch18_index.py`` holds it to sentence-transformers.

BERT layer (post-LN): ``h = LN(x + Attn(x)); out = LN(h + W2 gelu(W1 h))``; embeddings are word +
absolute position + token type 0, then LayerNorm.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F


class MiniLM:
    """A BERT-style sentence encoder from a sentence-transformers folder (mean pooling)."""

    def __init__(self, folder: str | Path, device: str = "cpu") -> None:
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        folder = Path(folder)
        self.config = json.loads((folder / "config.json").read_text())
        if self.config.get("model_type") != "bert":
            raise ValueError(f"{folder}: not a BERT model ({self.config.get('model_type')})")
        st_config = folder / "sentence_bert_config.json"
        self.max_tokens = (
            json.loads(st_config.read_text()).get("max_seq_length", 512)
            if st_config.exists()
            else self.config["max_position_embeddings"]
        )
        weights = next(iter(sorted(folder.glob("*.safetensors"))), None)
        if weights is None:
            raise FileNotFoundError(2, "no model.safetensors in the model folder", str(folder))
        w = load_file(str(weights), device=device)
        self.w = {k.removeprefix("bert."): v.float() for k, v in w.items()}
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.max_tokens)
        self.tokenizer.no_padding()
        self.device = device
        self.dim = self.config["hidden_size"]
        self.heads = self.config["num_attention_heads"]
        self.eps = self.config.get("layer_norm_eps", 1e-12)

    def _ln(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return F.layer_norm(
            x, (self.dim,), self.w[f"{name}.weight"], self.w[f"{name}.bias"], self.eps
        )

    def _linear(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return F.linear(x, self.w[f"{name}.weight"], self.w[f"{name}.bias"])

    @torch.no_grad()
    def hidden_states(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Last-layer token states ``(batch, seq, dim)``."""
        b, n = ids.shape
        e = "embeddings"
        x = (
            self.w[f"{e}.word_embeddings.weight"][ids]
            + self.w[f"{e}.position_embeddings.weight"][:n][None]
            + self.w[f"{e}.token_type_embeddings.weight"][0]
        )
        x = self._ln(x, f"{e}.LayerNorm")
        bias = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        dh = self.dim // self.heads
        for i in range(self.config["num_hidden_layers"]):
            p = f"encoder.layer.{i}"

            def split(t: torch.Tensor) -> torch.Tensor:
                return t.view(b, n, self.heads, dh).transpose(1, 2)

            q = split(self._linear(x, f"{p}.attention.self.query"))
            k = split(self._linear(x, f"{p}.attention.self.key"))
            v = split(self._linear(x, f"{p}.attention.self.value"))
            # softmax(q k^T / sqrt(dh) + padding bias) v, through torch's fused kernel
            ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
            ctx = ctx.transpose(1, 2).reshape(b, n, self.dim)
            x = self._ln(
                x + self._linear(ctx, f"{p}.attention.output.dense"),
                f"{p}.attention.output.LayerNorm",
            )
            h = F.gelu(self._linear(x, f"{p}.intermediate.dense"))
            x = self._ln(x + self._linear(h, f"{p}.output.dense"), f"{p}.output.LayerNorm")
        return x

    def _batch(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        encs = self.tokenizer.encode_batch(texts)
        n = max(len(e.ids) for e in encs)
        ids = torch.zeros((len(encs), n), dtype=torch.long)
        mask = torch.zeros((len(encs), n), dtype=torch.long)
        for row, enc in enumerate(encs):
            ids[row, : len(enc.ids)] = torch.tensor(enc.ids)
            mask[row, : len(enc.ids)] = 1
        return ids.to(self.device), mask.to(self.device)

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Unit-length sentence vectors; texts are batched by length to limit padding."""
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            idx = order[start : start + batch_size]
            ids, mask = self._batch([texts[i] for i in idx])
            hidden = self.hidden_states(ids, mask)
            m = mask[..., None].float()
            pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
            out[idx] = F.normalize(pooled, dim=-1).cpu().numpy()
        return out

    def token_embeddings(self, texts: list[str], batch_size: int = 32) -> list[np.ndarray]:
        """Per-token unit vectors without ``[CLS]``/``[SEP]`` (for late interaction)."""
        result: list[np.ndarray] = [np.zeros(0)] * len(texts)
        for start in range(0, len(texts), batch_size):
            chunk = texts[start : start + batch_size]
            ids, mask = self._batch(chunk)
            hidden = F.normalize(self.hidden_states(ids, mask), dim=-1).cpu().numpy()
            for row in range(len(chunk)):
                n = int(mask[row].sum())
                result[start + row] = hidden[row, 1 : max(n - 1, 2)]
        return result


__all__ = ["MiniLM"]
