"""Shared fixtures: bundled corpora (small slices) and adversarial strings."""

from __future__ import annotations

import pytest

from llmpath_core.testing import cli_runner, use_offline_env

use_offline_env()

ADVERSARIAL = [
    "",
    " ",
    "   \t\t\n\n\n  ",
    "héllo wörld — naïve café, e\u0301 (combining acute), Å vs A\u030a",
    "emoji 🤖🎉👍🏽🇫🇷 and ZWJ 👩‍👩‍👧",
    "日本語のテキストと中文文本，한국어 텍스트",
    "def f(x):\n\treturn x**2  # comment\n\n\nclass A: pass\r\n",
    "don't I'M we'LL they've 123456789 3.14159 1,000,000",
    "Ω≈ç√∫˜µ≤≥÷ ∀∂∈ℝ ΣΊΣΥΦΟΣ İstanbul ß ﬁ ＡＢＣ",
    "\x00\x07\x1b[31m red \ufffd \u200b\u200d\u00a0\u2028\u3000",
    "a" * 300 + " " + "ab" * 200,
    "العربية हिन्दी русский ελληνικά",
]


@pytest.fixture(scope="session")
def cli():
    """``cli(*args)``: the console script in a subprocess (offline, one thread, no progress)."""
    return cli_runner("ch03_tokenization.cli")


@pytest.fixture(scope="session")
def adversarial() -> list[str]:
    return list(ADVERSARIAL)


@pytest.fixture(scope="session")
def stories_docs() -> list[str]:
    from llmpath_core import load_documents

    return load_documents("stories", max_chars=120_000)


@pytest.fixture(scope="session")
def pydoc_docs() -> list[str]:
    from llmpath_core import pydoc_prose

    return pydoc_prose("train")


@pytest.fixture(scope="session")
def held_out() -> dict[str, str]:
    from llmpath_core import load_text

    return {
        "stories": load_text("stories:validation", max_chars=60_000),
        "pydoc": load_text("pydoc:validation", max_chars=120_000),
    }
