"""``promptctl diff [A [B]] [NAMES...]`` and ``promptctl log [NAME]``."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer

from .app import app, see
from .common import ProjectOption, TextOrJson, emit_json, project_dir


class DiffFormat(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


@app.command("diff", epilog=see("commands.md#promptctl-diff-a-b-names"))
def diff_command(
    args: Annotated[
        Optional[list[str]],
        typer.Argument(
            help="[A [B]] [NAMES...]: versions (vN, a branch, tag, sha, HEAD~1) then prompt names. "
            "None: HEAD against the working tree; one: A against the working tree; two: A against B.",
            show_default=False,
        ),
    ] = None,
    render: Annotated[bool, typer.Option("--render", help="Also render every sample in both versions and diff what the model sees.")] = False,
    stat: Annotated[bool, typer.Option("--stat", help="One line per changed prompt and dataset.")] = False,
    fmt: Annotated[DiffFormat, typer.Option("--format", help="text, json, or markdown (for a pull-request comment).")] = DiffFormat.text,
    exit_code: Annotated[bool, typer.Option("--exit-code", help="Exit 1 when there are differences.")] = False,
    fail_on_breaking: Annotated[bool, typer.Option("--fail-on-breaking", help="Exit 1 when any change breaks existing callers.")] = False,
    project: ProjectOption = None,
) -> None:
    """Show what changed between two versions of the prompts, and what breaks callers.

    Per prompt: added, removed, renamed; changed model, params, fallbacks, output, tags, owners,
    description; inputs added, removed or changed; a line diff of each changed message and of every
    changed partial (on each prompt that includes it); and dataset cases added, removed or with a new
    golden. BREAKING marks a new required input, a removed input or prompt, a narrowed type or enum,
    and a changed output schema.

    Examples: promptctl diff · promptctl diff v2 v3 · promptctl diff main --format markdown · promptctl diff HEAD~3 HEAD support/reply --render
    """
    from ..diff import diff_projects, format_markdown, format_text, resolve_diff_args

    old, new, names = resolve_diff_args(project_dir(project), args or [])
    result = diff_projects(old, new, names=names, render=render)
    if fmt is DiffFormat.json:
        emit_json(result.to_json())
    elif fmt is DiffFormat.markdown:
        typer.echo(format_markdown(result, stat=stat), nl=False)
    else:
        typer.echo(format_text(result, stat=stat), nl=False)
    if (exit_code and result.changed) or (fail_on_breaking and result.breaking):
        raise typer.Exit(1)


@app.command("log", epilog=see("commands.md#promptctl-log-name"))
def log_command(
    name: Annotated[Optional[str], typer.Argument(help="A prompt name; omit for every prompt.")] = None,
    max_count: Annotated[int, typer.Option("--max-count", "-n", min=1, help="Look at most this many commits back.")] = 100,
    ref: Annotated[Optional[str], typer.Option(
        "--ref", "-r", help="Start from this version: vN (a published version), a channel (production), or a git "
        "revision (HEAD~1, main, a tag or sha). Default: HEAD.")] = None,
    rev: Annotated[Optional[str], typer.Option("--rev", hidden=True, help="The old name of --ref.")] = None,
    fmt: Annotated[TextOrJson, typer.Option("--format", help="text or json.")] = TextOrJson.text,
    project: ProjectOption = None,
) -> None:
    """The history of a prompt (or all prompts) across commits: commit, date, author, subject and
    content hash, listing only commits where the prompt or a partial it includes changed. Follows renames.

    Example: promptctl log support/reply
    """
    from ..config import project_root
    from ..log import format_log, prompt_log
    from ..project import git_revision

    root = project_root(project_dir(project))
    start = ref or rev
    entries = prompt_log(root, name, max_count=max_count, rev=git_revision(root, start) if start else "HEAD",
                         shown=start or "HEAD")
    if fmt is TextOrJson.json:
        emit_json([e.to_json() for e in entries])
    else:
        typer.echo(format_log(entries), nl=False)
