"""A Llama forward pass that attends over a paged KV cache, with weights taken from transformers.

:class:`PagedLlama` borrows the weights of any ``transformers`` Llama-architecture model
(``LlamaForCausalLM``: RMSNorm; RoPE of the types in :data:`STATIC_ROPE_TYPES` through the
model's own ``inv_freq``, and ``dynamic`` (NTK) RoPE recomputed from each sequence's length;
``longrope`` is refused with a :class:`~llmpath_core.UserError`; SwiGLU, MHA/MQA/GQA, tied or
untied head) and runs its own forward over a *flat* batch: the new tokens of every scheduled
sequence are concatenated (a prefill chunk of one sequence next to a single decode token of
another), the projections and MLP run once over all of them, and only attention is per sequence:
each sequence's keys and values are gathered from the cache through its block table, padded to the
longest, and masked (causal within the chunk, nothing past the sequence's length).
This is the varlen layout of vLLM's model runner, done with batched torch ops.

The cache is one tensor ``(layers, 2, num_blocks * block_size, kv_heads, head_dim)``; a token's
keys and values live at its *slot* (see :mod:`ch14_inference.block_manager`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from llmpath_core import UserError

# RoPE types whose frequencies are fixed once the model is loaded (transformers' names);
# "dynamic" is handled per forward, "longrope" (short/long factors) is refused
STATIC_ROPE_TYPES = frozenset({"default", "linear", "llama3", "yarn", "proportional"})


@dataclass
class Batch:
    """The inputs of one forward step (all index tensors are int64 on the model's device).

    ``input_ids``/``positions``/``slot_mapping`` are flat over the ``T`` new tokens.
    ``query_index`` ``(B, Qmax)`` points into the flat tokens (``T`` for padding), ``query_valid``
    marks the real ones, ``key_slots`` ``(B, Kmax)`` gives the cache slot of each key of each
    sequence (0 for padding) and ``key_len`` ``(B,)`` the sequence length after this step.
    ``logits_index`` selects the flat tokens whose next-token logits are wanted.
    """

    input_ids: torch.Tensor
    positions: torch.Tensor
    slot_mapping: torch.Tensor
    query_index: torch.Tensor
    query_valid: torch.Tensor
    key_slots: torch.Tensor
    key_len: torch.Tensor
    logits_index: torch.Tensor


def make_batch(
    seqs: list[tuple[list[int], int, list[int], list[int]]],
    block_size: int,
    device: torch.device | str = "cpu",
    all_logits: bool = False,
) -> Batch:
    """Build a :class:`Batch` from ``(new_token_ids, start_position, new_slots, block_table)``.

    With ``all_logits`` every new token gets logits (speculative verification); otherwise only the
    last new token of each sequence.
    """
    ids: list[int] = []
    pos: list[int] = []
    slots: list[int] = []
    q_lens = [len(s[0]) for s in seqs]
    k_lens = [s[1] + len(s[0]) for s in seqs]
    q_max, k_max = max(q_lens), max(k_lens)
    q_index = torch.full((len(seqs), q_max), sum(q_lens), dtype=torch.long)
    logits_index: list[int] = []
    start = 0
    for b, (toks, p0, new_slots, _) in enumerate(seqs):
        n = len(toks)
        ids += toks
        pos += range(p0, p0 + n)
        slots += new_slots
        q_index[b, :n] = torch.arange(start, start + n)
        if all_logits:
            logits_index += range(start, start + n)
        else:
            logits_index.append(start + n - 1)
        start += n
    q_valid = q_index < start
    # key slots: block_table[j // bs] * bs + j % bs, for j < key length
    tables = torch.zeros((len(seqs), -(-k_max // block_size)), dtype=torch.long)
    for b, s in enumerate(seqs):
        tables[b, : len(s[3])] = torch.tensor(s[3], dtype=torch.long)
    j = torch.arange(k_max)
    key_slots = tables[:, j // block_size] * block_size + j % block_size
    key_len = torch.tensor(k_lens, dtype=torch.long)
    key_slots = torch.where(j[None, :] < key_len[:, None], key_slots, 0)
    dev = torch.device(device)
    return Batch(
        torch.tensor(ids, dtype=torch.long, device=dev),
        torch.tensor(pos, dtype=torch.long, device=dev),
        torch.tensor(slots, dtype=torch.long, device=dev),
        q_index.to(dev),
        q_valid.to(dev),
        key_slots.to(dev),
        key_len.to(dev),
        torch.tensor(logits_index, dtype=torch.long, device=dev),
    )


@dataclass
class Int8KVCache:
    """A paged cache stored in int8 with one fp16 absmax scale per token, layer and KV head.

    Keys and values are quantised when written and dequantised when gathered, so attention
    itself runs in the model's dtype; memory is about a quarter of fp32 (half of fp16).
    """

    values: torch.Tensor  # (layers, 2, slots, kv_heads, head_dim) int8
    scales: torch.Tensor  # (layers, 2, slots, kv_heads, 1) fp16

    def write_and_gather(
        self, layer: int, kind: int, slots: torch.Tensor, new: torch.Tensor, rows: torch.Tensor
    ) -> torch.Tensor:
        scale = (new.abs().amax(-1, keepdim=True).float() / 127).clamp_min(1e-6).half()
        q = torch.round(new / scale.float()).clamp(-127, 127).to(torch.int8)
        self.values[layer, kind].index_copy_(0, slots, q)
        self.scales[layer, kind].index_copy_(0, slots, scale)
        hd = self.values.shape[-1]
        got = self.values[layer, kind].view(-1, hd).index_select(0, rows).float()
        return got * self.scales[layer, kind].view(-1, 1).index_select(0, rows).float()

    def copy_slots(self, dst: slice, src: slice) -> None:
        self.values[:, :, dst] = self.values[:, :, src]
        self.scales[:, :, dst] = self.scales[:, :, src]


class PagedLlama:
    """A transformers Llama model's weights behind a paged-attention forward.

    The weights are the HF model's own tensors (QKV and gate/up are concatenated once so that each
    layer does three matmuls instead of six); nothing is trained or changed.
    """

    def __init__(self, hf_model: torch.nn.Module) -> None:
        from transformers.activations import ACT2FN

        cfg = hf_model.config
        if getattr(cfg, "model_type", None) not in {"llama", "mistral", "qwen2"}:
            raise ValueError(f"PagedLlama needs a Llama-architecture model, got {cfg.model_type!r}")
        window = getattr(cfg, "sliding_window", None)
        if window and (cfg.model_type == "mistral" or getattr(cfg, "use_sliding_window", False)):
            raise ValueError("sliding-window attention is not implemented in PagedLlama")
        self.config = cfg
        self.hf_model = hf_model
        inner = hf_model.model
        self.num_layers = cfg.num_hidden_layers
        self.num_heads = cfg.num_attention_heads
        self.num_kv_heads = getattr(cfg, "num_key_value_heads", None) or self.num_heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // self.num_heads
        self.vocab_size = cfg.vocab_size
        self.max_positions = cfg.max_position_embeddings
        self.eps = cfg.rms_norm_eps
        self.act = ACT2FN[cfg.hidden_act]
        w = next(hf_model.parameters())
        self.device, self.dtype = w.device, w.dtype
        self.embed = inner.embed_tokens.weight.detach()
        self.norm = inner.norm.weight.detach()
        self.lm_head = hf_model.lm_head.weight.detach()
        # RoPE as a complex multiply: reorder each q/k head's dims from HF's (first half, second
        # half) to interleaved pairs (x_i, x_{i+d/2}). Queries and keys get the same permutation,
        # so every q.k dot product (and so attention) is unchanged.
        half = self.head_dim // 2
        perm = torch.stack([torch.arange(half), torch.arange(half) + half], dim=-1).flatten()

        def rows(w: torch.Tensor, heads: int) -> torch.Tensor:
            return w.view(heads, self.head_dim, *w.shape[1:])[:, perm].reshape(w.shape)

        self.layers = []
        for layer in inner.layers:
            a, m = layer.self_attn, layer.mlp
            qkv_b = None
            if a.q_proj.bias is not None:
                qkv_b = torch.cat(
                    [
                        rows(a.q_proj.bias, self.num_heads),
                        rows(a.k_proj.bias, self.num_kv_heads),
                        a.v_proj.bias,
                    ]
                ).detach()
            gu_b = None
            if m.gate_proj.bias is not None:
                gu_b = torch.cat([m.gate_proj.bias, m.up_proj.bias]).detach()
            self.layers.append(
                {
                    "ln1": layer.input_layernorm.weight.detach(),
                    "ln2": layer.post_attention_layernorm.weight.detach(),
                    "qkv": torch.cat(
                        [
                            rows(a.q_proj.weight, self.num_heads),
                            rows(a.k_proj.weight, self.num_kv_heads),
                            a.v_proj.weight,
                        ]
                    ).detach(),
                    "qkv_b": qkv_b,
                    "o": a.o_proj.weight.detach(),
                    "o_b": None if a.o_proj.bias is None else a.o_proj.bias.detach(),
                    "gu": torch.cat([m.gate_proj.weight, m.up_proj.weight]).detach(),
                    "gu_b": gu_b,
                    "down": m.down_proj.weight.detach(),
                    "down_b": None if m.down_proj.bias is None else m.down_proj.bias.detach(),
                }
            )
        self._init_rope(cfg, inner.rotary_emb)
        self.q_size = self.num_heads * self.head_dim
        self.kv_size = self.num_kv_heads * self.head_dim
        self.inter = m.gate_proj.weight.shape[0]
        self.all_reduce = None  # set by ch14_inference.tensor_parallel on each rank

    def _init_rope(self, cfg: Any, rotary: torch.nn.Module) -> None:
        """The rotation table, or for ``dynamic`` RoPE the parameters to rebuild it per length."""
        params = getattr(cfg, "rope_parameters", None) or {}
        self.rope_type = getattr(rotary, "rope_type", None) or params.get("rope_type", "default")
        if self.rope_type not in STATIC_ROPE_TYPES | {"dynamic"}:
            raise UserError(
                f"RoPE type {self.rope_type!r} is not supported by PagedLlama: its frequencies "
                f"depend on the sequence length; supported: "
                f"{', '.join(sorted(STATIC_ROPE_TYPES | {'dynamic'}))}"
            )
        if self.rope_type == "dynamic":
            # dynamic NTK: past the trained context L0 = max_position_embeddings, a forward whose
            # sequence reaches length L rotates with base theta * (f*L/L0 - (f-1))^(d/(d-2))
            self.rope_original = int(cfg.max_position_embeddings)
            self.rope_factor = float(params["factor"])
            self.rope_theta = float(params["rope_theta"])
            self.max_positions = int(self.rope_original * self.rope_factor)
        inv_freq = getattr(rotary, "original_inv_freq", rotary.inv_freq).float().to(self.device)
        scale = float(getattr(rotary, "attention_scaling", 1.0))
        freqs = torch.arange(self.max_positions, device=self.device).float()[:, None] * inv_freq
        self.rope = torch.polar(torch.full_like(freqs, scale), freqs)  # scale * e^(i theta)

    def _rope_at(self, positions: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        """``(T, 1, head_dim/2)`` rotations for tokens at ``positions``.

        ``lengths`` is, per token, the length its sequence reaches at the end of this forward:
        only ``dynamic`` RoPE uses it, with transformers' rule (the frequencies follow the longest
        position of the forward; keys already in the cache keep the rotation they were written
        with), applied per sequence.
        """
        if self.rope_type != "dynamic" or lengths is None:
            return self.rope[positions][:, None, :]
        d, f = self.head_dim, self.rope_factor
        length = torch.clamp(lengths, min=self.rope_original).float()
        base = self.rope_theta * ((f * length / self.rope_original) - (f - 1)) ** (d / (d - 2))
        exponents = torch.arange(0, d, 2, dtype=torch.int64, device=self.device).float() / d
        angles = positions.float()[:, None] * (1.0 / (base[:, None] ** exponents[None, :]))
        return torch.polar(torch.ones_like(angles), angles)[:, None, :]

    def to_state(self) -> dict[str, Any]:
        """Everything the forward needs, as plain tensors and values (for ``torch.save``)."""
        skip = {"hf_model", "config", "act", "all_reduce"}
        state = {k: v for k, v in vars(self).items() if k not in skip}
        cfg = self.config
        state["hidden_act"] = cfg.hidden_act
        state["config"] = {
            "model_type": cfg.model_type,
            "eos_token_id": getattr(cfg, "eos_token_id", None),
            "max_position_embeddings": cfg.max_position_embeddings,
        }
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> PagedLlama:
        """A :class:`PagedLlama` from :meth:`to_state` (no transformers model behind it)."""
        from types import SimpleNamespace

        model = cls.__new__(cls)
        state = dict(state)
        act = state.pop("hidden_act")
        model.config = SimpleNamespace(**state.pop("config"), hidden_act=act)
        model.__dict__.update(state)
        model.hf_model, model.all_reduce = None, None
        if act == "silu":
            model.act = F.silu
        else:
            from transformers.activations import ACT2FN

            model.act = ACT2FN[act]
        return model

    @classmethod
    def from_pretrained(cls, path: str, dtype: torch.dtype | None = None, device: str = "cpu"):
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype or torch.float32)
        return cls(model.to(device).eval())

    def kv_bytes_per_token(self, kv_dtype: str = "auto") -> int:
        """Cache bytes per token; ``int8`` adds one fp16 scale per token, layer and KV head."""
        if kv_dtype == "int8":
            return 2 * self.num_layers * self.num_kv_heads * (self.head_dim + 2)
        return 2 * self.num_layers * self.kv_size * self.dtype.itemsize

    def new_stream_cache(self, capacity: int) -> torch.Tensor:
        """A cache for one sequence, head-major ``(layers, 2, kv_heads, capacity, head_dim)``."""
        shape = (self.num_layers, 2, self.num_kv_heads, capacity, self.head_dim)
        return torch.zeros(shape, dtype=self.dtype, device=self.device)

    def new_cache(self, num_blocks: int, block_size: int, kv_dtype: str = "auto") -> Any:
        """The paged cache ``(layers, 2, slots, kv_heads, head_dim)`` in the model's dtype, or
        for ``kv_dtype="int8"`` an :class:`Int8KVCache` (int8 values plus fp16 scales)."""
        shape = (self.num_layers, 2, num_blocks * block_size, self.num_kv_heads, self.head_dim)
        if kv_dtype == "int8":
            return Int8KVCache(
                torch.zeros(shape, dtype=torch.int8, device=self.device),
                torch.zeros((*shape[:-1], 1), dtype=torch.float16, device=self.device),
            )
        if kv_dtype != "auto":
            raise ValueError("kv_dtype must be 'auto' or 'int8'")
        return torch.zeros(shape, dtype=self.dtype, device=self.device)

    def _rms(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        # transformers' LlamaRMSNorm: statistics in fp32, weight applied in the input dtype
        if x.dtype == torch.float32:
            return F.rms_norm(x, (x.shape[-1],), w, self.eps)  # one fused op
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return w * h.to(x.dtype)

    def _reduce(self, y: torch.Tensor) -> torch.Tensor:
        """Sum partial outputs across tensor-parallel ranks (identity on one process)."""
        if self.all_reduce is not None:
            self.all_reduce(y)
        return y

    def _qkv(self, h: torch.Tensor, lw: dict, rope: torch.Tensor):
        """Project to q, k, v (``(T, heads, head_dim)``) and rotate q and k in one multiply."""
        t = h.shape[0]
        qkv = F.linear(h, lw["qkv"], lw["qkv_b"])
        qk = qkv[:, : self.q_size + self.kv_size].float().reshape(t, -1, self.head_dim // 2, 2)
        qk = torch.view_as_real(torch.view_as_complex(qk) * rope).reshape(t, -1, self.head_dim)
        qk = qk.to(h.dtype)
        v = qkv[:, self.q_size + self.kv_size :].reshape(t, self.num_kv_heads, self.head_dim)
        return qk[:, : self.num_heads], qk[:, self.num_heads :], v

    def _attend(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        """softmax(q k^T / sqrt(d)) v with GQA: q ``(B, Q, H, hd)``, k/v ``(B, kvh, K, hd)``.

        The query heads that share a KV head are folded into the rows of one matmul (no
        ``repeat_interleave`` of the keys), and k/v arrive head-major so the matmuls read them in
        place. ``mask`` is ``(B, Q, K)``; returns ``(B, Q, H, hd)``.
        """
        b, nq, _, hd = q.shape
        kvh, g = self.num_kv_heads, self.num_heads // self.num_kv_heads
        q = q.view(b, nq, kvh, g, hd).permute(0, 2, 3, 1, 4).reshape(b, kvh, g * nq, hd)
        scores = torch.matmul(q, k.transpose(-1, -2)) * (hd**-0.5)  # (B, kvh, g*Q, K)
        if mask is not None:
            scores = scores.view(b, kvh, g, nq, -1).masked_fill(~mask[:, None, None], float("-inf"))
        probs = scores.view(b, kvh, g * nq, -1).softmax(-1, dtype=torch.float32).to(q.dtype)
        out = torch.matmul(probs, v)  # (B, kvh, g*Q, hd)
        return out.view(b, kvh, g, nq, hd).permute(0, 3, 1, 2, 4).reshape(b, nq, kvh * g, hd)

    @torch.inference_mode()
    def forward_contiguous(
        self, input_ids: torch.Tensor, start: int, cache: torch.Tensor, all_logits: bool = False
    ) -> torch.Tensor:
        """One sequence in a :meth:`new_stream_cache` (its tokens at positions ``0..`` in order).

        The fast path for single-stream decoding (speculative decoding): keys are a slice of the
        cache, not a gather, and a one-token step needs no mask. Same maths as :meth:`forward`.
        """
        t = input_ids.shape[0]
        end = start + t
        positions = torch.arange(start, end, device=self.device)
        rope = self._rope_at(positions, torch.full_like(positions, end))
        mask = None
        if t > 1:
            k_idx = torch.arange(end, device=self.device)
            mask = k_idx[None, :] <= torch.arange(start, end, device=self.device)[:, None]
            mask = mask[None]
        x = self.embed[input_ids]
        for i, lw in enumerate(self.layers):
            q, k, v = self._qkv(self._rms(x, lw["ln1"]), lw, rope)
            cache[i, 0, :, start:end] = k.transpose(0, 1)
            cache[i, 1, :, start:end] = v.transpose(0, 1)
            out = self._attend(
                q[None], cache[i, 0, None, :, :end], cache[i, 1, None, :, :end], mask
            )
            x = x + self._reduce(F.linear(out.reshape(t, self.q_size), lw["o"], lw["o_b"]))
            h = self._rms(x, lw["ln2"])
            gate, up = F.linear(h, lw["gu"], lw["gu_b"]).split([self.inter, self.inter], dim=-1)
            x = x + self._reduce(F.linear(self.act(gate) * up, lw["down"], lw["down_b"]))
        x = x if all_logits else x[-1:]
        return F.linear(self._rms(x, self.norm), self.lm_head).float()

    @torch.inference_mode()
    def forward(self, batch: Batch, cache: Any) -> torch.Tensor:
        """Write the new tokens' keys/values into ``cache`` and return their logits (fp32)."""
        t = batch.input_ids.shape[0]
        lengths = None
        if self.rope_type == "dynamic":  # each token's sequence length after this step
            rows = torch.arange(batch.query_index.shape[0], device=self.device)
            lengths = batch.key_len[rows[:, None].expand_as(batch.query_index)[batch.query_valid]]
        rope = self._rope_at(batch.positions, lengths)
        # attention mask (B, 1, Qmax, Kmax): key j visible to the query at position p iff j <= p
        q_pos = torch.cat([batch.positions, batch.positions.new_zeros(1)])[batch.query_index]
        k_idx = torch.arange(batch.key_slots.shape[1], device=self.device)
        mask = (k_idx[None, None, :] <= q_pos[:, :, None]) & (
            k_idx[None, None, :] < batch.key_len[:, None, None]
        )
        pad = torch.zeros(1, self.num_heads, self.head_dim, dtype=self.dtype, device=self.device)
        # gather rows of the cache viewed as (slots * kv_heads, head_dim), in (B, kvh, K) order, so
        # the gathered keys and values are already head-major for the attention matmuls
        kvh = self.num_kv_heads
        heads = torch.arange(kvh, device=self.device)
        flat_rows = (batch.key_slots[:, None, :] * kvh + heads[None, :, None]).reshape(-1)
        kv_shape = (batch.key_slots.shape[0], kvh, batch.key_slots.shape[1], self.head_dim)
        x = self.embed[batch.input_ids]
        for i, lw in enumerate(self.layers):
            q, k, v = self._qkv(self._rms(x, lw["ln1"]), lw, rope)
            if isinstance(cache, Int8KVCache):
                keys = cache.write_and_gather(i, 0, batch.slot_mapping, k, flat_rows)
                values = cache.write_and_gather(i, 1, batch.slot_mapping, v, flat_rows)
                keys, values = keys.to(x.dtype).view(kv_shape), values.to(x.dtype).view(kv_shape)
            else:
                k_cache, v_cache = cache[i, 0], cache[i, 1]
                k_cache.index_copy_(0, batch.slot_mapping, k)
                v_cache.index_copy_(0, batch.slot_mapping, v)
                keys = k_cache.view(-1, self.head_dim).index_select(0, flat_rows).view(kv_shape)
                values = v_cache.view(-1, self.head_dim).index_select(0, flat_rows).view(kv_shape)
            queries = torch.cat([q, pad])[batch.query_index]  # (B, Qmax, H, hd)
            out = self._attend(queries, keys, values, mask)
            out = out[batch.query_valid].reshape(t, self.q_size)
            x = x + self._reduce(F.linear(out, lw["o"], lw["o_b"]))
            h = self._rms(x, lw["ln2"])
            gate, up = F.linear(h, lw["gu"], lw["gu_b"]).split([self.inter, self.inter], dim=-1)
            x = x + self._reduce(F.linear(self.act(gate) * up, lw["down"], lw["down_b"]))
        x = self._rms(x[batch.logits_index], self.norm)
        return F.linear(x, self.lm_head).float()


__all__ = ["STATIC_ROPE_TYPES", "Batch", "PagedLlama", "make_batch"]
