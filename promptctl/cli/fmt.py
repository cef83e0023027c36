"""``promptctl fmt [PATHS...] [--check] [--diff]``: lay out prompts, datasets and promptctl.yaml one way."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from .app import app, see
from .common import ProjectOption, note, project_dir


@app.command("fmt", epilog=see("lint.md#promptctl-fmt-paths"))
def fmt_command(
    paths: Annotated[
        Optional[list[Path]],
        typer.Argument(
            help="Files or folders to format (folders are searched for *.prompt.yaml, *.eval.yaml and "
            "promptctl.yaml). Default: the project's prompts, datasets and promptctl.yaml.",
            show_default=False,
        ),
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; list the files that would change; exit 1 if any.")
    ] = False,
    diff: Annotated[
        bool, typer.Option("--diff", help="Write nothing; print a unified diff of each file that would change; exit 1 if any.")
    ] = False,
    project: ProjectOption = None,
) -> None:
    """Rewrite prompt files, datasets and promptctl.yaml in one canonical layout, keeping comments.

    The layout: keys in the documented order (unknown keys after the known ones), 2-space
    indentation with list items indented under their key, multi-line strings as | blocks, and
    quotes only where a string needs them. A file's data never changes: promptctl loads each file
    before and after and refuses to write one whose data would differ.

    Exit codes: 0 done (or nothing to change), 1 --check/--diff found files to change, 2 a file
    could not be read or formatted (the others are still done).

    Example: promptctl fmt --check
    """
    from ..errors import PromptctlError
    from ..fmt import find_targets, format_file, write_result
    from ..text import plural

    targets = find_targets([str(p) for p in paths] if paths else None, project=project_dir(project))
    changed = unchanged = errors = 0
    for target in targets:
        result = format_file(target)
        if result.error is not None:
            errors += 1
            note(f"error: {result.error}")
            continue
        if not result.changed:
            unchanged += 1
            continue
        if diff:
            sys.stdout.write(_unified_diff(result.path, result.before, result.after or ""))
        elif check:
            sys.stdout.write(f"would reformat {result.path}\n")
        else:
            try:
                write_result(target, result)
            except PromptctlError as e:
                errors += 1
                note(f"error: {e}")
                continue
            sys.stdout.write(f"reformatted {result.path}\n")
        changed += 1
        sys.stdout.flush()
    verb = "would be reformatted" if check or diff else "reformatted"
    summary = f"{plural(changed, 'file')} {verb}, {unchanged} unchanged"
    note(summary + (f", {plural(errors, 'error')}" if errors else ""))
    if errors:
        raise typer.Exit(2)
    if changed and (check or diff):
        raise typer.Exit(1)


def _unified_diff(path: str, before: str, after: str) -> str:
    """``--- a/path`` / ``+++ b/path`` hunks, as git shows them (a missing final newline is said)."""
    import difflib

    lines = difflib.unified_diff(before.splitlines(True), after.splitlines(True), f"a/{path}", f"b/{path}")
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)
