"""``promptctl recordings prune [--check]``: drop the recorded answers no case uses any more."""

from __future__ import annotations

import json
import sys
from enum import Enum
from typing import Annotated

import typer

from .app import app, see
from .common import ProjectOption, note, project_dir

recordings_app = typer.Typer(
    name="recordings",
    help="Keep the recorded model answers (test.recordings) tidy.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
)
app.add_typer(recordings_app)


class PruneFormat(str, Enum):
    text = "text"
    json = "json"


@recordings_app.command("prune", epilog=see("evals.md#recordings"))
def prune_command(
    check: Annotated[
        bool, typer.Option("--check", help="Change nothing: list the unused recordings and exit 1 when there are some (for CI).")
    ] = False,
    fmt: Annotated[
        PruneFormat, typer.Option("--format", "-f", help="text (on stderr) or json (on stdout: {unused, kept, pruned}).")
    ] = PruneFormat.text,
    project: ProjectOption = None,
) -> None:
    """Drop the recordings that no case of the current datasets uses: answers to prompts or cases
    since changed or removed, grader and embedding calls of old outputs, torn lines.

    What is kept is exactly what `promptctl test --mode replay` (every dataset, each prompt's own
    model) looks up, found by running it: no model is called. Recordings made only for `--model`
    comparisons or `--baseline` versions are dropped too; record them again when needed. Each file is
    rewritten atomically in key order, and a file left empty is removed.

    Exit codes: 0 done (or, with --check, nothing unused); 1 with --check, some are unused; 2 bad usage.

    Examples: promptctl recordings prune · promptctl recordings prune --check
    """
    from ..evals.runner import RunOptions, run_tests, select_datasets
    from ..project import open_project

    proj = open_project(project_dir(project))
    datasets = select_datasets(proj, [])
    result = run_tests(proj, datasets, RunOptions(mode="replay", prune="check" if check else "drop"))
    unused = result.unused or {}
    total = sum(unused.values())
    folder = proj.config.test.recordings
    if fmt is PruneFormat.json:
        sys.stdout.write(json.dumps({"unused": unused, "kept": result.kept, "pruned": not check}, indent=2) + "\n")
    else:
        for rel, n in unused.items():
            sys.stderr.write(f"  {folder}/{rel}: {n} unused\n")
        missing = sum(1 for c in result.cases if c.status == "error")
        if check:
            note(f"{total} recording{'s' if total != 1 else ''} no case uses, in {len(unused)} "
                 f"file{'s' if len(unused) != 1 else ''} (kept {result.kept})"
                 + ("; drop them with `promptctl recordings prune`" if total else ""))
        else:
            note(f"pruned {total} recording{'s' if total != 1 else ''} from {len(unused)} "
                 f"file{'s' if len(unused) != 1 else ''} (kept {result.kept})")
        if missing:
            note(f"{missing} case{'s have' if missing != 1 else ' has'} no recording: "
                 "`promptctl test` (auto mode) records them")
    raise typer.Exit(1 if check and total else 0)
