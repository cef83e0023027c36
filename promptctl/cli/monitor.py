"""``promptctl monitor OBSERVATIONS...``: production figures per prompt version, and an alert."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from .app import app, see
from .common import ProjectOption, note
from .registry import RegistryOption
from .test import OutputOption


class MonitorFormat(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"
    html = "html"


@app.command("monitor", epilog=see("production.md"))
def monitor_command(
    observations: Annotated[
        list[Path],
        typer.Argument(help="Observation files written by Prompt.observe (JSONL, gzipped too) or folders of them.",
                       show_default=False, metavar="OBSERVATIONS..."),
    ],
    since: Annotated[
        Optional[str], typer.Option("--since", metavar="WHEN", help="Only observations since then: 30m, 24h, 7d, 2w, "
                                    "or a date/time (2026-12-01, 2026-12-01T08:00:00Z).")
    ] = None,
    channel: Annotated[Optional[str], typer.Option("--channel", help="Only observations made on this channel.")] = None,
    prompt: Annotated[
        Optional[list[str]], typer.Option("--prompt", help="Only this prompt (repeat for several).")
    ] = None,
    fail_under: Annotated[
        Optional[float],
        typer.Option("--fail-under", min=0.0, max=1.0, metavar="RATE", help="Exit 1 when a version's guard pass rate "
                     "is below RATE (0-1), for a cron job or a CI schedule to alert on."),
    ] = None,
    fmt: Annotated[
        MonitorFormat, typer.Option("--format", "-f", help="text, json, markdown or html (a self-contained page).")
    ] = MonitorFormat.text,
    output: OutputOption = None,
    registry: RegistryOption = None,
    project: ProjectOption = None,
) -> None:
    """Report production figures per prompt and version from the observations Prompt.observe wrote:
    volume, guard pass rate and the guards that fail, latency p50/p95, tokens and cost per call; and,
    from the registry (the project's, or --registry), the same figures of that version's eval run,
    recorded in its bundle at publish.

    Exit codes: 0 fine; 1 a version's guard pass rate is under --fail-under; 2 bad usage or no
    observation file.

    Examples: promptctl monitor logs/observations.jsonl · promptctl monitor logs/ --since 24h
    --channel production --fail-under 0.95 · promptctl monitor obs.jsonl.gz --format html -o monitor.html
    """
    from .. import monitor
    from ..errors import PromptctlError, UsageError

    for path in observations:
        if not path.exists():
            raise UsageError(f"{path}: no such file or folder",
                             hint="name the files Prompt.observe writes (Registry(observe='observations.jsonl'))")
    cutoff = monitor.parse_since(since) if since else None
    groups = monitor.collect_paths(observations, since=cutoff, channel=channel, prompts=prompt or ())
    try:
        from ..registry.bundle import read_bundle
        from ..registry.resolve import open_registry

        store = open_registry(project, url=registry).store
        monitor.attach_evals(groups, lambda n: read_bundle(store, n))
    except PromptctlError as e:
        if registry is not None:
            raise
        note(f"no eval figures: {e.message}")
    failing = [g for g in groups if fail_under is not None and g.pass_rate + 1e-12 < fail_under]
    if fmt is MonitorFormat.json:
        text = monitor.format_json(groups, failing, fail_under, cutoff)
    elif fmt is MonitorFormat.markdown:
        text = monitor.format_markdown(groups, failing, fail_under)
    elif fmt is MonitorFormat.html:
        text = monitor.format_html(groups, failing, fail_under)
    else:
        text = monitor.format_text(groups, failing, fail_under)
    if output is not None:
        from ..fileio import write_output

        write_output(output, text, what="report")
        note(f"wrote the {fmt.value} report to {output}")
    else:
        sys.stdout.write(text)
    raise typer.Exit(1 if failing else 0)
