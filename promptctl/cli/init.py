"""``promptctl init [DIR]``: scaffold a working example project."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated, Optional

import typer

from .app import app, see
from .common import note, project_dir


@app.command("init", epilog=see("commands.md#promptctl-init-dir"))
def init_command(
    directory: Annotated[
        Optional[Path],
        typer.Argument(help="Where to create the project (created if missing). Default: --project, else the current folder."),
    ] = None,
) -> None:
    """Create a working example project: promptctl.yaml, two prompts (one with a partial),
    a golden dataset for each, a .gitignore, and editor settings pointing at the JSON Schemas.

    Never overwrites: if any of the files exists, nothing is written.
    """
    from ..scaffold import init_project

    directory = directory or project_dir(None) or Path(".")
    written = init_project(directory)
    for rel in written:
        typer.echo(str(directory / rel))
    from ..text import plural

    note(f"created a promptctl project in {directory} ({plural(len(written), 'file')}).")
    here = directory.resolve() == Path.cwd().resolve()
    first = "" if here else f"cd {shlex.quote(str(directory))} && "
    note(f"next: {first}promptctl render support/reply --sample refund")
