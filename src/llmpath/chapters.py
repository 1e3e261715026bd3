"""Find the chapter packages from installed metadata and run their demos.

A chapter is any installed distribution named ``chNN-topic`` that provides a console script of the
same name. Nothing here keeps a list by hand: installed chapters come from
:func:`importlib.metadata.distributions`, and chapters known but not installed come from the
umbrella's own ``all`` extra (its ``Requires-Dist`` metadata).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata

CHAPTER_NAME = re.compile(r"^ch(\d{2})-[a-z0-9][a-z0-9-]*$")
UMBRELLA = "llmpath"


@dataclass(frozen=True)
class Chapter:
    """One chapter package, installed or not."""

    number: int
    package: str
    version: str | None = None
    summary: str = ""
    entry_point: str | None = None  # "module:function" of its console script

    @property
    def installed(self) -> bool:
        return self.version is not None

    def row(self) -> dict[str, object]:
        return {
            "chapter": f"{self.number:02d}",
            "package": self.package,
            "version": self.version or "-",
            "installed": self.installed,
            "summary": self.summary,
        }


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared_chapters() -> set[str]:
    """Chapter names the umbrella's ``all`` extra requires (known even when not installed)."""
    try:
        requires = metadata.requires(UMBRELLA) or []
    except metadata.PackageNotFoundError:
        return set()
    names = set()
    for requirement in requires:
        name = _normalise(re.split(r"[\s;<>=!~\[(]", requirement, maxsplit=1)[0])
        if CHAPTER_NAME.match(name):
            names.add(name)
    return names


def discover_chapters() -> list[Chapter]:
    """Every chapter: installed ones with their metadata, then declared ones not installed."""
    found: dict[str, Chapter] = {}
    for dist in metadata.distributions():
        name = _normalise(dist.metadata["Name"] or "")
        match = CHAPTER_NAME.match(name)
        if not match or name in found:
            continue
        script = next(
            (
                ep.value
                for ep in dist.entry_points
                if ep.group == "console_scripts" and ep.name == name
            ),
            None,
        )
        if script is None:
            continue
        found[name] = Chapter(
            number=int(match.group(1)),
            package=name,
            version=dist.version,
            summary=dist.metadata["Summary"] or "",
            entry_point=script,
        )
    for name in _declared_chapters() - found.keys():
        number = int(CHAPTER_NAME.match(name).group(1))  # type: ignore[union-attr]
        found[name] = Chapter(number=number, package=name)
    return sorted(found.values(), key=lambda c: (c.number, c.package))


def find_chapter(query: str, chapters: list[Chapter]) -> Chapter | None:
    """Match ``query`` ("3", "03", "ch03" or the package name) against ``chapters``."""
    query = _normalise(query.strip())
    digits = query.removeprefix("ch")
    for chapter in chapters:
        if query == chapter.package or (digits.isdigit() and int(digits) == chapter.number):
            return chapter
    return None


@dataclass
class DemoOutcome:
    """What one chapter's ``demo --json`` reported, and how long it took."""

    chapter: Chapter
    ok: bool
    seconds: float
    showed: str = ""
    headline: str = ""
    error: str = ""
    result: dict = field(default_factory=dict)

    def row(self) -> dict[str, object]:
        return {
            "chapter": f"{self.chapter.number:02d}",
            "package": self.chapter.package,
            "showed": self.showed if self.ok else f"FAILED: {self.error}",
            "headline": self.headline,
            "seconds": round(self.seconds, 1),
        }


def demo_command(chapter: Chapter, args: list[str]) -> list[str]:
    """The command line that runs ``chapter``'s console script with ``args`` in this Python."""
    if chapter.entry_point is None:
        raise ValueError(f"{chapter.package} is not installed")
    module, _, func = chapter.entry_point.partition(":")
    code = f"import sys, {module} as m; sys.argv[0] = {chapter.package!r}; m.{func}()"
    return [sys.executable, "-c", code, *args]


def run_demo(
    chapter: Chapter, args: list[str] | None = None, *, timeout: float = 900
) -> DemoOutcome:
    """Run ``chNN-topic demo --json`` and collect its result; its stderr streams through."""
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            demo_command(chapter, ["demo", "--json", *(args or [])]),
            stdout=subprocess.PIPE,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return DemoOutcome(
            chapter, False, time.perf_counter() - start, error=f"timed out after {timeout:.0f} s"
        )
    seconds = time.perf_counter() - start
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    try:
        result = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        result = {}
    if not isinstance(result, dict):
        result = {}
    if proc.returncode != 0 or "error" in result:
        error = result.get("error") or f"exit code {proc.returncode}"
        return DemoOutcome(chapter, False, seconds, error=str(error), result=result)
    return DemoOutcome(
        chapter,
        True,
        seconds,
        showed=str(result.get("showed", "")),
        headline=str(result.get("headline", "")),
        result=result,
    )
