"""Loading Hugging Face model folders into our modules, and saving ours as one.

A folder holds ``config.json`` and the weights (``model.safetensors``, a sharded
``model.safetensors.index.json``, or ``pytorch_model.bin``). :func:`from_pretrained` reads the
architecture from ``config.json`` (``model_type`` llama, gpt2 or bert), builds our model with the
same shape and copies the tensors in by name. The only real conversion is GPT-2's: its ``Conv1D``
weights are stored transposed and q/k/v are fused in ``c_attn``. :func:`save_pretrained` writes our
Llama-style decoder in transformers' layout, so ``LlamaForCausalLM.from_pretrained`` reads it.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ch05_transformer.bert import BertConfig, BertEncoder
from ch05_transformer.gpt2 import GPT2Config, GPT2Decoder
from ch05_transformer.llama import LlamaConfig, LlamaDecoder
from ch05_transformer.rope import RopeScaling
from llmpath_core import UserError, atomic_dir

SUPPORTED = ("llama", "gpt2", "bert")


def read_config(path: str | Path) -> dict[str, Any]:
    """``config.json`` of a model folder, with clean errors for a missing or foreign folder."""
    folder = Path(path)
    if not folder.is_dir():
        raise UserError(f"no model folder at {folder}: give a folder holding config.json + weights")
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise UserError(f"{folder} has no config.json: is it a Hugging Face model folder?")
    try:
        config = json.loads(config_file.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"{config_file} is not valid JSON: {exc}") from None
    model_type = config.get("model_type")
    if model_type not in SUPPORTED:
        raise UserError(
            f"unsupported architecture {model_type!r} in {config_file}: "
            f"ch05 loads {', '.join(SUPPORTED)} folders"
        )
    return config


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Every tensor of a model folder, by its transformers name."""
    from safetensors.torch import load_file

    folder = Path(path)
    if (folder / "model.safetensors").is_file():
        return load_file(folder / "model.safetensors")
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        state: dict[str, torch.Tensor] = {}
        for shard in shards:
            state.update(load_file(folder / shard))
        return state
    if (folder / "pytorch_model.bin").is_file():
        return torch.load(folder / "pytorch_model.bin", map_location="cpu", weights_only=True)
    raise UserError(f"{folder} has no model.safetensors or pytorch_model.bin weights")


def _rope(config: dict[str, Any]) -> tuple[float, RopeScaling | None]:
    """``(theta, scaling)`` from transformers 5's ``rope_parameters`` or the legacy fields."""
    params = config.get("rope_parameters") or config.get("rope_scaling") or {}
    rope_type = params.get("rope_type", params.get("type", "default"))
    theta = float(params.get("rope_theta", config.get("rope_theta", 10000.0)))
    if params.get("partial_rotary_factor", 1.0) != 1.0:
        raise UserError("RoPE partial_rotary_factor != 1 is not supported by ch05")
    if rope_type == "default":
        return theta, None
    if rope_type == "linear":
        return theta, RopeScaling("linear", float(params["factor"]))
    if rope_type == "llama3":
        return theta, RopeScaling(
            "llama3",
            float(params["factor"]),
            float(params["low_freq_factor"]),
            float(params["high_freq_factor"]),
            int(params["original_max_position_embeddings"]),
        )
    raise UserError(f"RoPE type {rope_type!r} is not supported by ch05 (default, linear, llama3)")


def llama_config_from_hf(config: dict[str, Any], attn_impl: str = "sdpa") -> LlamaConfig:
    if config.get("hidden_act", "silu") != "silu":
        raise UserError(f"Llama hidden_act {config['hidden_act']!r} is not supported (only silu)")
    theta, scaling = _rope(config)
    return LlamaConfig(
        vocab_size=config["vocab_size"],
        hidden_size=config["hidden_size"],
        intermediate_size=config["intermediate_size"],
        num_layers=config["num_hidden_layers"],
        num_heads=config["num_attention_heads"],
        num_kv_heads=config.get("num_key_value_heads") or config["num_attention_heads"],
        head_dim=config.get("head_dim"),
        max_position_embeddings=config.get("max_position_embeddings", 2048),
        rope_theta=theta,
        rope_scaling=scaling,
        rms_norm_eps=config.get("rms_norm_eps", 1e-6),
        tie_word_embeddings=config.get("tie_word_embeddings", False),
        attention_bias=config.get("attention_bias", False),
        mlp_bias=config.get("mlp_bias", False),
        attn_impl=attn_impl,
    )


def gpt2_config_from_hf(config: dict[str, Any], attn_impl: str = "sdpa") -> GPT2Config:
    act = config.get("activation_function", "gelu_new")
    approximate = {"gelu_new": "tanh", "gelu_pytorch_tanh": "tanh", "gelu": "none"}.get(act)
    if approximate is None:
        raise UserError(f"GPT-2 activation_function {act!r} is not supported")
    if config.get("scale_attn_by_inverse_layer_idx") or config.get("reorder_and_upcast_attn"):
        raise UserError("GPT-2 scale_attn_by_inverse_layer_idx/reorder_and_upcast_attn unsupported")
    return GPT2Config(
        vocab_size=config["vocab_size"],
        n_positions=config["n_positions"],
        n_embd=config["n_embd"],
        n_layer=config["n_layer"],
        n_head=config["n_head"],
        n_inner=config.get("n_inner"),
        layer_norm_epsilon=config.get("layer_norm_epsilon", 1e-5),
        activation=approximate,
        attn_impl=attn_impl,
    )


def bert_config_from_hf(config: dict[str, Any], attn_impl: str = "sdpa") -> BertConfig:
    if config.get("hidden_act", "gelu") != "gelu":
        raise UserError(f"BERT hidden_act {config['hidden_act']!r} is not supported (only gelu)")
    if config.get("position_embedding_type", "absolute") != "absolute":
        raise UserError("BERT position_embedding_type must be 'absolute'")
    return BertConfig(
        vocab_size=config["vocab_size"],
        hidden_size=config["hidden_size"],
        num_layers=config["num_hidden_layers"],
        num_heads=config["num_attention_heads"],
        intermediate_size=config["intermediate_size"],
        max_position_embeddings=config["max_position_embeddings"],
        type_vocab_size=config.get("type_vocab_size", 2),
        layer_norm_eps=config.get("layer_norm_eps", 1e-12),
        pad_token_id=config.get("pad_token_id", 0) or 0,
        attn_impl=attn_impl,
    )


def _strip(state: dict[str, torch.Tensor], prefixes: tuple[str, ...]) -> dict[str, torch.Tensor]:
    out = {}
    for name, tensor in state.items():
        for prefix in prefixes:
            if name.startswith(prefix):
                name = name[len(prefix) :]
                break
        out[name] = tensor
    return out


def _llama_state(state: dict[str, torch.Tensor], cfg: LlamaConfig) -> dict[str, torch.Tensor]:
    state = _strip(state, ("model.",))
    state = {k: v for k, v in state.items() if not k.endswith("rotary_emb.inv_freq")}
    if cfg.tie_word_embeddings or "lm_head.weight" not in state:
        state["lm_head.weight"] = state["embed_tokens.weight"]
    return state


def _gpt2_state(state: dict[str, torch.Tensor], cfg: GPT2Config) -> dict[str, torch.Tensor]:
    state = _strip(state, ("transformer.",))
    out: dict[str, torch.Tensor] = {}
    for name, w in state.items():
        if name.endswith((".attn.bias", ".attn.masked_bias")) or name == "lm_head.weight":
            continue  # causal-mask buffers; the LM head is tied to wte
        if ".attn.c_attn." in name:
            prefix = name.split(".attn.c_attn.")[0] + ".attn."
            kind = name.rsplit(".", 1)[1]
            parts = w.t().chunk(3, dim=0) if kind == "weight" else w.chunk(3, dim=0)
            for proj, part in zip(("q_proj", "k_proj", "v_proj"), parts, strict=True):
                out[f"{prefix}{proj}.{kind}"] = part.contiguous()
            continue
        # Conv1D stores (in, out): transpose into nn.Linear's (out, in)
        renames = {
            ".attn.c_proj.": ".attn.o_proj.",
            ".mlp.c_fc.": ".mlp.fc_in.",
            ".mlp.c_proj.": ".mlp.fc_out.",
        }
        for old, new in renames.items():
            if old in name:
                name = name.replace(old, new)
                if name.endswith(".weight"):
                    w = w.t().contiguous()
                break
        out[name] = w
    return out


def _bert_state(state: dict[str, torch.Tensor], cfg: BertConfig) -> dict[str, torch.Tensor]:
    state = _strip(state, ("bert.",))
    renames = [
        ("encoder.layer.", "layers."),
        (".attention.self.query.", ".attn.q_proj."),
        (".attention.self.key.", ".attn.k_proj."),
        (".attention.self.value.", ".attn.v_proj."),
        (".attention.output.dense.", ".attn.o_proj."),
        (".attention.output.LayerNorm.", ".attn_norm."),
        (".intermediate.dense.", ".mlp.fc_in."),
        (".output.dense.", ".mlp.fc_out."),
        (".output.LayerNorm.", ".mlp_norm."),
        (".gamma", ".weight"),
        (".beta", ".bias"),
    ]
    out = {}
    for name, w in state.items():
        if name.startswith(("pooler.", "cls.")) or name.endswith("position_ids"):
            continue  # the pooler/MLM heads are not part of the encoder's hidden states
        if name.startswith("embeddings.LayerNorm."):
            name = "embed_norm." + name[len("embeddings.LayerNorm.") :]
        elif name.startswith("embeddings."):
            name = name[len("embeddings.") :]
        for old, new in renames:
            name = name.replace(old, new)
        out[name] = w
    return out


def load_weights(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Copy ``state`` into ``model`` strictly: every tensor present, every shape equal."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise UserError(
            f"weights of {source} do not match the config: missing {missing[:3]}, "
            f"unexpected {unexpected[:3]}"
        )
    for name, tensor in state.items():
        if tuple(tensor.shape) != tuple(own[name].shape):
            raise UserError(
                f"weights of {source} do not match the config: {name} has shape "
                f"{tuple(tensor.shape)}, expected {tuple(own[name].shape)}"
            )
    model.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)


def from_pretrained(
    path: str | Path, *, attn_impl: str = "sdpa"
) -> LlamaDecoder | GPT2Decoder | BertEncoder:
    """Load a local HF model folder (Llama, GPT-2 or BERT) into our modules, in float32, eval mode.

    Decoders return logits ``(batch, seq, vocab)`` when called on token ids; the encoder returns
    its last hidden states ``(batch, seq, hidden)``.
    """
    config = read_config(path)
    state = load_state_dict(path)
    kind = config["model_type"]
    model: LlamaDecoder | GPT2Decoder | BertEncoder
    if kind == "llama":
        lcfg = llama_config_from_hf(config, attn_impl)
        model, state = LlamaDecoder(lcfg), _llama_state(state, lcfg)
    elif kind == "gpt2":
        gcfg = gpt2_config_from_hf(config, attn_impl)
        model, state = GPT2Decoder(gcfg), _gpt2_state(state, gcfg)
    else:
        bcfg = bert_config_from_hf(config, attn_impl)
        model, state = BertEncoder(bcfg), _bert_state(state, bcfg)
    load_weights(model, state, str(path))
    return model.eval()


def _rope_parameters(cfg: LlamaConfig) -> dict[str, Any]:
    params: dict[str, Any] = {"rope_type": "default", "rope_theta": cfg.rope_theta}
    if cfg.rope_scaling is not None:
        params.update(asdict(cfg.rope_scaling))
        if cfg.rope_scaling.rope_type == "linear":
            params = {k: params[k] for k in ("rope_type", "rope_theta", "factor")}
    return params


def save_pretrained(
    model: LlamaDecoder, path: str | Path, extra_files: dict[str, str] | None = None
):
    """Write our Llama-style decoder as a transformers ``LlamaForCausalLM`` folder (atomically)."""
    from safetensors.torch import save_file

    cfg = model.config
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.hidden_size,
        "intermediate_size": cfg.intermediate_size,
        "num_hidden_layers": cfg.num_layers,
        "num_attention_heads": cfg.num_heads,
        "num_key_value_heads": cfg.num_kv_heads,
        "head_dim": cfg.resolved_head_dim,
        "max_position_embeddings": cfg.max_position_embeddings,
        "rms_norm_eps": cfg.rms_norm_eps,
        "rope_parameters": _rope_parameters(cfg),
        "hidden_act": "silu",
        "tie_word_embeddings": cfg.tie_word_embeddings,
        "attention_bias": cfg.attention_bias,
        "mlp_bias": cfg.mlp_bias,
        "torch_dtype": "float32",
    }
    state = {}
    for name, tensor in model.state_dict().items():
        if name == "lm_head.weight" and cfg.tie_word_embeddings:
            continue
        key = name if name.startswith("lm_head.") else f"model.{name}"
        state[key] = tensor.detach().contiguous().cpu()
    with atomic_dir(path) as tmp:
        save_file(state, str(Path(tmp) / "model.safetensors"), metadata={"format": "pt"})
        (Path(tmp) / "config.json").write_text(json.dumps(config, indent=2))
        for name, text in (extra_files or {}).items():
            (Path(tmp) / name).write_text(text)
    return Path(path)


def load_tokenizer(path: str | Path):
    """The ``tokenizers.Tokenizer`` of a model folder (its ``tokenizer.json``)."""
    from tokenizers import Tokenizer

    file = Path(path) / "tokenizer.json"
    if not file.is_file():
        raise UserError(
            f"{path} has no tokenizer.json: pass token ids or a folder with a tokenizer"
        )
    tokenizer = Tokenizer.from_file(str(file))
    tokenizer.no_padding()  # some folders (MiniLM) pad every text to a fixed length
    return tokenizer


__all__ = [
    "SUPPORTED",
    "from_pretrained",
    "load_state_dict",
    "load_tokenizer",
    "read_config",
    "save_pretrained",
]
