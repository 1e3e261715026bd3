"""MkDocs hook: one page per chapter (its README) and one API page per package, generated.

The chapter list comes from the folders under ``packages/``; nothing is kept by hand here.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[1]


def _packages() -> list[tuple[str, str, Path]]:
    """(distribution name, import name, folder) of llmpath-core and every chapter package."""
    found = []
    for folder in [ROOT / "shared", *sorted((ROOT / "packages").glob("ch*"))]:
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            name = tomllib.loads(pyproject.read_text())["project"]["name"]
            found.append((name, name.replace("-", "_"), folder))
    return found


def on_files(files, config):
    for name, module, folder in _packages():
        readme = folder / "README.md"
        if name != "llmpath-core" and readme.is_file():
            files.append(File.generated(config, f"chapters/{name}.md", content=readme.read_text()))
        api = f"# {name} API\n\n::: {module}\n"
        files.append(File.generated(config, f"reference/{name}.md", content=api))
    return files
