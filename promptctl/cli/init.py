"""``promptctl init [DIR]``: scaffold a working example project."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .app import app
from .common import note


@app.command("init")
def init_command(
    directory: Annotated[Path, typer.Argument(help="Where to create the project (created if missing).")] = Path("."),
) -> None:
    """Create a working example project: promptctl.yaml, two prompts (one with a partial),
    a golden dataset for each, a .gitignore, and editor settings pointing at the JSON Schemas.

    Never overwrites: if any of the files exists, nothing is written.
    """
    from ..scaffold import init_project

    written = init_project(directory)
    for rel in written:
        typer.echo(str(directory / rel))
    note(f"created a promptctl project in {directory} ({len(written)} files).")
    note(f"next: cd {directory} && promptctl render support/reply --sample refund")
