"""Bundled data: synthetic tiny stories, CPython's documentation prose, and ``load_text``."""

from llmpath_core.data.loader import BUNDLED, load_documents, load_text
from llmpath_core.data.pydoc import pydoc_prose, pydoc_topics
from llmpath_core.data.stories import generate_story, iter_stories, tiny_stories

__all__ = [
    "BUNDLED",
    "generate_story",
    "iter_stories",
    "load_documents",
    "load_text",
    "pydoc_prose",
    "pydoc_topics",
    "tiny_stories",
]
