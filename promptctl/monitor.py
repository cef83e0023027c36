"""``promptctl monitor OBSERVATIONS…``: production figures per prompt and version, beside its evals.

Reads the JSONL observations ``Prompt.observe`` writes (files, folders, gzip), groups them by prompt
and version, and reports volume, guard pass rate (and which guards fail), latency p50/p95, tokens and
cost per call; beside them, the figures of that version's eval run as its bundle recorded them at
publish (``evals.prompts``), when the registry can be read. ``--fail-under`` turns it into an alert.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from .errors import UsageError


@dataclass(slots=True)
class Group:
    """The observations of one prompt version."""

    prompt: str
    version: str
    refs: set[str] = field(default_factory=set)
    channels: Counter[str] = field(default_factory=Counter)
    count: int = 0
    calls: float = 0.0  # estimated calls: each observation counts 1/sample
    guard_ok: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    tokens: int = 0
    with_tokens: int = 0
    cost: float = 0.0
    with_cost: int = 0
    first: str = ""
    last: str = ""
    evals: Mapping[str, Any] | None = None

    @property
    def pass_rate(self) -> float:
        return self.guard_ok / self.count if self.count else 0.0

    def to_json(self) -> dict[str, Any]:
        from .evals.results import percentile

        lat = self.latencies
        return {
            "prompt": self.prompt,
            "version": self.version,
            "refs": sorted(self.refs),
            "channels": dict(self.channels),
            "observations": self.count,
            "estimated_calls": round(self.calls, 1),
            "guard_pass_rate": round(self.pass_rate, 4),
            "guard_failures": dict(self.failures.most_common()),
            "latency_ms": {"p50": percentile(lat, 0.5), "p95": percentile(lat, 0.95)},
            "tokens_per_call": round(self.tokens / self.with_tokens, 1) if self.with_tokens else None,
            "cost_per_call_usd": round(self.cost / self.with_cost, 10) if self.with_cost else None,
            "first": self.first,
            "last": self.last,
            "evals": None if self.evals is None else dict(self.evals),
        }


_SPAN = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime | None = None) -> str:
    """``--since``: ``30m``, ``24h``, ``7d``, ``2w``, or an ISO date/time; the UTC instant as
    observations write it (``2026-12-06T20:15:00.000Z``), so that it compares as text."""
    now = now or datetime.now(timezone.utc)
    m = _SPAN.match(text.strip())
    if m:
        when = now - timedelta(**{_UNITS[m.group(2)]: float(m.group(1))})
    else:
        try:
            when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            raise UsageError(f"--since {text!r} is neither a span nor a date", hint="e.g. --since 24h, --since 7d, "
                             "--since 2026-12-01 or --since 2026-12-01T08:00:00Z") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def collect(observations: Iterable[Mapping[str, Any]], *, since: str | None = None, channel: str | None = None,
            prompts: Sequence[str] = ()) -> list[Group]:
    """The observations grouped by prompt and version (prompt order, then versions by number)."""
    groups: dict[tuple[str, str], Group] = {}
    wanted = set(prompts)
    for o in observations:
        at = o.get("at") or ""
        if since is not None and at < since:
            continue
        if channel is not None and o.get("channel") != channel:
            continue
        prompt = str(o.get("prompt"))
        if wanted and prompt not in wanted:
            continue
        version = str(o.get("version") or "?")
        g = groups.get((prompt, version))
        if g is None:
            g = groups[(prompt, version)] = Group(prompt, version, first=at, last=at)
        g.count += 1
        sample = o.get("sample")
        g.calls += 1.0 / sample if isinstance(sample, (int, float)) and sample > 0 else 1.0
        ref = o.get("ref")
        if ref:
            g.refs.add(ref)
        if o.get("channel"):
            g.channels[o["channel"]] += 1
        guards = o.get("guards") or {}
        if guards.get("ok", True):
            g.guard_ok += 1
        for f in guards.get("failures") or ():
            g.failures[str(f.get("type"))] += 1
        latency = o.get("latency_ms")
        if isinstance(latency, (int, float)):
            g.latencies.append(float(latency))
        tokens = (o.get("tokens") or {}).get("total")
        if isinstance(tokens, int):
            g.tokens += tokens
            g.with_tokens += 1
        cost = o.get("cost_usd")
        if isinstance(cost, (int, float)):
            g.cost += cost
            g.with_cost += 1
        if at and at < g.first:
            g.first = at
        if at > g.last:
            g.last = at
    return sorted(groups.values(), key=lambda g: (g.prompt, _version_key(g.version)))


#: Plain files larger than this (in all) are read by several processes, each a byte range of them.
PARALLEL_BYTES = 32 * 1024 * 1024


def collect_paths(paths: Sequence[Any], *, since: str | None = None, channel: str | None = None,
                  prompts: Sequence[str] = (), jobs: int | None = None) -> list[Group]:
    """:func:`collect` over observation files and folders; big plain files are split into byte ranges
    read by ``jobs`` processes (default: one per core, at most 4), gzipped files one process each."""
    import os

    from .observe import observation_files, read_ranges

    files = observation_files(paths)
    total = sum(os.path.getsize(f) for f in files if not f.endswith(".gz"))
    jobs = jobs or min(4, os.cpu_count() or 1)
    if jobs < 2 or total < PARALLEL_BYTES:
        return collect(read_ranges((f, 0, None) for f in files), since=since, channel=channel, prompts=prompts)
    ranges: list[tuple[str, int, int | None]] = []
    step = max(1, total // (jobs * 2))
    for f in files:
        if f.endswith(".gz"):
            ranges.append((f, 0, None))
            continue
        size = os.path.getsize(f)
        ranges += [(f, start, min(size, start + step)) for start in range(0, size, step)]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("fork") if "fork" in multiprocessing.get_all_start_methods() else None
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        parts = list(pool.map(_collect_range, [(r, since, channel, tuple(prompts)) for r in ranges]))
    return merge_groups(g for part in parts for g in part)


def _collect_range(args: tuple[tuple[str, int, int | None], str | None, str | None, tuple[str, ...]]) -> list[Group]:
    where, since, channel, prompts = args
    from .observe import read_ranges

    return collect(read_ranges([where]), since=since, channel=channel, prompts=prompts)


def merge_groups(groups: Iterable[Group]) -> list[Group]:
    """Groups of the same prompt version (from several processes) added together."""
    out: dict[tuple[str, str], Group] = {}
    for g in groups:
        into = out.get((g.prompt, g.version))
        if into is None:
            out[(g.prompt, g.version)] = g
            continue
        into.refs |= g.refs
        into.channels.update(g.channels)
        into.count += g.count
        into.calls += g.calls
        into.guard_ok += g.guard_ok
        into.failures.update(g.failures)
        into.latencies.extend(g.latencies)
        into.tokens += g.tokens
        into.with_tokens += g.with_tokens
        into.cost += g.cost
        into.with_cost += g.with_cost
        into.first = min(x for x in (into.first, g.first) if x) if (into.first or g.first) else ""
        into.last = max(into.last, g.last)
    return sorted(out.values(), key=lambda g: (g.prompt, _version_key(g.version)))


def _version_key(version: str) -> tuple[int, str]:
    return (int(version[1:]), "") if re.fullmatch(r"v\d+", version) else (1 << 60, version)


def attach_evals(groups: Sequence[Group], read_bundle: Any) -> None:
    """Each group's eval figures from its version's bundle (``read_bundle(n) -> bundle``; errors: none)."""
    cache: dict[str, Any] = {}
    for g in groups:
        if not re.fullmatch(r"v\d+", g.version):
            continue
        if g.version not in cache:
            try:
                cache[g.version] = read_bundle(int(g.version[1:]))
            except Exception:  # noqa: BLE001 - a version the registry does not have shows no eval figures
                cache[g.version] = None
        bundle = cache[g.version]
        evals = (bundle or {}).get("evals") or {}
        g.evals = (evals.get("prompts") or {}).get(g.prompt)


# -- reports -----------------------------------------------------------------------------------------


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.1f}%"


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x:.0f}ms"


def _usd(x: float | None) -> str:
    return "-" if x is None else (f"${x:.4f}" if x >= 0.01 else f"${x:.6f}")


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:g}"


def rows(groups: Sequence[Group]) -> list[dict[str, str]]:
    out = []
    for g in groups:
        j = g.to_json()
        ev = g.evals or {}
        lat = ev.get("latency_ms") or {}
        out.append({
            "prompt": g.prompt,
            "version": g.version,
            "calls": f"{j['estimated_calls']:,.0f}",
            "guards": _pct(g.pass_rate),
            "p50": _ms(j["latency_ms"]["p50"]),
            "p95": _ms(j["latency_ms"]["p95"]),
            "tokens/call": _num(j["tokens_per_call"]),
            "cost/call": _usd(j["cost_per_call_usd"]),
            "eval pass": _pct(ev.get("pass_rate")) if ev else "-",
            "eval p50": _ms(lat.get("p50")) if ev else "-",
            "eval p95": _ms(lat.get("p95")) if ev else "-",
            "eval tokens": _num(ev.get("tokens_per_call")) if ev else "-",
            "eval cost": _usd(ev.get("cost_per_call_usd")) if ev else "-",
            "failing guards": ", ".join(f"{t} ×{n}" for t, n in g.failures.most_common(3)) or "-",
        })
    return out


def format_text(groups: Sequence[Group], failing: Sequence[Group], fail_under: float | None) -> str:
    table = rows(groups)
    if not table:
        return "no observations matched\n"
    cols = list(table[0])
    widths = {c: max(len(c), *(len(r[c]) for r in table)) for c in cols}
    lines = ["  ".join(c.ljust(widths[c]) for c in cols).rstrip()]
    lines += ["  ".join(r[c].ljust(widths[c]) for c in cols).rstrip() for r in table]
    lines += [""] + _verdict(groups, failing, fail_under)
    return "\n".join(lines) + "\n"


def _verdict(groups: Sequence[Group], failing: Sequence[Group], fail_under: float | None) -> list[str]:
    total = sum(g.count for g in groups)
    head = f"{total:,} observation{'s' if total != 1 else ''} of {len(groups)} prompt version{'s' if len(groups) != 1 else ''}"
    if fail_under is None:
        return [head]
    if not failing:
        return [f"ok: every version's guard pass rate is at least {fail_under * 100:g}% ({head})"]
    out = [f"FAIL: {len(failing)} version{'s' if len(failing) != 1 else ''} under {fail_under * 100:g}% guard pass rate ({head}):"]
    for g in failing:
        out.append(f"  {g.prompt}@{g.version}: {_pct(g.pass_rate)} of {g.count:,}"
                   + (f"; roll back with `promptctl rollback {next(iter(g.channels))}`" if g.channels else ""))
    return out


def format_json(groups: Sequence[Group], failing: Sequence[Group], fail_under: float | None, since: str | None) -> str:
    return json.dumps({
        "since": since,
        "fail_under": fail_under,
        "ok": not failing,
        "groups": [g.to_json() for g in groups],
        "failing": [{"prompt": g.prompt, "version": g.version, "guard_pass_rate": round(g.pass_rate, 4)} for g in failing],
    }, indent=2, ensure_ascii=False) + "\n"


def format_markdown(groups: Sequence[Group], failing: Sequence[Group], fail_under: float | None) -> str:
    table = rows(groups)
    icon = "❌" if failing else "✅"
    lines = [f"### {icon} promptctl monitor", ""]
    if table:
        cols = list(table[0])
        lines += ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
        lines += ["| " + " | ".join(r[c].replace("|", "\\|") for c in cols) + " |" for r in table]
        lines.append("")
    lines += _verdict(groups, failing, fail_under)
    return "\n".join(lines) + "\n"


def format_html(groups: Sequence[Group], failing: Sequence[Group], fail_under: float | None) -> str:
    from .evals.html import CSP, SCRIPT, STYLE, _e  # the report's style; its script finds no filters here

    table = rows(groups)
    head = "".join(f"<th>{_e(c)}</th>" for c in (table[0] if table else []))
    body = "".join("<tr>" + "".join(f"<td{' class=n' if k not in ('prompt', 'version', 'failing guards') else ''}>{_e(v)}</td>"
                                    for k, v in r.items()) + "</tr>" for r in table)
    verdict = "".join(f"<p class='verdict {'fail' if failing else 'ok'}'>{_e(line)}</p>" if i == 0 else f"<p>{_e(line)}</p>"
                      for i, line in enumerate(_verdict(groups, failing, fail_under)))
    return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><meta http-equiv=Content-Security-Policy "
            f"content=\"{_e(CSP)}\"><title>promptctl monitor</title><style>{STYLE}</style></head><body>"
            f"<h1>promptctl monitor</h1>{verdict}<table class=summary><thead><tr>{head}</tr></thead><tbody>{body}"
            f"</tbody></table><script>{SCRIPT}</script></body></html>\n")
