"""CLI scaffolding shared by every chapter: common options, clean errors, one JSON object.

A chapter's ``cli.py`` stays thin::

    from llmpath_core.cli import Run, command, make_app, run_app

    app = make_app("ch99-example", "What the chapter does.")

    @command(app)
    def demo(run: Run, steps: int = typer.Option(100, help="training steps")) -> dict:
        \"\"\"Run the chapter's labs on the bundled data.\"\"\"
        ...
        run.show(make_table(rows))          # human output (stdout; hidden under --json)
        return {"showed": "...", "headline": "..."}  # the --json object

    def main() -> None:                     # the console script
        run_app(app)

Every command decorated with :func:`command` gets ``--seed``, ``--json`` and ``--debug`` and, unless
turned off, ``--device`` and ``--out``. torch is imported only for commands with ``--device``, so
a command that needs no tensors starts fast. Errors: a :class:`~llmpath_core.errors.UserError`
(and the usual bad-input exceptions: missing file, permission, out of memory) becomes one line on
stderr and exit code 2; ``--debug`` adds the traceback. With ``--json`` exactly one JSON object is
printed on stdout (``{"error": ...}`` on failure) and everything else, stray prints included, goes
to stderr.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import logging
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console

from llmpath_core.errors import UserError
from llmpath_core.progress import stderr_console
from llmpath_core.report import make_table, to_jsonable
from llmpath_core.seed import seed_everything

if TYPE_CHECKING:
    import torch

EXIT_USER_ERROR = 2

# Exceptions that mean "bad input or an impossible request", not "bug in llmpath".
USER_ERRORS: tuple[type[BaseException], ...] = (
    UserError,
    FileNotFoundError,
    NotADirectoryError,
    IsADirectoryError,
    PermissionError,
    FileExistsError,
    MemoryError,
)

_OOM_HINT = "out of memory: try a smaller model, batch size or sequence length, or --device cpu"


def _is_out_of_memory(exc: BaseException) -> bool:
    # torch.OutOfMemoryError, matched by name so that this module does not import torch
    return isinstance(exc, MemoryError) or (
        type(exc).__name__ == "OutOfMemoryError" and type(exc).__module__.startswith("torch")
    )


def is_user_error(exc: BaseException) -> bool:
    """True for exceptions that are the user's to fix (see ``USER_ERRORS``, and torch's OOM)."""
    return isinstance(exc, USER_ERRORS) or _is_out_of_memory(exc)


def error_line(exc: BaseException) -> str:
    """The one line a user sees for ``exc``."""
    if _is_out_of_memory(exc):
        return _OOM_HINT
    if isinstance(exc, OSError) and exc.filename is not None:
        reason = exc.strerror or type(exc).__name__
        return f"{reason}: {exc.filename}"
    message = str(exc).strip() or type(exc).__name__
    return message.splitlines()[0]


@dataclass
class Run:
    """What a command receives besides its own options: the common options, resolved."""

    seed: int = 0
    device: torch.device | None = None  # None for commands registered with device=False
    out: Path | None = None
    json: bool = False
    debug: bool = False
    shown: bool = False
    exit_code: int = 0
    console: Console = field(default_factory=Console)

    def show(self, renderable: Any) -> None:
        """Print human output (tables, text) on stdout; under ``--json`` it is not printed."""
        self.shown = True
        if not self.json:
            self.console.print(renderable)

    def table(self, rows: Sequence[Mapping[str, Any]], columns=None, *, title=None) -> None:
        """Show a result table (see :func:`llmpath_core.report.make_table`)."""
        self.show(make_table(rows, columns, title=title))

    def fail(self, code: int = 1) -> None:
        """Exit with ``code`` after the result is printed (e.g. some of several jobs failed)."""
        self.exit_code = code

    def log(self, message: str) -> None:
        """A log line on stderr."""
        stderr_console.print(message, highlight=False)

    def out_path(self, default: str | Path) -> Path:
        """``--out`` if given, else ``default``."""
        return Path(self.out) if self.out is not None else Path(default)


def make_app(name: str, help: str) -> typer.Typer:
    """A :class:`typer.Typer` with llmpath's settings (no completion install, plain errors)."""
    app = typer.Typer(
        name=name,
        help=help,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    # A callback keeps the app a command group even while it has one command, so
    # `chNN-topic demo` always names its subcommand.
    @app.callback(help=help)
    def _group() -> None:
        pass

    return app


def _common_parameters(device: bool, out: bool, out_help: str) -> list[inspect.Parameter]:
    kw = inspect.Parameter.KEYWORD_ONLY
    params = [
        inspect.Parameter(
            "llmpath_seed",
            kw,
            annotation=int,
            default=typer.Option(0, "--seed", help="random seed", show_default=True),
        ),
    ]
    if device:
        params.append(
            inspect.Parameter(
                "llmpath_device",
                kw,
                annotation=str,
                default=typer.Option("auto", "--device", help="auto, cpu, cuda[:N] or mps"),
            )
        )
    if out:
        params.append(
            inspect.Parameter(
                "llmpath_out",
                kw,
                annotation=Path | None,
                default=typer.Option(None, "--out", help=out_help),
            )
        )
    params += [
        inspect.Parameter(
            "llmpath_json",
            kw,
            annotation=bool,
            default=typer.Option(
                False, "--json", help="print one JSON object on stdout; logs go to stderr"
            ),
        ),
        inspect.Parameter(
            "llmpath_debug",
            kw,
            annotation=bool,
            default=typer.Option(False, "--debug", help="show tracebacks for errors"),
        ),
    ]
    return params


def _report_error(exc: BaseException, *, as_json: bool, debug: bool, stdout: Any) -> NoReturn:
    line = error_line(exc)
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    print(f"error: {line}", file=sys.stderr)
    if as_json:
        print(json.dumps({"error": line}), file=stdout, flush=True)
    raise typer.Exit(EXIT_USER_ERROR)


def command(
    app: typer.Typer,
    name: str | None = None,
    *,
    device: bool = True,
    out: bool = True,
    out_help: str = "where to write the output",
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``fn(run: Run, **options)`` as a command of ``app`` with the common options.

    The function returns the result: a mapping (or dataclass) that ``--json`` prints as one object.
    Without ``--json``, if the function showed nothing itself, the scalar entries of the result
    are printed as a two-column table.
    """

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(fn)
        own = [p for p in signature.parameters.values() if p.name != "run"]
        params = own + _common_parameters(device, out, out_help)

        @functools.wraps(fn)
        def wrapper(**kwargs: Any) -> None:
            as_json = kwargs.pop("llmpath_json")
            debug = kwargs.pop("llmpath_debug")
            run = Run(
                seed=kwargs.pop("llmpath_seed"),
                out=kwargs.pop("llmpath_out", None),
                json=as_json,
                debug=debug,
            )
            stdout = sys.stdout
            logging.basicConfig(
                stream=sys.stderr, level=logging.DEBUG if debug else logging.WARNING
            )
            redirect = (
                contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext()
            )
            try:
                with redirect:
                    if device:
                        from llmpath_core.device import resolve_device

                        run.device = resolve_device(kwargs.pop("llmpath_device"))
                    # commands without --device seed torch only if something imported it
                    seed_everything(run.seed, torch=True if device else None)
                    result = fn(run, **kwargs)
            except Exception as exc:
                if not is_user_error(exc):
                    raise
                _report_error(exc, as_json=as_json, debug=debug, stdout=stdout)
            except KeyboardInterrupt:
                print("interrupted", file=sys.stderr)
                raise typer.Exit(130) from None
            payload = to_jsonable(result) if result is not None else {}
            if as_json:
                print(json.dumps(payload), file=stdout, flush=True)
            elif not run.shown and isinstance(payload, dict) and payload:
                rows = [
                    {"key": k, "value": v}
                    for k, v in payload.items()
                    if not isinstance(v, (dict, list))
                ]
                if rows:
                    run.console.print(make_table(rows))
            if run.exit_code:
                raise typer.Exit(run.exit_code)

        wrapper.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        app.command(name)(wrapper)
        return fn

    return decorator


def run_app(app: typer.Typer, args: Sequence[str] | None = None) -> NoReturn:
    """Run ``app`` as a console script: usage errors become one line and exit code 2."""
    cli = typer.main.get_command(app)
    try:
        code = cli.main(
            args=list(args) if args is not None else None,
            prog_name=app.info.name,
            standalone_mode=False,
        )
    except typer.Abort:
        print("aborted", file=sys.stderr)
        code = 130
    except Exception as exc:
        # typer >= 0.2x vendors click privately, so its exception classes are not importable
        # through a public path: recognise click's exceptions by their class names instead.
        kinds = {cls.__name__ for cls in type(exc).__mro__}
        if "NoArgsIsHelpError" in kinds:
            print(exc.ctx.get_help() if exc.ctx else str(exc))
            code = 0
        elif "UsageError" in kinds:
            hint = f" (try '{exc.ctx.command_path} --help')" if exc.ctx else ""
            print(f"error: {exc.format_message()}{hint}", file=sys.stderr)
            code = EXIT_USER_ERROR
        elif "ClickException" in kinds:
            print(f"error: {exc.format_message()}", file=sys.stderr)
            code = exc.exit_code
        else:
            raise
    sys.exit(code if isinstance(code, int) else 0)


__all__ = [
    "EXIT_USER_ERROR",
    "USER_ERRORS",
    "Run",
    "command",
    "error_line",
    "is_user_error",
    "make_app",
    "run_app",
]
