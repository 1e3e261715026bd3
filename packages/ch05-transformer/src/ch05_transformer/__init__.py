"""ch05-transformer: the transformer from scratch, loading real weights, matching transformers.

Attention three ways (naive, tiled online-softmax, SDPA) with causal/padding masks and
MHA/MQA/GQA; RoPE; RMSNorm/LayerNorm; MLP/SwiGLU; a Llama-style and a GPT-2-style decoder with a
KV cache and sampling; a BERT-style encoder; :func:`from_pretrained` for local HF folders.
"""

from ch05_transformer.attention import (
    MultiHeadAttention,
    attention,
    attention_probabilities,
    naive_attention,
    repeat_kv,
    sdpa_attention,
    tiled_attention,
)
from ch05_transformer.attention_maps import attention_maps, head_summary, hf_attention_maps
from ch05_transformer.bert import BertConfig, BertEncoder, mean_pool, sentence_embeddings
from ch05_transformer.encoder_decoder import EncoderDecoder, Seq2SeqConfig, train_seq2seq
from ch05_transformer.gpt2 import GPT2Config, GPT2Decoder
from ch05_transformer.hf_loading import from_pretrained, load_tokenizer, save_pretrained
from ch05_transformer.kv_cache import KVCache
from ch05_transformer.llama import LlamaConfig, LlamaDecoder
from ch05_transformer.masks import allowed_mask, causal_mask
from ch05_transformer.mlp import MLP, SwiGLU
from ch05_transformer.norms import LayerNorm, RMSNorm
from ch05_transformer.positional import (
    PositionalConfig,
    PositionalDecoder,
    alibi_bias,
    alibi_slopes,
    positional_study,
    sinusoidal_table,
)
from ch05_transformer.rope import RotaryEmbedding, apply_rotary, rope_cos_sin
from ch05_transformer.sampling import SamplingConfig, filter_logits, generate, sample_next

__all__ = [
    "MLP",
    "BertConfig",
    "BertEncoder",
    "EncoderDecoder",
    "GPT2Config",
    "GPT2Decoder",
    "KVCache",
    "LayerNorm",
    "LlamaConfig",
    "LlamaDecoder",
    "MultiHeadAttention",
    "PositionalConfig",
    "PositionalDecoder",
    "RMSNorm",
    "RotaryEmbedding",
    "SamplingConfig",
    "Seq2SeqConfig",
    "SwiGLU",
    "alibi_bias",
    "alibi_slopes",
    "allowed_mask",
    "apply_rotary",
    "attention",
    "attention_maps",
    "attention_probabilities",
    "causal_mask",
    "filter_logits",
    "from_pretrained",
    "generate",
    "head_summary",
    "hf_attention_maps",
    "load_tokenizer",
    "mean_pool",
    "naive_attention",
    "positional_study",
    "repeat_kv",
    "rope_cos_sin",
    "sample_next",
    "save_pretrained",
    "sdpa_attention",
    "sentence_embeddings",
    "sinusoidal_table",
    "tiled_attention",
    "train_seq2seq",
]
