"""Where llmpath keeps artefacts: ``$LLMPATH_HOME``, by default the user's cache folder."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def llmpath_home() -> Path:
    """The root for downloaded, generated and trained artefacts.

    ``$LLMPATH_HOME`` if set, else the platform's user cache folder (``~/.cache/llmpath`` on
    Linux). The folder is created on first use.
    """
    env = os.environ.get("LLMPATH_HOME")
    home = Path(env).expanduser() if env else Path(platformdirs.user_cache_dir("llmpath"))
    home.mkdir(parents=True, exist_ok=True)
    return home


def artefact_path(*parts: str, create: bool = True) -> Path:
    """A path under :func:`llmpath_home`, e.g. ``artefact_path("ch07", "runs", "base")``.

    With ``create=True`` the parent folder exists on return.
    """
    if not parts:
        raise ValueError("artefact_path needs at least one path part")
    path = llmpath_home().joinpath(*parts)
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    return path


__all__ = ["artefact_path", "llmpath_home"]
