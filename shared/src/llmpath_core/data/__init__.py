"""Bundled data: synthetic stories, CPython's documentation prose, their mix, and ``load_text``."""

from llmpath_core.data.loader import BUNDLED, load_documents, load_text, mix_documents
from llmpath_core.data.prose import all_prose, docstring_prose
from llmpath_core.data.pydoc import pydoc_prose, pydoc_topics
from llmpath_core.data.stories import generate_story, iter_stories, tiny_stories

__all__ = [
    "BUNDLED",
    "all_prose",
    "docstring_prose",
    "generate_story",
    "iter_stories",
    "load_documents",
    "load_text",
    "mix_documents",
    "pydoc_prose",
    "pydoc_topics",
    "tiny_stories",
]
