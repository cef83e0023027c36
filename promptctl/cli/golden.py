"""``promptctl golden add --from OBSERVATIONS --prompt NAME``: production calls as cases pending review."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .app import command_group, see
from .common import ProjectOption, TextOrJson, emit_json, note, project_dir

golden_app = command_group("golden", "Golden cases from elsewhere: `promptctl golden add --from OBSERVATIONS --prompt NAME` "
                           "proposes production calls as new cases, for `promptctl review`.")


@golden_app.command("add", epilog=see("production.md"))
def golden_add_command(
    observations: Annotated[
        list[Path], typer.Option("--from", metavar="OBSERVATIONS", help="Observation files or folders written by "
                                 "Prompt.observe (JSONL, gzip too); repeat for several.", show_default=False)
    ],
    prompt: Annotated[str, typer.Option("--prompt", help="The prompt whose observations become cases.", show_default=False)],
    dataset: Annotated[
        Optional[str], typer.Option("--dataset", help="Which of the prompt's datasets gets them (needed when it has several).")
    ] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Only observations whose guards failed.")] = False,
    sample: Annotated[
        Optional[int], typer.Option("--sample", min=1, metavar="N", help="At most N cases, picked at random (--seed).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="The seed of --sample's pick (the same seed picks the same cases).")] = 0,
    since: Annotated[Optional[str], typer.Option("--since", metavar="WHEN", help="Only observations since then (24h, 7d, a date).")] = None,
    fmt: Annotated[TextOrJson, typer.Option("--format", "-f", help="text, or json for scripts.")] = TextOrJson.text,
    project: ProjectOption = None,
) -> None:
    """Turn observed production calls (with their stored inputs) into new cases of the prompt's
    dataset, pending review: deduplicated by inputs, the observed output as the proposed golden.
    `promptctl review` then accepts (the case is written, with `reviewed: {by, at}`), edits or rejects
    each; nothing reaches a dataset without a review.

    Examples: promptctl golden add --from logs/ --prompt support/reply --failed ·
    promptctl golden add --from obs.jsonl --prompt support/reply --sample 20 --seed 7
    """
    from ..errors import UsageError
    from ..evals.pending import propose
    from ..evals.production import propose_cases, summary_lines
    from ..monitor import parse_since
    from ..observe import read_observations
    from ..project import open_project

    for path in observations:
        if not path.exists():
            raise UsageError(f"{path}: no such file or folder", hint="name the files Prompt.observe writes")
    proj = open_project(project_dir(project))
    cutoff = parse_since(since) if since else None
    stream = (o for o in read_observations(observations) if cutoff is None or (o.get("at") or "") >= cutoff)
    proposal = propose_cases(proj, stream, prompt, dataset=dataset, failed=failed, sample=sample, seed=seed)
    propose(proj.config.root, proposal.proposed)
    if fmt is TextOrJson.json:
        emit_json(proposal.to_json())
    for line in summary_lines(proposal):
        note(line)
