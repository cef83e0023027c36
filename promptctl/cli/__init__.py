"""The command line: typer parses, core functions do the work, one handler maps errors to exit codes."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

from typer.core import TyperGroup

from ..errors import PromptctlError
from . import completion, diff, export, fmt, golden, importer, init, lint, monitor, recordings, registry, render, report, review, run, schema, test  # noqa: F401  (each registers its command on the app)
from .app import app, state

# `promptctl --help` lists commands in the order of a prompt's life, not of the imports above.
ORDER = ("init", "import", "lint", "fmt", "render", "run", "diff", "log", "test", "review", "export", "report", "publish", "promote",
         "rollback", "release", "versions", "history", "show", "verify", "monitor", "golden", "schema", "completion")
app.registered_commands.sort(key=lambda c: ORDER.index(c.name) if c.name in ORDER else len(ORDER))


class _OrderedGroup(TyperGroup):
    """Lists the command groups (`export`, ...) in ORDER too, among the commands, not after them all."""

    def list_commands(self, ctx: Any) -> list[str]:
        names = super().list_commands(ctx)
        return sorted(names, key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER))


app.info.cls = _OrderedGroup


def _command_word(args: Sequence[str]) -> str | None:
    """The command ``args`` run (``test`` in ``-C proj test -j 4``); None when they ask for the
    top-level help or version, or name no command."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("--project", "-C"):
            i += 2
        elif arg == "--debug" or arg.startswith("--project="):
            i += 1
        elif arg.startswith("-"):
            return None
        else:
            return arg
    return None


def _run_app(args: list[str]) -> None:
    """``app(args)``, building only the command that ``args`` name when they name one exactly: typer
    builds every command's parameters before it parses (tens of milliseconds of each start-up)."""
    word = _command_word(args)
    commands = [c for c in app.registered_commands if c.name == word]
    groups = [g for g in app.registered_groups if g.typer_instance is not None and g.typer_instance.info.name == word]
    if not (commands or groups):  # help, a typo (typer's "no such command"), ...: the whole app
        _invoke(args)
        return
    every = (app.registered_commands[:], app.registered_groups[:])
    app.registered_commands[:], app.registered_groups[:] = commands, groups
    try:
        _invoke(args)
    finally:
        app.registered_commands[:], app.registered_groups[:] = every


def _invoke(args: list[str]) -> None:
    """Run the app; a usage error (click's) is said in promptctl's one style: one line on stderr,
    ``error: what (what to do)``, exit 2, as every other error."""
    from typer import _click
    from typer.exceptions import Abort

    if "_PROMPTCTL_COMPLETE" in os.environ:  # a shell asking for completions (promptctl completion SHELL)
        from typer._completion_classes import completion_init

        completion_init()
    try:
        code = app(args=args, prog_name="promptctl", standalone_mode=False)
    except _click.exceptions.NoArgsIsHelpError as e:  # `promptctl` or a group alone: the help, as bad usage
        e.show()
        sys.exit(2)
    except _click.exceptions.UsageError as e:
        sys.stderr.write(usage_error_line(e) + "\n")
        sys.exit(2)
    except _click.exceptions.ClickException as e:
        sys.stderr.write(f"error: {_lower_first(e.format_message())}\n")
        sys.exit(e.exit_code)
    except Abort:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    if isinstance(code, int) and code:
        sys.exit(code)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[1:2].islower() or len(text) < 2 else text


def usage_error_line(e: Any) -> str:
    """``error: no such option: --bogus; possible options: --verbose (see `promptctl test -h`)``."""
    import re

    message = _lower_first(e.format_message().strip()).rstrip(".")
    # click's own brackets and sentences, flattened: "X (Possible options: a, b)" / "X Did you mean y?"
    def did_you_mean(m: re.Match[str]) -> str:
        options = m.group(1)
        return f"; did you mean {'one of ' if ',' in options else ''}{options}?"

    message = re.sub(r"\s*\(Possible options: ([^()]*)\)$", did_you_mean, message)
    message = re.sub(r"\.?\s+(Did you mean [^?]*\?)$", lambda m: "; " + _lower_first(m.group(1)), message)
    extra = re.match(r"^got unexpected extra arguments?(?:\(s\))? \((.*)\)$", message)
    if extra:
        message = f"got unexpected extra argument{'s' if ' ' in extra.group(1) else ''}: {extra.group(1)}"
    path = e.ctx.command_path if getattr(e, "ctx", None) is not None else "promptctl"
    return f"error: {message} (see `{path} -h`)"


def main(argv: Sequence[str] | None = None) -> None:
    """Run promptctl; exits 0 ok, 1 checks failed, 2 bad input, 3 unexpected, 130 interrupted."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        _run_app(args)
    except PromptctlError as e:
        sys.stderr.write(f"error: {e}\n")
        if state.get("debug"):
            import traceback

            traceback.print_exc()
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
    except Exception as e:  # noqa: BLE001 - the last resort: exit 3, traceback only with --debug
        if state.get("debug") or "--debug" in args:
            import traceback

            traceback.print_exc()
        else:
            sys.stderr.write(
                f"error: unexpected {type(e).__name__}: {e} (a bug in promptctl: rerun with --debug for the traceback)\n"
            )
        sys.exit(3)


def entry() -> None:
    """The ``promptctl`` program: :func:`main`, then a quick exit once a provider library was loaded.

    After ``import litellm`` the interpreter's teardown takes a second or more (hundreds of
    thousands of objects); by the time ``main`` returns every report and recording is written and
    closed, so the process flushes its streams and leaves at once.
    """
    state["program"] = True  # not a caller of main() in its own process (tests, an embedding tool)
    try:
        main()
        code: str | int | None = 0
    except SystemExit as e:
        code = e.code
    if "litellm" in sys.modules:
        import os

        if not isinstance(code, int):
            if code is not None:
                sys.stderr.write(f"{code}\n")
            code = 0 if code is None else 1
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
    sys.exit(code)
