"""The real chapters installed here keep the contract ``llmpath demo`` relies on.

A chapter's console script has a ``demo`` command that takes ``--json`` and then prints exactly
one JSON object on stdout holding ``showed`` and ``headline`` (the umbrella's summary reads them).

- fast: every installed chapter's script lists ``demo``, and ``demo --help`` lists ``--json``
  (in this process, through the console script's own entry point); chapters with a cheap mode
  (``CHEAP`` below) run it as ``llmpath demo`` does, in a subprocess, and the contract is checked;
- slow (``LLMPATH_SLOW=1``): every chapter's full demo, about a minute each.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys

import pytest

from llmpath.chapters import Chapter, demo_command, discover_chapters

INSTALLED = [c for c in discover_chapters() if c.installed]

# Demo options that keep a chapter's demo to a few seconds. A chapter not listed here gets only the
# --help checks in the fast tests; its full demo runs in the slow test.
CHEAP: dict[str, list[str]] = {
    "ch03-tokenization": ["--vocab-size", "600", "--max-chars", "5000"],  # ~10 s
    "ch14-inference": ["--requests", "2"],  # ~20 s: two default-model loads
}

ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "LLMPATH_PROGRESS": "0"}


def ids(chapters: list[Chapter]) -> list[str]:
    return [c.package for c in chapters]


def script_output(chapter: Chapter, args: list[str], capsys, monkeypatch) -> str:
    """Run the chapter's console-script function in this process; its exit code must be 0."""
    module, _, func = (chapter.entry_point or "").partition(":")
    main = getattr(importlib.import_module(module), func)
    monkeypatch.setattr(sys, "argv", [chapter.package, *args])
    monkeypatch.setenv("COLUMNS", "200")  # rich help: no wrapped or elided option names
    with pytest.raises(SystemExit) as exit_info:
        main()
    out = capsys.readouterr().out
    assert exit_info.value.code in (0, None), out
    return out


def check_contract(chapter: Chapter, args: list[str], timeout: float) -> dict:
    """``chNN demo --json ARGS`` as ``llmpath demo`` runs it: stdout is one JSON object with
    string ``showed`` and ``headline``."""
    proc = subprocess.run(
        demo_command(chapter, ["demo", "--json", *args]),
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **ENV},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)  # the whole of stdout: nothing else may be printed there
    assert isinstance(result, dict)
    assert isinstance(result.get("showed"), str) and result["showed"].strip()
    assert isinstance(result.get("headline"), str) and result["headline"].strip()
    return result


def test_some_chapters_are_installed():
    """The workspace environment holds every chapter (the umbrella's dev group has llmpath[all])."""
    assert len(INSTALLED) >= 1
    assert all(c.entry_point for c in INSTALLED)


@pytest.mark.parametrize("chapter", INSTALLED, ids=ids(INSTALLED))
def test_cli_has_demo_with_json(chapter, capsys, monkeypatch):
    top = script_output(chapter, ["--help"], capsys, monkeypatch)
    assert "demo" in top.split(), top
    demo = script_output(chapter, ["demo", "--help"], capsys, monkeypatch)
    assert "--json" in demo, demo


def test_cheap_modes_name_installed_chapters():
    """A renamed or dropped chapter must not leave a stale entry behind."""
    assert set(CHEAP) <= {c.package for c in discover_chapters()}


CHEAP_INSTALLED = [c for c in INSTALLED if c.package in CHEAP]


@pytest.mark.parametrize("chapter", CHEAP_INSTALLED, ids=ids(CHEAP_INSTALLED))
def test_cheap_demo_json_contract(chapter):
    check_contract(chapter, CHEAP[chapter.package], timeout=300)


@pytest.mark.slow
@pytest.mark.parametrize("chapter", INSTALLED, ids=ids(INSTALLED))
def test_full_demo_json_contract(chapter):
    check_contract(chapter, [], timeout=900)
