"""Helpers shared by the command modules: options, output to stdout, messages to stderr."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .app import state

ProjectOption = Annotated[
    Optional[Path],
    typer.Option(
        "--project",
        "-C",
        help="The project folder (holding promptctl.yaml). Default: found by walking up from the current folder.",
    ),
]

RefOption = Annotated[
    Optional[str],
    typer.Option(
        "--ref",
        "-r",
        help="Read the prompts at this version instead of the working tree: vN (a published version), a channel (production), or a git revision (HEAD~1, main, a tag or sha).",
    ),
]

WatchOption = Annotated[
    bool,
    typer.Option("--watch", "-w", help="Run once, then again each time a file it reads is saved (what the file "
                 "affects), until Ctrl-C."),
]


class TextOrJson(str, Enum):
    text = "text"
    json = "json"


def project_dir(option: Optional[Path]) -> Optional[Path]:
    """The ``--project`` given to the command, else the one given before it."""
    return option if option is not None else state.get("project")  # type: ignore[return-value]


def emit_json(data: Any) -> None:
    """Write data to stdout as pretty JSON: the only thing on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def note(message: str) -> None:
    """A message for the person at the terminal: stderr, never stdout."""
    sys.stderr.write(message + "\n")
