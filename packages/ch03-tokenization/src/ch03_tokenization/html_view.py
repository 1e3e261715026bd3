"""How each tokenizer cuts a text, as HTML: the static ``compare --html`` page and the dashboard.

Each token is a coloured span (its id and text in the tooltip); under each tokenizer, its token
count, characters per token, whether decoding gives the text back, and the ids. The static page
has no scripts and no external files; the live dashboard (:mod:`ch03_tokenization.dashboard`)
asks the server for the same sections (:func:`tokenizer_section`), so both look the same.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ch03_tokenization.base import Tokenizer

PALETTE = ["#fde68a", "#bfdbfe", "#bbf7d0", "#fecaca", "#ddd6fe", "#fbcfe8", "#c7d2fe", "#a7f3d0"]

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #111; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
h3 { font-size: 1rem; margin: 1.2rem 0 0.3rem; }
.tok { white-space: pre-wrap; font-family: ui-monospace, monospace; line-height: 1.9;
       border-radius: 3px; padding: 1px 0; }
.stats { color: #555; font-size: 0.9rem; margin: 0.2rem 0 0.3rem; }
details { font-size: 0.85rem; color: #444; margin-bottom: 0.6rem; }
code.ids { font-family: ui-monospace, monospace; word-break: break-all; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }
td, th { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
"""


@dataclass
class Anchor:
    """A production tokenizer shown next to ours: its encode function, each id's text and
    (optionally) its decode function and vocabulary size."""

    encode: Callable[[str], list[int]]
    piece: Callable[[int], str]
    decode: Callable[[list[int]], str] | None = None
    vocab_size: int | None = None


def token_surfaces(tokenizer: Tokenizer, ids: Sequence[int]) -> list[str]:
    """What each token stands for in the text (a partial UTF-8 character shows as �)."""
    return [
        tokenizer.decode([i]) if not hasattr(tokenizer, "word_pieces") else tokenizer.id_to_token(i)
        for i in ids
    ]


def token_view(tokenizer: Tokenizer | Anchor, text: str) -> dict[str, Any]:
    """One tokenizer on ``text``: ids, each token's text, count, chars/token, vocabulary size,
    and the decoded ids (``decoded``/``round_trip`` are None when there is no decoder)."""
    ids = list(tokenizer.encode(text))
    if isinstance(tokenizer, Anchor):
        surfaces = [tokenizer.piece(i) for i in ids]
        decoded = tokenizer.decode(ids) if tokenizer.decode is not None else None
        vocab = tokenizer.vocab_size
    else:
        surfaces = token_surfaces(tokenizer, ids)
        decoded = tokenizer.decode(ids)
        vocab = tokenizer.vocab_size
    return {
        "ids": ids,
        "tokens": surfaces,
        "count": len(ids),
        "chars_per_token": round(len(text) / max(1, len(ids)), 3),
        "vocab_size": vocab,
        "decoded": decoded,
        "round_trip": None if decoded is None else decoded == text,
    }


def spans_html(ids: Sequence[int], surfaces: Sequence[str]) -> str:
    """Coloured spans, one per token, the id and text in the tooltip."""
    spans = []
    for k, (token_id, surface) in enumerate(zip(ids, surfaces, strict=True)):
        colour = PALETTE[k % len(PALETTE)]
        title = html.escape(f"id {token_id}: {surface!r}", quote=True)
        spans.append(
            f'<span class="tok" style="background:{colour}" title="{title}">'
            f"{html.escape(surface)}</span>"
        )
    return "".join(spans)


def token_spans(tokenizer: Tokenizer | Anchor, text: str) -> tuple[str, int]:
    """The text as coloured spans, one per token; returns (html, token count)."""
    view = token_view(tokenizer, text)
    return spans_html(view["ids"], view["tokens"]), view["count"]


def tokenizer_section(name: str, view: Mapping[str, Any]) -> str:
    """One tokenizer's block: name, coloured tokens, stats line and the ids (collapsed)."""
    stats = f"{view['count']} tokens, {view['chars_per_token']:.2f} chars/token"
    if view.get("vocab_size"):
        stats += f", vocabulary {view['vocab_size']:,}"
    if view.get("round_trip") is not None:
        stats += ", decodes back exactly" if view["round_trip"] else ", decoding loses information"
    ids = " ".join(map(str, view["ids"]))
    return (
        f'<section class="tokenizer" data-tokenizer="{html.escape(name, quote=True)}">'
        f"<h3>{html.escape(name)}</h3>"
        f'<div class="spans">{spans_html(view["ids"], view["tokens"])}</div>'
        f'<p class="stats">{stats}</p>'
        f'<details><summary>ids</summary><code class="ids">{ids}</code></details></section>'
    )


def table_html(rows: Sequence[Mapping[str, Any]]) -> str:
    """A plain HTML table (columns from the first row), every cell escaped."""
    if not rows:
        return ""
    columns = list(rows[0])
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(row.get(c, '')))}</td>" for c in columns) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def render_html(
    tokenizers: Mapping[str, Tokenizer | Anchor],
    samples: Mapping[str, str],
    tables: Mapping[str, Sequence[Mapping[str, Any]]] = {},
) -> str:
    """The whole page: per sample text, per tokenizer, the coloured tokens; then the tables."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        "<title>ch03-tokenization: tokenizer comparison</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>How each tokenizer cuts the same text</h1>",
    ]
    for sample_name, text in samples.items():
        parts.append(f"<h2>{html.escape(sample_name)}</h2>")
        for name, tok in tokenizers.items():
            parts.append(tokenizer_section(name, token_view(tok, text)))
    for title, rows in tables.items():
        parts.append(f"<h2>{html.escape(title)}</h2>{table_html(rows)}")
    parts.append("</body></html>")
    return "\n".join(parts)


__all__ = [
    "STYLE",
    "Anchor",
    "render_html",
    "spans_html",
    "table_html",
    "token_spans",
    "token_view",
    "tokenizer_section",
]
