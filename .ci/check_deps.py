"""Declared vs used dependencies, for every workspace member, in both directions.

    uv run --no-sync python .ci/check_deps.py            # exit 1 if anything is wrong
    uv run --no-sync python .ci/check_deps.py --verbose  # also list what each member imports

For each member (llmpath-core, every chapter, the umbrella) it reads the imports of its code with
``ast`` (every ``import``, also inside functions and ``try`` blocks) and maps import names to
distributions with ``importlib.metadata.packages_distributions()`` in the synced workspace
environment. Then:

1. a third-party import in ``src/`` must be a runtime dependency (``[project.dependencies]``, or
   an extra of ``[project.optional-dependencies]`` for imports that only the extra needs);
2. a third-party import in ``tests/``, ``benchmarks/`` or ``scripts/`` must be a runtime
   dependency or in the ``dev`` dependency group;
3. a runtime dependency must be imported by ``src/``: one that only tests or benchmarks import
   belongs in the ``dev`` group, one that nothing imports should go, unless ``ALLOWED`` below
   says why it stays (a backend loaded by name, a package that only ships data files, ...).

Imports that no installed distribution provides are reported too (the environment is not synced,
or the code imports something nothing declares).
"""

from __future__ import annotations

import argparse
import ast
import glob
import re
import sys
import tomllib
from collections import defaultdict
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Runtime dependencies that src/ does not import by name, and why each must stay a runtime
# dependency. Keyed by member, then by normalised distribution name. Keep every entry commented.
ALLOWED_UNUSED: dict[str, dict[str, str]] = {
    "llmpath-core": {
        # the bundled default and draft models are model.safetensors files, read by transformers
        "safetensors": "format of the bundled model weights, read through transformers",
    },
    "ch18-rag": {
        # ragas' NonLLMStringSimilarity (ragas_eval.ragas_parity, `ch18-rag eval --ragas`)
        # imports rapidfuzz lazily, and ragas does not declare it
        "rapidfuzz": "imported by ragas' string metrics at run time; ragas does not declare it",
        # a version bound, not an import: ragas 0.4 (imported by src) requires
        # langchain-community without a bound and breaks with 0.4
        "langchain-community": "keeps ragas' own dependency below 0.4, which breaks ragas 0.4",
    },
}

# Imports in src/ of a distribution the member does not declare, and why that is right.
ALLOWED_UNDECLARED: dict[str, dict[str, str]] = {
    "llmpath-core": {
        # pytest_plugin.py is loaded only by pytest itself (the pytest11 entry point), so pytest
        # is there whenever it is imported; llmpath_core.testing does not import pytest
        "pytest": "imported only by the pytest plugin, which only pytest loads",
    },
}

TEST_DIRS = ("tests", "benchmarks", "scripts")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    return normalise(re.split(r"[\s;<>=!~\[(@]", requirement.strip(), maxsplit=1)[0])


def members() -> list[dict]:
    """Every workspace member: name, folder, its src package folders, and its declared deps."""
    root_toml = tomllib.loads((ROOT / "pyproject.toml").read_text())
    folders = [ROOT]
    for pattern in root_toml["tool"]["uv"]["workspace"]["members"]:
        folders += [Path(f) for f in sorted(glob.glob(str(ROOT / pattern)))]
    out = []
    for folder in folders:
        pyproject = folder / "pyproject.toml"
        if not pyproject.is_file():
            continue
        toml = tomllib.loads(pyproject.read_text())
        project = toml["project"]
        groups = toml.get("dependency-groups", {})
        dev = []
        for item in groups.get("dev", []):
            if isinstance(item, dict):  # {include-group = "..."}
                dev += [x for x in groups.get(item["include-group"], []) if isinstance(x, str)]
            else:
                dev.append(item)
        extras = project.get("optional-dependencies", {})
        out.append(
            {
                "name": normalise(project["name"]),
                "folder": folder,
                "runtime": {requirement_name(r) for r in project.get("dependencies", [])},
                "extras": {requirement_name(r) for reqs in extras.values() for r in reqs},
                "dev": {requirement_name(r) for r in dev},
                # the umbrella's tests live at the root, with the whole workspace beside them
                "code": ["src"] if folder != ROOT else ["src/llmpath"],
                "test_code": list(TEST_DIRS) if folder != ROOT else ["tests"],
            }
        )
    return out


def imports_of(paths: list[Path]) -> dict[str, set[Path]]:
    """Top-level module name -> files that import it (absolute imports only)."""
    found: dict[str, set[Path]] = defaultdict(set)
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    found[alias.name.split(".")[0]].add(path)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found[node.module.split(".")[0]].add(path)
    return found


def python_files(folder: Path, subdirs: list[str]) -> list[Path]:
    files = []
    for sub in subdirs:
        base = folder / sub
        if base.is_dir():
            files += sorted(p for p in base.rglob("*.py") if ".venv" not in p.parts)
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()

    all_members = members()
    # import name -> distributions; workspace members are editable installs whose RECORD may
    # not list their modules, so their import names are added from their own names
    to_dists = {k: {normalise(d) for d in v} for k, v in metadata.packages_distributions().items()}
    for m in all_members:
        to_dists.setdefault(m["name"].replace("-", "_"), set()).add(m["name"])
    own_modules = {m["name"].replace("-", "_") for m in all_members}
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    dist_modules: dict[str, set[str]] = defaultdict(set)
    for module, dists in to_dists.items():
        for d in dists:
            dist_modules[d].add(module)

    problems: list[str] = []
    for m in all_members:
        name, folder = m["name"], m["folder"]
        allowed = ALLOWED_UNUSED.get(name, {})
        undeclared_ok = ALLOWED_UNDECLARED.get(name, {})
        own = name.replace("-", "_")
        src = imports_of(python_files(folder, m["code"]))
        side = imports_of(python_files(folder, m["test_code"]))
        local = {p.stem for p in python_files(folder, m["test_code"])}  # helpers beside tests

        def dists_of(module: str, local: set[str], own: str = own) -> set[str] | None:
            """Distributions giving ``module``: empty for stdlib and own code, None if unknown."""
            if module in stdlib or module == own or module in local:
                return set()
            return to_dists.get(module)

        used_by_src: set[str] = set()
        for module, files in sorted(src.items()):
            dists = dists_of(module, set())
            where = ", ".join(sorted(str(f.relative_to(ROOT)) for f in files)[:2])
            if dists is None:
                problems.append(
                    f"{name}: src imports {module!r}, which no installed "
                    f"distribution provides ({where})"
                )
                continue
            used_by_src |= dists
            declared = m["runtime"] | m["extras"]
            if dists and not dists & declared and not dists & undeclared_ok.keys():
                problems.append(
                    f"{name}: src imports {module!r} ({' or '.join(sorted(dists))}) "
                    f"but [project.dependencies] does not declare it ({where})"
                )
        used_by_side: set[str] = set()
        for module, files in sorted(side.items()):
            if module in own_modules and module != own and name != "llmpath":
                where = ", ".join(sorted(str(f.relative_to(ROOT)) for f in files)[:2])
                if normalise(module) not in m["runtime"]:
                    problems.append(f"{name}: tests import another member, {module!r} ({where})")
                continue
            dists = dists_of(module, local)
            where = ", ".join(sorted(str(f.relative_to(ROOT)) for f in files)[:2])
            if dists is None:
                problems.append(
                    f"{name}: tests/benchmarks import {module!r}, which no installed "
                    f"distribution provides ({where})"
                )
                continue
            used_by_side |= dists
            declared = m["runtime"] | m["extras"] | m["dev"]
            if dists and not dists & declared and name != "llmpath":
                problems.append(
                    f"{name}: tests/benchmarks import {module!r} "
                    f"({' or '.join(sorted(dists))}) but neither the dependencies nor "
                    f"the dev group declare it ({where})"
                )
        for dist in sorted(m["runtime"]):
            if dist in used_by_src or dist in allowed:
                continue
            if dist in used_by_side:
                problems.append(
                    f"{name}: runtime dependency {dist!r} is imported only by "
                    f"tests/benchmarks: move it to the dev group"
                )
            else:
                modules = ", ".join(sorted(dist_modules.get(dist, {"?"})))
                problems.append(
                    f"{name}: runtime dependency {dist!r} (import {modules}) is "
                    f"never imported: remove it, or add it to ALLOWED_UNUSED in "
                    f".ci/check_deps.py with the reason"
                )
        for dist in sorted(allowed):
            if dist in used_by_src:
                problems.append(
                    f"{name}: {dist!r} is in ALLOWED_UNUSED but src imports it: remove the entry"
                )
        if args.verbose:
            print(f"{name}: src uses {sorted(used_by_src - {name})}")
            print(f"{' ' * len(name)}  tests/benchmarks use {sorted(used_by_side - {name})}")

    for line in problems:
        print(line)
    print(f"{len(all_members)} members checked, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
