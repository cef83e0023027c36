"""``promptctl completion SHELL``: the shell completion script for bash, zsh or fish."""

from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated

import typer

from .app import app, see

COMPLETE_VAR = "_PROMPTCTL_COMPLETE"


class Shell(str, Enum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


@app.command("completion", epilog=see("commands.md#conventions"))
def completion_command(
    shell: Annotated[Shell, typer.Argument(help="bash, zsh or fish.", show_default=False)],
) -> None:
    """Print the shell completion script: commands, options, and the values of choices (--format,
    --mode, …) complete on Tab.

    Install: bash: promptctl completion bash > ~/.local/share/bash-completion/completions/promptctl ·
    zsh: promptctl completion zsh > "${fpath[1]}/_promptctl" · fish: promptctl completion fish >
    ~/.config/fish/completions/promptctl.fish (or eval "$(promptctl completion bash)" in your shell's rc file).
    """
    from typer._click.shell_completion import get_completion_class
    from typer._completion_classes import completion_init
    from typer.main import get_command

    completion_init()  # typer's completion classes: they also complete choices and paths
    cls = get_completion_class(shell.value)
    assert cls is not None, shell
    sys.stdout.write(cls(get_command(app), {}, "promptctl", COMPLETE_VAR).source())
