"""``promptctl import promptfoo [CONFIG]``: turn another tool's configuration into a promptctl project."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from .app import command_group, see
from .common import TextOrJson, note, project_dir

import_app = command_group(
    "import",
    "Move to promptctl from another tool: `promptctl import promptfoo` turns a promptfooconfig.yaml "
         "into prompts, datasets and model aliases.",
)


@import_app.command("promptfoo", epilog=see("import.md"), short_help="Turn a promptfooconfig.yaml into prompts, datasets and model aliases.")
def promptfoo_command(
    config: Annotated[
        Optional[Path],
        typer.Argument(help="The promptfoo config (or a folder holding one). Default: promptfooconfig.yaml "
                            "(.yml, .json) in the current folder.", show_default=False),
    ] = None,
    into: Annotated[
        Optional[Path],
        typer.Option("--into", "-o", help="Where to write the project (created if missing). Default: --project, "
                                          "else the current folder.", show_default=False),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that already exist.")] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 1 when something was not carried over (the files are still written).")
    ] = False,
    fmt: Annotated[
        TextOrJson,
        typer.Option("--format", "-f", help="text (files on stdout, the rest on stderr) or json "
                                            "({written, skipped, notes} on stdout)."),
    ] = TextOrJson.text,
) -> None:
    """Turn a promptfoo config into a promptctl project: promptctl.yaml (its providers as model aliases,
    the first as defaults.model), one prompts/NAME.prompt.yaml per prompt (inputs inferred from its
    template), and one evals/NAME.eval.yaml per prompt holding its tests (defaultTest as the dataset's
    defaults, CSV __expected columns as assertions).

    What promptctl cannot express (JavaScript assertions, custom providers, transforms, redteam,
    scenarios, ...) is listed with its file and line, and the import goes on without it. Every
    file:// path must stay inside the config's folder. Existing files are never overwritten
    without --force (all of them are listed). Afterwards: promptctl lint, then promptctl test.

    Exit codes: 0 imported; 1 with --strict, something was not carried over; 2 bad input (nothing written).

    Examples: promptctl import promptfoo · promptctl import promptfoo evals/promptfooconfig.yaml --into .
    """
    from ..importers import write_files
    from ..importers.promptfoo import find_config, plan_import

    path = find_config(config)
    target = into or project_dir(None) or Path(".")
    plan = plan_import(path, target)
    written = write_files(target, plan.files, force=force)
    shown = [str(target / rel) for rel in written]
    if fmt is TextOrJson.json:
        data = {"written": shown, "skipped": [s.to_json() for s in plan.skipped], "notes": plan.notes}
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    else:
        for line in shown:
            typer.echo(line)
        if plan.skipped:
            note(f"not carried over ({len(plan.skipped)}):")
            for item in plan.skipped:
                note(f"  {item}")
        for line in plan.notes:
            note(f"note: {line}")
        from ..text import plural

        n = len(plan.skipped)
        left = f", {plural(n, 'item')} not carried over" if n else ""
        note(f"imported {path} into {target} ({plural(len(written), 'file')}{left}).")
        where = "" if target.resolve() == Path.cwd().resolve() else f"cd {shlex.quote(str(target))} && "
        note(f"next: {where}promptctl lint && promptctl test")
    raise typer.Exit(1 if strict and plan.skipped else 0)
