"""Goldens from production: ``promptctl golden add --from OBSERVATIONS --prompt NAME``.

Observed calls that kept their inputs (``observe: {inputs: true}``, or ``Observer(store_inputs=True)``)
become *pending* new cases of the prompt's dataset, deduplicated by inputs (against the dataset's
cases, the pending ones, and each other), for ``promptctl review`` to accept (which writes the case,
with ``reviewed: {by, at}``) or reject. Nothing reaches a dataset without a review.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import UsageError

if TYPE_CHECKING:
    from ..project import Project
    from .pending import PendingCase


@dataclass(slots=True)
class Proposal:
    """What ``golden add`` found and proposed."""

    dataset: str
    proposed: list[PendingCase] = field(default_factory=list)
    seen: int = 0  # observations of the prompt
    without_inputs: int = 0
    passing_skipped: int = 0  # with --failed: observations whose guards passed
    duplicates: int = 0  # same inputs as a case, a pending case, or another observation
    sampled_out: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "proposed": [e.case for e in self.proposed],
            "observations": self.seen,
            "without_inputs": self.without_inputs,
            "passing_skipped": self.passing_skipped,
            "duplicates": self.duplicates,
            "sampled_out": self.sampled_out,
        }


def pick_dataset(project: Project, prompt: str, dataset: str | None) -> str:
    """The dataset file (relative to the project root) the new cases go to."""
    import os

    from .pending import _project_rel

    project.get_prompt(prompt)  # a NotFoundError with suggestions for a wrong name
    mine = [d for d in project.datasets() if d.prompt == prompt]
    if dataset is not None:
        chosen = [d for d in mine if dataset in (d.name, d.path, _project_rel(project.config.root, d.path))]
        if not chosen:
            raise UsageError(f"{dataset!r} is not a dataset of prompt {prompt!r}",
                             hint="its datasets: " + (", ".join(d.name for d in mine) or "none"))
        return _project_rel(project.config.root, chosen[0].path)
    if not mine:
        name = prompt.replace("/", "-")
        raise UsageError(f"prompt {prompt!r} has no dataset to add cases to",
                         hint=f"create {os.path.join(project.config.evals, name + '.eval.yaml')} with `prompt: {prompt}` "
                         "and a first case under `cases:`, then run this again")
    if len(mine) > 1:
        raise UsageError(f"prompt {prompt!r} has {len(mine)} datasets: say which with --dataset",
                         hint="--dataset " + " or --dataset ".join(d.name for d in mine))
    return _project_rel(project.config.root, mine[0].path)


def propose_cases(
    project: Project,
    observations: Iterable[Mapping[str, Any]],
    prompt: str,
    *,
    dataset: str | None = None,
    failed: bool = False,
    sample: int | None = None,
    seed: int = 0,
) -> Proposal:
    """Pending new cases of ``prompt``'s dataset from ``observations`` (not yet written to the store)."""
    from ..model import content_hash
    from .pending import PendingCase, load_pending

    rel = pick_dataset(project, prompt, dataset)
    target = next(d for d in project.datasets() if d.prompt == prompt and d.path.endswith(rel))
    known = {content_hash(dict(c.inputs)) for c in target.cases}
    known |= {content_hash(dict(e.inputs)) for e in load_pending(project.config.root, names=[rel])}
    out = Proposal(rel)
    found: list[Mapping[str, Any]] = []
    for o in observations:
        if o.get("prompt") != prompt:
            continue
        out.seen += 1
        inputs = o.get("inputs")
        if not isinstance(inputs, Mapping) or not inputs:
            out.without_inputs += 1
            continue
        ok = (o.get("guards") or {}).get("ok", True)
        if failed and ok:
            out.passing_skipped += 1
            continue
        key = content_hash(dict(inputs))
        if key in known:
            out.duplicates += 1
            continue
        known.add(key)
        found.append(o)
    if sample is not None and len(found) > sample:
        out.sampled_out = len(found) - sample
        found = random.Random(seed).sample(found, sample)
    base = len(target.cases)
    for n, o in enumerate(found):
        inputs = dict(o["inputs"])
        guards = o.get("guards") or {}
        failures = guards.get("failures") or []
        out.proposed.append(PendingCase(
            dataset=rel, dataset_name=target.name, prompt=prompt,
            case=f"observed-{content_hash(inputs).removeprefix('sha256:')[:10]}",
            source=rel, line=0, old=None, new=o.get("output") or "", output=o.get("output") or "",
            status="passed" if guards.get("ok", True) else "failed",
            score=1.0 if guards.get("ok", True) else 0.0,
            reason="; ".join(f"{f.get('type')}: {f.get('reason')}" for f in failures),
            asserts=tuple({"type": f.get("type"), "pass": False, "score": 0.0, "reason": f.get("reason"),
                           "description": "guard"} for f in failures),
            description=f"observed {o.get('at', '')} on {o.get('ref', '')}".strip(),
            inputs=inputs, model=o.get("model"),
            run={"at": o.get("at"), "version": o.get("version"), "mode": "production", "ref": o.get("ref"),
                 "channel": o.get("channel")},
            position=base + n, origin="observed",
        ))
    return out


def summary_lines(p: Proposal, names: Sequence[str] = ()) -> list[str]:
    lines = [f"{len(p.proposed)} new case{'s' if len(p.proposed) != 1 else ''} pending review for {p.dataset} "
             f"(from {p.seen:,} observation{'s' if p.seen != 1 else ''} of the prompt)"]
    if p.duplicates:
        lines.append(f"  {p.duplicates:,} had the inputs of a case already there or pending")
    if p.passing_skipped:
        lines.append(f"  {p.passing_skipped:,} passed their guards (--failed takes only failing ones)")
    if p.sampled_out:
        lines.append(f"  {p.sampled_out:,} left out by --sample")
    if p.without_inputs:
        lines.append(f"  {p.without_inputs:,} kept no inputs: keep them with `observe: {{inputs: true}}` in the prompt "
                     "file, or Observer(store_inputs=True)")
    if p.proposed:
        lines.append("review them: promptctl review " + p.dataset + "  (or --accept-all / --reject-all)")
    return lines
