"""``promptctl report merge REPORTS...``: one verdict from the JSON reports of a sharded run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .app import app, see
from .test import OutputOption, QuietOption, TestFormat, VerboseOption, emit_report, print_summary, verbosity


@app.command("report", epilog=see("evals.md#reports"))
def report_command(
    reports: Annotated[
        list[str],
        typer.Argument(help="`merge`, then the JSON reports to merge (from `promptctl test --format json -o FILE`); "
                       "one report alone is shown again in another format.", show_default=False, metavar="[merge] REPORT..."),
    ],
    fmt: Annotated[
        TestFormat, typer.Option("--format", "-f", help="The merged report on stdout (or in -o FILE): text, json, "
                                 "junit, markdown or html. The summary always goes to stderr.")
    ] = TestFormat.text,
    output: OutputOption = None,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Merge the JSON reports of a sharded run (`promptctl test --shard I/N`) into one verdict, with every
    dataset's threshold judged on all of its cases, as one unsharded run would judge them.

    Refuses reports of different versions, a shard missing or given twice, and a case in two reports.
    Exit codes: 0 every dataset meets its threshold; 1 one does not, a case regressed, or a shard's
    budget stopped it; 2 bad usage or a file that is not a report. When $GITHUB_STEP_SUMMARY is set,
    the Markdown report is appended to it.

    Examples: promptctl report merge shard-*.json --format junit -o evals.xml ·
    promptctl report merge a.json b.json --format markdown
    """
    from ..evals.shards import merge

    level = verbosity(quiet, verbose)
    paths = reports[1:] if reports and reports[0] == "merge" else reports
    result = merge([Path(p) for p in paths])
    print_summary(result, level, tty=False)
    emit_report(result, fmt, output)
    raise typer.Exit(result.exit_code)
