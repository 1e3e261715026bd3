"""Load a Hugging Face Mamba, Mamba-2, RWKV or Mixtral folder into ours and compare logits.

The folder's ``config.json`` says which architecture it is; its weights go into both the
``transformers`` model and ours (same parameter names, so the ``state_dict`` loads unchanged),
and both run on the same random token ids.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from llmpath_core import UserError

SUPPORTED = {
    "mamba": "MambaForCausalLM",
    "rwkv": "RwkvForCausalLM",
    "mixtral": "MixtralForCausalLM",
    "mamba2": "Mamba2ForCausalLM",
}


def ours_from_hf_config(config: Any) -> torch.nn.Module:
    """Our model for a ``transformers`` Mamba/Mamba-2/RWKV/Mixtral config (no weights yet)."""
    kind = config.model_type
    if kind == "mamba":
        from ch15_architectures.mamba import MambaConfig, MambaLM

        if config.hidden_act != "silu":
            raise UserError(f"Mamba with hidden_act={config.hidden_act!r} is not supported (silu)")
        return MambaLM(
            MambaConfig(
                vocab_size=config.vocab_size,
                hidden_size=config.hidden_size,
                num_hidden_layers=config.num_hidden_layers,
                state_size=config.state_size,
                expand=config.expand,
                conv_kernel=config.conv_kernel,
                time_step_rank=int(config.time_step_rank),
                layer_norm_epsilon=config.layer_norm_epsilon,
                use_bias=config.use_bias,
                use_conv_bias=config.use_conv_bias,
                tie_word_embeddings=config.tie_word_embeddings,
            )
        )
    if kind == "mamba2":
        from ch15_architectures.mamba2 import Mamba2Config, Mamba2LM

        if config.hidden_act != "silu":
            raise UserError(f"Mamba-2 with hidden_act={config.hidden_act!r} is not supported")
        return Mamba2LM(
            Mamba2Config(
                vocab_size=config.vocab_size,
                hidden_size=config.hidden_size,
                num_hidden_layers=config.num_hidden_layers,
                num_heads=config.num_heads,
                head_dim=config.head_dim,
                state_size=config.state_size,
                n_groups=config.n_groups,
                expand=int(config.expand),
                conv_kernel=config.conv_kernel,
                chunk_size=config.chunk_size,
                layer_norm_epsilon=config.layer_norm_epsilon,
                use_bias=config.use_bias,
                use_conv_bias=config.use_conv_bias,
                time_step_limit=tuple(config.time_step_limit),
                tie_word_embeddings=config.tie_word_embeddings,
            )
        )
    if kind == "rwkv":
        from ch15_architectures.rwkv import RwkvConfig, RwkvLM

        return RwkvLM(
            RwkvConfig(
                vocab_size=config.vocab_size,
                hidden_size=config.hidden_size,
                num_hidden_layers=config.num_hidden_layers,
                attention_hidden_size=config.attention_hidden_size,
                intermediate_size=config.intermediate_size,
                layer_norm_epsilon=config.layer_norm_epsilon,
                tie_word_embeddings=config.tie_word_embeddings,
            )
        )
    if kind == "mixtral":
        from ch15_architectures.mixtral import MixtralConfig, MixtralLM

        rope = dict(getattr(config, "rope_parameters", None) or {})
        if rope.get("rope_type", "default") != "default":
            raise UserError(f"Mixtral with rope_type={rope['rope_type']!r} is not supported")
        if config.hidden_act != "silu":
            raise UserError(f"Mixtral with hidden_act={config.hidden_act!r} is not supported")
        return MixtralLM(
            MixtralConfig(
                vocab_size=config.vocab_size,
                hidden_size=config.hidden_size,
                intermediate_size=config.intermediate_size,
                num_hidden_layers=config.num_hidden_layers,
                num_attention_heads=config.num_attention_heads,
                num_key_value_heads=config.num_key_value_heads,
                head_dim=getattr(config, "head_dim", None),
                num_local_experts=config.num_local_experts,
                num_experts_per_tok=config.num_experts_per_tok,
                rms_norm_eps=config.rms_norm_eps,
                rope_theta=float(rope.get("rope_theta", 1e6)),
                sliding_window=config.sliding_window,
                tie_word_embeddings=config.tie_word_embeddings,
            )
        )
    raise UserError(
        f"unsupported architecture {kind!r}: parity needs a Mamba, Mamba-2, RWKV or Mixtral "
        "model folder"
    )


def load_pair(model_dir: str | Path) -> tuple[str, torch.nn.Module, torch.nn.Module]:
    """``(arch, transformers model, our model)`` with the folder's weights, both in eval mode."""
    from transformers import AutoConfig, AutoModelForCausalLM

    path = Path(model_dir)
    if not (path / "config.json").is_file():
        raise UserError(f"{path}: not a Hugging Face model folder (no config.json)")
    try:
        config = AutoConfig.from_pretrained(path, local_files_only=True)
    except (ValueError, OSError, KeyError) as exc:
        raise UserError(f"{path}: unreadable config.json ({str(exc).splitlines()[0]})") from None
    if config.model_type not in SUPPORTED:
        arch = ", ".join(getattr(config, "architectures", None) or [config.model_type])
        raise UserError(
            f"unsupported architecture {arch} in {path}: "
            f"parity loads {', '.join(SUPPORTED.values())} folders"
        )
    ours = ours_from_hf_config(config)
    hf = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=torch.float32)
    hf.eval()
    # copy before transformers' first forward: RWKV rescales its weights in place at inference
    state = {k: v.clone() for k, v in hf.state_dict().items()}
    missing, unexpected = ours.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("lm_head.weight") and k != "head.weight"]
    if missing or unexpected:
        raise UserError(
            f"{path}: weights do not match the architecture ({(missing + unexpected)[:3]})"
        )
    return config.model_type, hf, ours.eval()


def parity(
    model_dir: str | Path, seq_len: int = 32, batch: int = 2, seed: int = 0
) -> dict[str, Any]:
    """Max absolute logit difference between ``transformers`` and ours on random ids."""
    if seq_len < 1 or batch < 1:
        raise UserError("seq_len and batch must be at least 1")
    arch, hf, ours = load_pair(model_dir)
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, hf.config.vocab_size, (batch, seq_len), generator=gen)
    with torch.no_grad():
        theirs = hf(input_ids=ids).logits.float()
        mine = ours(ids).logits.float()
        result: dict[str, Any] = {
            "arch": arch,
            "max_abs_diff": float((theirs - mine).abs().max()),
            "max_abs_logit": float(theirs.abs().max()),
            "batch": batch,
            "seq_len": seq_len,
            "parameters": sum(p.numel() for p in ours.parameters()),
            "reference": type(hf).__name__,
        }
        if arch == "rwkv":
            result["recurrent_vs_parallel"] = float(
                (ours.forward_recurrent(ids) - mine).abs().max()
            )
        if arch == "mixtral":
            from transformers.models.mixtral.modeling_mixtral import load_balancing_loss_func

            out = hf(input_ids=ids, output_router_logits=True)
            ref = load_balancing_loss_func(
                out.router_logits, hf.config.num_local_experts, hf.config.num_experts_per_tok
            )
            result["aux_loss_diff"] = float(abs(ref - ours(ids).aux_loss))
    return result


def save_tiny_reference(arch: str, path: str | Path, seed: int = 0) -> Path:
    """Save a tiny random ``transformers`` model of ``arch`` (mamba, rwkv, mixtral, mamba2)."""
    import transformers

    torch.manual_seed(seed)
    if arch == "mamba":
        config = transformers.MambaConfig(
            vocab_size=128, hidden_size=32, num_hidden_layers=2, state_size=8
        )
        model = transformers.MambaForCausalLM(config)
    elif arch == "rwkv":
        config = transformers.RwkvConfig(
            vocab_size=128, hidden_size=32, num_hidden_layers=2, context_length=128
        )
        model = transformers.RwkvForCausalLM(config)
    elif arch == "mixtral":
        config = transformers.MixtralConfig(
            vocab_size=128,
            hidden_size=32,
            intermediate_size=48,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            num_local_experts=4,
            max_position_embeddings=128,
        )
        model = transformers.MixtralForCausalLM(config)
    elif arch == "mamba2":
        config = transformers.Mamba2Config(
            vocab_size=128,
            hidden_size=32,
            num_hidden_layers=2,
            num_heads=8,
            head_dim=8,
            state_size=8,
            n_groups=2,
            chunk_size=16,
        )
        model = transformers.Mamba2ForCausalLM(config)
    else:
        raise UserError(f"unknown architecture {arch!r}: choose {', '.join(SUPPORTED)}")
    model.save_pretrained(path)
    return Path(path)
