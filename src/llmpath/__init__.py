"""llmpath: the umbrella of the curriculum. ``llmpath chapters`` lists the chapter packages and
``llmpath demo`` runs their demos; see :mod:`llmpath.chapters`."""

from llmpath.chapters import Chapter, DemoOutcome, discover_chapters, run_demo

__all__ = ["Chapter", "DemoOutcome", "discover_chapters", "run_demo"]
