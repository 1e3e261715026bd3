"""A BERT-style encoder (Devlin et al., 2019) and sentence embeddings by mean pooling.

Embeddings (token + learned position + segment) go through LayerNorm; each of the post-norm blocks
computes ``x = LN(x + attn(x))`` then ``x = LN(x + mlp(x))`` with bidirectional attention and a
padding mask. Sentence-BERT (Reimers & Gurevych, 2019) embeds a text as the mean of its token
vectors (pads excluded), L2-normalised: that is how all-MiniLM-L6-v2 is used.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ch05_transformer.attention import MultiHeadAttention
from ch05_transformer.llama import _init_weights
from ch05_transformer.mlp import MLP
from ch05_transformer.norms import LayerNorm


@dataclass
class BertConfig:
    """Shape of a BERT-style encoder (all-MiniLM-L6-v2: 384 wide, 6 layers, 12 heads)."""

    vocab_size: int = 30522
    hidden_size: int = 384
    num_layers: int = 6
    num_heads: int = 12
    intermediate_size: int = 1536
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    attn_impl: str = "sdpa"


class BertLayer(nn.Module):
    """One post-norm encoder block."""

    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.attn = MultiHeadAttention(
            cfg.hidden_size, cfg.num_heads, bias=True, impl=cfg.attn_impl
        )
        self.attn_norm = LayerNorm(cfg.hidden_size, cfg.layer_norm_eps)
        self.mlp = MLP(cfg.hidden_size, cfg.intermediate_size, approximate="none")
        self.mlp_norm = LayerNorm(cfg.hidden_size, cfg.layer_norm_eps)

    def forward(self, x: torch.Tensor, key_padding_mask: torch.Tensor | None) -> torch.Tensor:
        x = self.attn_norm(x + self.attn(x, causal=False, key_padding_mask=key_padding_mask))
        return self.mlp_norm(x + self.mlp(x))


class BertEncoder(nn.Module):
    """Token ids ``(batch, seq)`` -> last hidden states ``(batch, seq, hidden)``."""

    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.config = cfg
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.position_embeddings = nn.Embedding(cfg.max_position_embeddings, cfg.hidden_size)
        self.token_type_embeddings = nn.Embedding(cfg.type_vocab_size, cfg.hidden_size)
        self.embed_norm = LayerNorm(cfg.hidden_size, cfg.layer_norm_eps)
        self.layers = nn.ModuleList(BertLayer(cfg) for _ in range(cfg.num_layers))
        self.apply(_init_weights)

    @property
    def max_positions(self) -> int:
        return self.config.max_position_embeddings

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        t = input_ids.shape[1]
        if t > self.config.max_position_embeddings:
            raise ValueError(
                f"{t} tokens exceed the {self.config.max_position_embeddings} positions"
            )
        positions = torch.arange(t, device=input_ids.device)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        x = (
            self.word_embeddings(input_ids)
            + self.position_embeddings(positions)
            + self.token_type_embeddings(token_type_ids)
        )
        x = self.embed_norm(x)
        for layer in self.layers:
            x = layer(x, attention_mask)
        return x


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Average the token vectors of each sequence, ignoring padding (as sentence-transformers)."""
    mask = attention_mask.to(hidden.dtype)[..., None]
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


@torch.no_grad()
def sentence_embeddings(
    model: BertEncoder, tokenizer, texts: list[str], *, max_length: int = 256
) -> torch.Tensor:
    """L2-normalised mean-pooled embeddings ``(len(texts), hidden)``.

    ``tokenizer`` is a ``tokenizers.Tokenizer`` (e.g. from :func:`load_tokenizer`).
    """
    input_ids, attention_mask = encode_batch(tokenizer, texts, max_length=max_length)
    device = next(model.parameters()).device
    hidden = model(input_ids.to(device), attention_mask.to(device))
    return F.normalize(mean_pool(hidden, attention_mask.to(device)), p=2, dim=1)


def encode_batch(tokenizer, texts: list[str], *, max_length: int = 256):
    """Token ids and attention mask ``(batch, longest)``, right-padded, truncated."""
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length)
    encodings = tokenizer.encode_batch(texts)
    longest = max(len(e.ids) for e in encodings)
    ids = torch.zeros(len(texts), longest, dtype=torch.long)
    mask = torch.zeros(len(texts), longest, dtype=torch.long)
    for i, e in enumerate(encodings):
        ids[i, : len(e.ids)] = torch.tensor(e.ids)
        mask[i, : len(e.ids)] = 1
    return ids, mask


__all__ = [
    "BertConfig",
    "BertEncoder",
    "BertLayer",
    "encode_batch",
    "mean_pool",
    "sentence_embeddings",
]
