"""``promptctl lint [PATHS...]``: check prompts, partials, datasets and promptctl.yaml."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from .app import app, see
from .common import ProjectOption, RefOption, note, project_dir


class LintFormat(str, Enum):
    text = "text"
    json = "json"
    sarif = "sarif"
    github = "github"


_CODES_HELP = "Comma-separated rule codes or prefixes (PC2 = every PC2xx rule, ALL = every rule)."


def statistics_text(findings: list) -> str:  # type: ignore[type-arg]
    """``--statistics``: per rule, most frequent first: ``  3  PC202  undeclared-variable  [error]``."""
    from collections import Counter

    from ..lint.rules import RULES

    counts = Counter((f.code, f.severity) for f in findings)
    if not counts:
        return ""
    width = len(str(max(counts.values())))
    names = {code: RULES[code].name if code in RULES else "?" for code, _ in counts}
    pad = max(len(n) for n in names.values())
    return "".join(f"{n:>{width}}  {code}  {names[code]:<{pad}}  [{severity}]\n"
                   for (code, severity), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


@app.command("lint", epilog=see("lint.md"))
def lint_command(
    paths: Annotated[
        Optional[list[Path]],
        typer.Argument(
            help="Files or folders to lint, with what they affect (a partial re-checks the prompts that include it). "
            "Default: the whole project.",
            show_default=False,
        ),
    ] = None,
    ref: RefOption = None,
    fmt: Annotated[
        LintFormat, typer.Option("--format", help="text (path:line:col: CODE message), json, sarif or github.")
    ] = LintFormat.text,
    select: Annotated[
        Optional[list[str]], typer.Option("--select", help="Run only these rules. " + _CODES_HELP)
    ] = None,
    extend_select: Annotated[
        Optional[list[str]], typer.Option("--extend-select", help="Run these rules too (e.g. the opt-in PC402).")
    ] = None,
    ignore: Annotated[Optional[list[str]], typer.Option("--ignore", help="Skip these rules. " + _CODES_HELP)] = None,
    exit_zero: Annotated[bool, typer.Option("--exit-zero", help="Exit 0 even when errors are found.")] = False,
    explain: Annotated[
        Optional[str], typer.Option("--explain", metavar="CODE", help="Explain a rule (e.g. PC201) and exit.")
    ] = None,
    list_rules: Annotated[bool, typer.Option("--list-rules", help="List every rule (code, name, severity) and exit.")] = False,
    statistics: Annotated[
        bool, typer.Option("--statistics", help="Print how many findings each rule has, instead of the findings.")
    ] = False,
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", metavar="FILE", help="Write the findings to FILE instead of stdout.")
    ] = None,
    project: ProjectOption = None,
) -> None:
    """Lint prompts, partials, datasets and promptctl.yaml; report every finding as path:line:col: CODE message.

    Exit codes: 0 no errors (warnings allowed), 1 errors found, 2 bad usage.
    Suppress a finding with `# promptctl: ignore[PC201]` on its line ({# promptctl: ignore[PC201] #} in
    Jinja text), `lint: {ignore: [PC201]}` in a prompt, or lint.ignore / lint.severity in promptctl.yaml.

    Example: promptctl lint --format sarif > promptctl.sarif
    """
    from ..lint.rules import explain as explain_rule
    from ..lint.rules import find_rule, split_codes

    if list_rules:
        from ..lint.rules import list_rules as rule_lines

        sys.stdout.write(rule_lines())
        return
    if explain is not None:
        sys.stdout.write(explain_rule(find_rule(explain)))
        return
    from ..lint.engine import LintOptions, run_lint
    from ..lint.formats import render, summary
    from ..lint.rules import expand

    chosen = split_codes(select) if select is not None else None
    options = LintOptions(
        select=tuple(chosen) if chosen is not None else None,
        extend_select=tuple(split_codes(extend_select)),
        ignore=tuple(split_codes(ignore)),
    )
    for option, tokens in (("--select", options.select or ()), ("--extend-select", options.extend_select),
                           ("--ignore", options.ignore)):
        expand(tokens, option=option)  # a bad code is a usage error before anything is read
    report = run_lint(
        [str(p) for p in paths] if paths else None, project=project_dir(project), ref=ref, options=options
    )
    text = statistics_text(report.findings) if statistics else render(fmt.value, report.findings)
    if output is not None and str(output) != "-":
        from ..fileio import write_output

        write_output(output, text, what="lint findings")
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    note(summary(report.errors, report.warnings, report.files))
    if report.errors and not exit_zero:
        raise typer.Exit(1)
