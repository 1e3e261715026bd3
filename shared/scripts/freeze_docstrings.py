"""Freeze the standard library's docstrings into llmpath-core's bundled prose corpus.

Run with the interpreter whose documentation should be frozen (the shipped copy came from
CPython 3.11.7):

    cd shared && python scripts/freeze_docstrings.py src/llmpath_core/data/stdlib_docstrings.json.gz

One document per public module: the module docstring, then each public class, function and method
docstring under a ``name(signature)`` heading, in source order. Modules that open windows, play
sound, print on import or exist only for tests are skipped.
"""

from __future__ import annotations

import gzip
import importlib
import importlib.util
import inspect
import io
import json
import pkgutil
import sys
import warnings
from contextlib import redirect_stderr, redirect_stdout

SKIP_PREFIXES = (
    "antigravity",
    "this",
    "idlelib",
    "tkinter",
    "turtle",
    "turtledemo",
    "test",
    "lib2to3",
    "ensurepip",
    "venv",
    "pydoc_data",
    "__",
    "_",
    "xxsubtype",
    "xxlimited",
    "msilib",
    "winreg",
    "winsound",
    "msvcrt",
    "nt",
    "_winapi",
    "encodings",
    "distutils",
    "ctypes.test",
    "sqlite3.test",
    "unittest.test",
    "tkinter.test",
)
MIN_CHARS = 400


def _skip(name: str) -> bool:
    return any(part.startswith("_") for part in name.split(".")) or any(
        name == p or name.startswith(p + ".") for p in SKIP_PREFIXES
    )


def _signature(obj) -> str:
    try:
        return str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "(...)"


def module_document(module) -> str:
    """The docstrings of one module as one text document."""
    parts = []
    doc = inspect.getdoc(module)
    if doc:
        parts.append(f"Module {module.__name__}\n\n{doc}")
    names = getattr(module, "__all__", None) or [n for n in vars(module) if not n.startswith("_")]
    for name in names:
        obj = getattr(module, name, None)
        if obj is None or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isclass(obj):
            doc = inspect.getdoc(obj)
            if doc:
                parts.append(f"class {module.__name__}.{name}{_signature(obj)}\n\n{doc}")
            for attr, member in vars(obj).items():
                if attr.startswith("_") or not callable(member):
                    continue
                mdoc = member.__doc__ and inspect.cleandoc(member.__doc__)
                if mdoc:
                    parts.append(f"{name}.{attr}{_signature(member)}\n\n{mdoc}")
        elif inspect.isfunction(obj) or inspect.isbuiltin(obj):
            doc = inspect.getdoc(obj)
            if doc:
                parts.append(f"{module.__name__}.{name}{_signature(obj)}\n\n{doc}")
    return "\n\n".join(parts)


def main(out: str) -> None:
    names = []
    for top in sorted(sys.stdlib_module_names):
        if _skip(top):
            continue
        names.append(top)
        spec = importlib.util.find_spec(top)
        if spec is not None and spec.submodule_search_locations:
            for info in pkgutil.iter_modules(spec.submodule_search_locations, top + "."):
                names.append(info.name)
    docs = {}
    for name in sorted(set(names)):
        if _skip(name):
            continue
        try:
            with (
                warnings.catch_warnings(),
                redirect_stdout(io.StringIO()),
                redirect_stderr(io.StringIO()),
            ):
                warnings.simplefilter("ignore")
                module = importlib.import_module(name)
        except BaseException:  # optional modules fail in many ways (even SystemExit)
            continue
        text = module_document(module).strip()
        if len(text) >= MIN_CHARS:
            docs[name] = text
    raw = json.dumps(docs, sort_keys=True, ensure_ascii=False, indent=0).encode("utf-8")
    with open(out, "wb") as handle:
        handle.write(gzip.compress(raw, compresslevel=9, mtime=0))
    print(f"{len(docs)} modules, {len(raw):,} bytes of JSON -> {out}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1])
