"""Looking inside attention: per-head weight maps, heatmaps, and a per-head summary.

For our models, :func:`attention_maps` asks every :class:`MultiHeadAttention` to keep its weights
``softmax(q kᵀ/√d + mask)`` during one forward pass; for a transformers model,
:func:`hf_attention_maps` uses ``output_attentions=True`` with the eager implementation. Two
numbers summarise a head (as in Clark et al., 2019, "What does BERT look at?"): its *entropy*
(nats; low = focused on few tokens, ``ln n`` = uniform) and its mean *distance* ``Σ p_ij |i - j|``
(how far back or ahead it looks).
"""

from __future__ import annotations

from pathlib import Path

import torch

from ch05_transformer.attention import MultiHeadAttention


@torch.no_grad()
def attention_maps(
    model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Attention weights of every layer of one of our models: ``(layers, batch, heads, t, t)``."""
    layers = [m for m in model.modules() if isinstance(m, MultiHeadAttention)]
    for m in layers:
        m.keep_probabilities = True
    try:
        model(input_ids, attention_mask) if attention_mask is not None else model(input_ids)
        return torch.stack([m.last_probabilities for m in layers])
    finally:
        for m in layers:
            m.keep_probabilities, m.last_probabilities = False, None


@torch.no_grad()
def hf_attention_maps(
    path: str | Path, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """The same maps from transformers (eager attention, ``output_attentions=True``)."""
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(path), attn_implementation="eager").eval()
    out = model(input_ids=input_ids, attention_mask=attention_mask, output_attentions=True)
    return torch.stack(out.attentions)


def head_summary(maps: torch.Tensor, attention_mask: torch.Tensor | None = None) -> list[dict]:
    """Entropy and mean distance of each (layer, head), averaged over real query tokens."""
    n_layers, b, n_heads, t, s = maps.shape
    q_pos = torch.arange(t)[:, None] + (s - t)
    distance = (q_pos - torch.arange(s)[None, :]).abs().float()
    entropy = -(maps * maps.clamp_min(1e-12).log()).sum(-1)  # (L, b, h, t)
    mean_dist = (maps * distance).sum(-1)
    valid = torch.ones(b, t) if attention_mask is None else attention_mask[:, -t:].float()
    weight = valid[None, :, None, :] / valid.sum()
    ent = (entropy * weight).sum(dim=(1, 3))
    dist = (mean_dist * weight).sum(dim=(1, 3))
    return [
        {
            "layer": layer,
            "head": head,
            "entropy": float(ent[layer, head]),
            "mean_distance": float(dist[layer, head]),
        }
        for layer in range(n_layers)
        for head in range(n_heads)
    ]


def plot_layer(
    maps: torch.Tensor, tokens: list[str], layer: int, path: str | Path, title: str = ""
) -> Path:
    """One PNG with a heatmap per head of ``layer`` (first sequence of the batch)."""
    import math

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from llmpath_core.report import save_figure

    heads = maps[layer, 0]
    cols = min(4, heads.shape[0])
    rows = math.ceil(heads.shape[0] / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.2 * rows), squeeze=False)
    for h, ax in enumerate(axes.flat):
        ax.axis("off")
        if h >= heads.shape[0]:
            continue
        ax.imshow(heads[h].numpy(), cmap="viridis", vmin=0, vmax=1)
        ax.set_title(f"head {h}", fontsize=9)
        if len(tokens) <= 24:
            ax.axis("on")
            ax.set_xticks(range(len(tokens)), tokens, rotation=90, fontsize=6)
            ax.set_yticks(range(len(tokens)), tokens, fontsize=6)
    fig.suptitle(title or f"layer {layer}")
    fig.tight_layout()
    try:
        return save_figure(fig, path)
    finally:
        plt.close(fig)


def text_attention_maps(
    folder: str | Path, text: str, *, from_transformers: bool = False
) -> tuple[torch.Tensor, list[str]]:
    """Maps ``(layers, 1, heads, t, t)`` and tokens of ``text`` under a model folder with a
    ``tokenizer.json``: our modules (llama, gpt2, bert) or, with ``from_transformers``,
    transformers itself (any architecture it can load with eager attention)."""
    import json

    from ch05_transformer.hf_loading import from_pretrained, load_tokenizer, read_config
    from llmpath_core import UserError

    folder = Path(folder)
    if from_transformers:
        if not (folder / "config.json").is_file():
            raise UserError(f"{folder} has no config.json: is it a Hugging Face model folder?")
        config = json.loads((folder / "config.json").read_text())
        limit = config.get("max_position_embeddings") or config.get("n_positions")
    else:
        read_config(folder)
        ours = from_pretrained(folder)
        limit = ours.max_positions
    encoding = load_tokenizer(folder).encode(text)
    if limit and len(encoding.ids) > limit:
        raise UserError(f"the text is {len(encoding.ids)} tokens; the model takes {limit}")
    ids = torch.tensor([encoding.ids])
    if not from_transformers:
        return attention_maps(ours, ids), encoding.tokens
    try:
        return hf_attention_maps(folder, ids), encoding.tokens
    except (ValueError, OSError, KeyError) as exc:
        raise UserError(f"transformers cannot load {folder}: {str(exc).splitlines()[0]}") from None


def layer_summary(heads: list[dict]) -> list[dict]:
    """Per layer: mean entropy and distance over its heads, and its most focused head."""
    rows = []
    for layer in sorted({h["layer"] for h in heads}):
        in_layer = [h for h in heads if h["layer"] == layer]
        focused = min(in_layer, key=lambda h: h["entropy"])
        rows.append(
            {
                "layer": layer,
                "mean_entropy": sum(h["entropy"] for h in in_layer) / len(in_layer),
                "mean_distance": sum(h["mean_distance"] for h in in_layer) / len(in_layer),
                "most_focused_head": focused["head"],
                "its_entropy": focused["entropy"],
            }
        )
    return rows


def attention_report(
    folder: str | Path,
    text: str,
    out_dir: str | Path,
    *,
    layers: list[int] | None = None,
    from_transformers: bool = False,
    name: str | None = None,
) -> dict:
    """The attention-plot lab: a heatmap PNG per requested layer (default: all) in ``out_dir``,
    each head's entropy and mean distance, and a per-layer summary."""
    from llmpath_core import UserError

    folder = Path(folder)
    maps, tokens = text_attention_maps(folder, text, from_transformers=from_transformers)
    n_layers = maps.shape[0]
    layers = layers or list(range(n_layers))
    bad = [layer for layer in layers if not 0 <= layer < n_layers]
    if bad:
        raise UserError(f"--layer {bad[0]} is out of range: the model has layers 0..{n_layers - 1}")
    name = (name or folder.name) + ("-transformers" if from_transformers else "")
    pngs = [
        str(
            plot_layer(
                maps,
                tokens,
                layer,
                Path(out_dir) / f"{name}-layer{layer}.png",
                title=f"{name}: layer {layer}",
            )
        )
        for layer in layers
    ]
    heads = head_summary(maps)
    return {
        "model": str(folder),
        "name": name,
        "tokens": tokens,
        "pngs": pngs,
        "layers": layer_summary(heads),
        "heads": heads,
    }


__all__ = [
    "attention_maps",
    "attention_report",
    "head_summary",
    "hf_attention_maps",
    "layer_summary",
    "plot_layer",
    "text_attention_maps",
]
