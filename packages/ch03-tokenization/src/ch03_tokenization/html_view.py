"""``compare --html FILE``: one self-contained page showing how each tokenizer cuts the same text.

Each token is a coloured span (its id and text in the tooltip); under each tokenizer, its token
count and characters per token. No scripts, no external files: open it anywhere.
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
.tok { white-space: pre-wrap; font-family: ui-monospace, monospace; line-height: 1.9;
       border-radius: 3px; padding: 1px 0; }
.stats { color: #555; font-size: 0.9rem; margin: 0.2rem 0 0.6rem; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }
td, th { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
"""


@dataclass
class Anchor:
    """A production tokenizer shown next to ours: its encode function and each id's text."""

    encode: Callable[[str], list[int]]
    piece: Callable[[int], str]


def token_surfaces(tokenizer: Tokenizer, ids: Sequence[int]) -> list[str]:
    """What each token stands for in the text (a partial UTF-8 character shows as �)."""
    return [
        tokenizer.decode([i]) if not hasattr(tokenizer, "word_pieces") else tokenizer.id_to_token(i)
        for i in ids
    ]


def token_spans(tokenizer: Tokenizer | Anchor, text: str) -> tuple[str, int]:
    """The text as coloured spans, one per token; returns (html, token count)."""
    ids = tokenizer.encode(text)
    if isinstance(tokenizer, Anchor):
        surfaces = [tokenizer.piece(i) for i in ids]
    else:
        surfaces = token_surfaces(tokenizer, ids)
    spans = []
    for k, (token_id, surface) in enumerate(zip(ids, surfaces, strict=True)):
        colour = PALETTE[k % len(PALETTE)]
        title = html.escape(f"id {token_id}: {surface!r}", quote=True)
        spans.append(
            f'<span class="tok" style="background:{colour}" title="{title}">'
            f"{html.escape(surface)}</span>"
        )
    return "".join(spans), len(ids)


def _table(rows: Sequence[Mapping[str, Any]]) -> str:
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
            spans, count = token_spans(tok, text)
            per = len(text) / max(1, count)
            parts.append(
                f"<h3>{html.escape(name)}</h3><div>{spans}</div>"
                f'<p class="stats">{count} tokens, {per:.2f} chars/token</p>'
            )
    for title, rows in tables.items():
        parts.append(f"<h2>{html.escape(title)}</h2>{_table(rows)}")
    parts.append("</body></html>")
    return "\n".join(parts)


__all__ = ["Anchor", "render_html", "token_spans"]
