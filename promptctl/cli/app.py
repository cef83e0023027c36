"""The typer application and its global options; commands register themselves on ``app``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .. import __version__

app = typer.Typer(
    name="promptctl",
    help="Git-native prompt-as-code: lint, render, diff, test and publish the prompts in your repository.",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
)

def see(page: str) -> str:
    """A command's help epilog naming the page that documents it (``evals.md#recordings``: a path under
    docs/, and optionally a heading's anchor; tests/test_docs.py checks that both exist). The ``\\b``
    line makes click print it as written: rewrapped, a path could break at a hyphen."""
    return f"\b\nSee docs/{page} in the promptctl repository."


def command_group(name: str, help: str) -> typer.Typer:
    """A group of subcommands (``promptctl export finetune``), registered on ``app``, with the
    conventions of every other command (``-h``, plain help text, help when given no subcommand)."""
    group = typer.Typer(name=name, help=help, no_args_is_help=True,
                        context_settings={"help_option_names": ["-h", "--help"]}, rich_markup_mode=None)
    app.add_typer(group)
    return group


#: Global state set by the root callback (read by the error handler and commands).
state: dict[str, object] = {"debug": False, "project": None}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"promptctl {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    project: Annotated[
        Optional[Path],
        typer.Option(
            "--project",
            "-C",
            help="The project folder (holding promptctl.yaml). Default: found by walking up from the current folder.",
            envvar="PROMPTCTL_PROJECT",
            show_envvar=False,
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for unexpected errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", "-V", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """promptctl keeps prompts as versioned YAML/Jinja files next to your code.

    Exit codes: 0 ok, 1 checks failed, 2 bad usage or bad input, 3 unexpected error, 130 interrupted.
    """
    state["debug"] = debug
    state["project"] = project
