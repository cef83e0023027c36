"""Sharded runs and merged reports: ``promptctl test --shard I/N`` and ``promptctl report merge``.

A case's shard comes from its identity (its dataset's path and its id), never from its position, so
adding a case elsewhere does not move it, and every case lands in exactly one shard. A shard's report
judges only what can be judged on a share (errors, regressions against a baseline, the budget);
``promptctl report merge`` reads every shard's JSON report back and judges the thresholds (and a
model comparison) on the whole, as one unsharded run would.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import FileFormatError, UsageError
from ..model import Dataset
from .assertions import AssertionResult
from .results import CaseResult, DatasetResult, Regression, RunResult

Shard = tuple[int, int]  # (index from 1, count)


def parse_shard(text: str) -> Shard:
    """``"2/4"`` → ``(2, 4)``; a usage error that shows the form otherwise."""
    m = re.fullmatch(r"\s*(\d{1,6})\s*/\s*(\d{1,6})\s*", text)
    if not m:
        raise UsageError(f"--shard {text!r} is not I/N", hint="e.g. --shard 1/4 (the first of four shards)")
    index, count = int(m.group(1)), int(m.group(2))
    if count < 1 or not 1 <= index <= count:
        raise UsageError(f"--shard {text}: I must be from 1 to N, and N at least 1", hint="e.g. --shard 1/4 … --shard 4/4")
    return index, count


def shard_of(dataset_path: str, case_id: str, count: int) -> int:
    """The shard (from 1) of the case ``case_id`` of the dataset at ``dataset_path``."""
    digest = hashlib.sha256(f"{dataset_path}\0{case_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


# -- reading reports back ----------------------------------------------------------------------


def _case(data: dict[str, Any]) -> CaseResult:
    base = data.get("baseline")
    inputs = data.get("inputs")
    messages = data.get("messages")
    calls = data.get("tool_calls")
    return CaseResult(
        id=str(data["id"]),
        status=str(data["status"]),
        score=float(data.get("score") or 0.0),
        reason=data.get("reason") or "",
        output=data.get("output"),
        asserts=[
            AssertionResult(
                type=a.get("type", "?"), passed=bool(a.get("pass")), score=float(a.get("score") or 0.0),
                reason=a.get("reason") or "", weight=float(a.get("weight", 1.0)),
                metric=a.get("metric"), description=a.get("description"),
            )
            for a in data.get("asserts") or []
        ],
        model=data.get("model"),
        latency_ms=data.get("latency_ms"),
        cost_usd=data.get("cost_usd"),
        tokens=int(data.get("tokens") or 0),
        recorded=bool(data.get("recorded")),
        source=data.get("source") or "",
        position=int(data.get("position") or 0),
        golden=data.get("golden"),
        inputs=inputs if isinstance(inputs, dict) else None,
        messages=[m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else None,
        description=data.get("description"),
        tags=tuple(str(t) for t in data.get("tags") or ()),
        tool_calls=[c for c in calls if isinstance(c, dict)] or None if isinstance(calls, list) else None,
        baseline=_case({"id": data["id"], **base}) if isinstance(base, dict) else None,
    )


def _dataset(data: dict[str, Any]) -> DatasetResult:
    dataset = Dataset(path=str(data["path"]), prompt=str(data["prompt"]), cases=(), threshold=float(data["threshold"]))
    return DatasetResult(
        dataset=dataset,
        model=data.get("model"),
        prompt_ref=data.get("ref"),
        cases=[_case(c) for c in data.get("cases") or []],
        version=data.get("version") or "working tree",
    )


def read_report(path: Path) -> dict[str, Any]:
    """A saved ``promptctl test --format json`` report; a located error for anything else."""
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{shown}: no such report", hint="write one with `promptctl test --format json -o FILE`") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"{shown}: cannot read the report ({e})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise FileFormatError(f"invalid JSON: {e.msg}", path=shown, line=e.lineno, col=e.colno,
                              hint="merge the JSON reports (`promptctl test --format json -o FILE`)") from None
    except RecursionError:
        raise FileFormatError("JSON nested too deeply", path=shown, line=1, col=1) from None
    if not isinstance(data, dict) or "promptctl" not in data or not isinstance(data.get("datasets"), list):
        raise FileFormatError("not a promptctl test report (no `promptctl` and `datasets` keys)", path=shown, line=1,
                              col=1, hint="merge the JSON reports (`promptctl test --format json -o FILE`)")
    return data


def merge(paths: Sequence[Path]) -> RunResult:
    """One result from the JSON reports at ``paths`` (every shard of one run, or runs of disjoint
    datasets), with the thresholds judged on the whole."""
    if not paths:
        raise UsageError("name the reports to merge", hint="promptctl report merge shard-1.json shard-2.json …")
    reports = [(str(p), read_report(p)) for p in paths]
    versions = {data.get("version") for _, data in reports}
    if len(versions) > 1:
        listed = ", ".join(f"{shown}: {data.get('version')}" for shown, data in reports)
        raise UsageError(f"the reports are of different versions ({listed})",
                         hint="merge the shards of one run (same --ref, same commit)")
    _check_shards(reports)
    first = reports[0][1]
    merged: dict[tuple[str, Any], DatasetResult] = {}
    seen: dict[tuple[str, Any, str], int] = {}
    for n, (shown, data) in enumerate(reports):
        for d in data["datasets"]:
            try:
                part = _dataset(d)
            except (KeyError, TypeError, ValueError) as e:
                raise FileFormatError(f"a dataset entry is malformed ({e})", path=shown, line=1, col=1) from None
            key = (part.dataset.path, part.model)
            into = merged.setdefault(key, DatasetResult(part.dataset, part.model, part.prompt_ref, [], part.version))
            if into.dataset.threshold != part.dataset.threshold:
                raise UsageError(f"{part.dataset.path} has threshold {part.dataset.threshold:g} in {shown} and "
                                 f"{into.dataset.threshold:g} in another report", hint="merge the shards of one run")
            for case in part.cases:
                where = seen.setdefault((part.dataset.path, part.model, case.id), n)
                if where != n:
                    raise UsageError(f"case {case.id!r} of {part.dataset.path} is in both {reports[where][0]} and {shown}",
                                     hint="merge the shards of one run (each with the same N)")
                into.cases.append(case)
    for d in merged.values():
        d.cases.sort(key=lambda c: c.position)  # the dataset's order, as an unsharded run reports it
    summaries = [data.get("summary") or {} for _, data in reports]
    models = list(dict.fromkeys(m for _, data in reports for m in (data.get("models") or [None])))
    budgets = [data.get("budget") or {} for _, data in reports]
    baseline: list[Any] = [data.get("baseline") for _, data in reports if data.get("baseline")]
    datasets = sorted(merged.values(), key=lambda d: (models.index(d.model) if d.model in models else len(models),
                                                        d.dataset.path))
    return RunResult(
        datasets=datasets,
        mode=str(first.get("mode", "auto")),
        version=str(first.get("version", "working tree")),
        models=models,
        baseline_version=baseline[0].get("version") if baseline else None,
        budget_limit=budgets[0].get("limit_usd"),
        spent_usd=sum(float(b.get("spent_usd") or 0.0) for b in budgets),
        estimated_usd=sum(float(b.get("estimated_usd") or 0.0) for b in budgets),
        budget_stopped=any(b.get("stopped") for b in budgets),
        live_calls=sum(int(s.get("live_calls") or 0) for s in summaries),
        replayed=sum(int(s.get("replayed") or 0) for s in summaries),
        recorded=sum(int(s.get("recorded") or 0) for s in summaries),
        duration_s=max((float(s.get("duration_s") or 0.0) for s in summaries), default=0.0),
        given_regressions=[
            Regression(r["dataset"], r["case"], r.get("model"), r.get("reason") or "")
            for b in baseline for r in b.get("regressions") or []
        ] if baseline else None,
    )


def _check_shards(reports: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """Every shard of one run, each once, or no shards at all."""
    shards = [(shown, data.get("shard")) for shown, data in reports]
    sharded = [(shown, s) for shown, s in shards if s]
    if not sharded:
        return
    if len(sharded) != len(shards):
        plain = next(shown for shown, s in shards if not s)
        raise UsageError(f"{plain} is not a shard's report, and the others are", hint="merge the shards of one run")
    counts = {int(s["count"]) for _, s in sharded}
    if len(counts) > 1:
        raise UsageError("the shards were cut differently (N is " + ", ".join(str(n) for n in sorted(counts)) + ")",
                         hint="run every shard with the same --shard I/N")
    (count,) = counts
    by_index: dict[int, str] = {}
    for shown, s in sharded:
        index = int(s["index"])
        if index in by_index:
            raise UsageError(f"shard {index}/{count} is in both {by_index[index]} and {shown}")
        by_index[index] = shown
    missing = [i for i in range(1, count + 1) if i not in by_index]
    if missing:
        raise UsageError(
            "missing " + ", ".join(f"shard {i}/{count}" for i in missing) + ": the verdict needs every shard",
            hint="merge the report of each shard; a shard whose cases fail still writes its report with -o",
        )
