"""Text output of the registry commands (``--format json`` prints the values as they are)."""

from __future__ import annotations

import json
from typing import Any


def _text(value: str | None) -> str:
    """``value`` as is when it is printable on one line, else JSON-quoted (escapes newlines and ESC)."""
    if value is None:
        return "-"
    return value if value.isprintable() else json.dumps(value, ensure_ascii=False)


def _short(digest: str | None) -> str:
    return (digest or "").removeprefix("sha256:")[:7]


def _when(at: str | None) -> str:
    """``2026-11-30T18:51:02.123Z`` as ``2026-11-30 18:51:02`` (UTC)."""
    return (at or "").replace("T", " ")[:19]


def move_line(move: Any) -> str:
    """``production: v2 -> v3 (promote, record 5)``, and ``(unchanged)`` when nothing was written."""
    record = move.record
    if not move.written:
        return f"{move.channel}: v{record['version']} (unchanged)"
    before = f"v{move.previous['version']}" if move.previous else "(new)"
    held = ", on hold" if record["held"] else ""
    if move.action == "release":
        return f"{move.channel}: released, serving v{record['version']} (record {record['seq']})"
    return f"{move.channel}: {before} -> v{record['version']} ({move.action}, record {record['seq']}{held})"


def format_versions(rows: list[Any]) -> str:
    """One line per version, newest first: number, date, commit, prompts, actor, channels, message."""
    if not rows:
        return ""
    lines = []
    width = max(len(f"v{r.version}") for r in rows)
    for r in reversed(rows):
        if r.damaged:
            channels = f"  [{', '.join(r.channels)}]" if r.channels else ""
            lines.append(f"v{r.version}".ljust(width) + f"  DAMAGED{channels}  {_text(r.damaged)}")
            continue
        commit = (r.git.get("commit") or "")[:7] or "-"
        if r.git.get("dirty"):
            commit += "+dirty"
        channels = f"[{', '.join(r.channels)}]" if r.channels else ""
        message = json.dumps(r.message, ensure_ascii=False) if r.message else ""
        parts = [f"v{r.version}".ljust(width), _when(r.created_at)[:16], commit.ljust(13),
                 f"{r.prompts:>4} prompts", _text(r.actor), channels, message]
        lines.append("  ".join(p for p in parts if p).rstrip())
    return "\n".join(lines) + "\n"


def format_history(entries: list[Any]) -> str:
    """The audit log, newest first: seq, time, action, from -> to, hold, actor, reason; a damaged
    record is a ``DAMAGED`` line saying what is wrong and which repair record skips it."""
    good = [e for e in entries if isinstance(e, dict)]
    before_of = {r["seq"]: good[i + 1] for i, r in enumerate(good[:-1])}
    lines = []
    for r in entries:
        if not isinstance(r, dict):
            which = f"#{r.seq}" if r.last == r.seq else f"#{r.seq}-{r.last}"
            fixed = f"(skipped by repair #{r.repaired_by})" if r.repaired_by else "(not repaired)"
            lines.append(f"{which:<5}  DAMAGED  {_text(r.message)}  {fixed}")
            continue
        before = before_of.get(r["seq"])
        if before is not None and before["version"] != r["version"]:
            move = f"v{before['version']} -> v{r['version']}"
        else:
            move = f"v{r['version']}"
        held = "held" if r["held"] else ""
        reason = json.dumps(r["reason"], ensure_ascii=False) if r.get("reason") else ""
        parts = [f"#{r['seq']:<4}", _when(r["at"]), f"{r['action']:<8}", f"{move:<12}", f"{held:<4}", _text(r["actor"]), reason]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines) + ("\n" if lines else "")


def format_bundle(data: dict[str, Any]) -> str:
    """A bundle's summary: version, digest, provenance, the channel (if named by one), and its prompts."""
    bundle, channel = data["bundle"], data["channel"]
    git = bundle.get("git") or {}
    lines = [f"v{bundle['version']}  {bundle['digest']}",
             f"created   {_when(bundle['created_at'])} UTC by {_text(bundle.get('actor'))}"]
    commit = (git.get("commit") or "-")[:7] + (f" ({git['branch']})" if git.get("branch") else "")
    lines.append(f"commit    {commit}" + ("  dirty: built from uncommitted changes" if git.get("dirty") else ""))
    if bundle.get("message"):
        lines.append(f"message   {_text(bundle['message'])}")
    if channel:
        held = ", on hold" if channel["held"] else ""
        lines.append(f"channel   {channel['name']} (record {channel['seq']}, {channel['action']} by {_text(channel['actor'])}{held})")
    prompts = bundle.get("prompts") or {}
    lines.append(f"prompts   {len(prompts)}")
    width = max((len(n) for n in prompts), default=0)
    models = max((len(_text(str(e.get("model") or "-"))) for e in prompts.values()), default=0)
    for name, entry in sorted(prompts.items()):  # columns: name, hash, model, description
        desc = (entry.get("description") or "").splitlines()
        model = _text(str(entry.get("model") or "-"))
        lines.append(f"  {name:<{width}}  {_short(entry['hash'])}  {model:<{models}}  {_text(desc[0]) if desc else ''}".rstrip())
    partials = bundle.get("partials") or {}
    if partials:
        lines.append(f"partials  {', '.join(sorted(partials))}")
    return "\n".join(lines) + "\n"


def format_prompt(data: dict[str, Any]) -> str:
    """One prompt of a bundle: its ref, settings, inputs and message templates."""
    entry = data["prompt"]
    lines = [data["ref"]]
    if entry.get("description"):
        lines.append(entry["description"].strip())
    lines.append(f"model     {entry['model']}")
    if entry.get("params"):
        lines.append(f"params    {json.dumps(entry['params'], ensure_ascii=False)}")
    if entry.get("fallbacks"):
        lines.append(f"fallbacks {', '.join(entry['fallbacks'])}")
    inputs = []
    for name, schema in (entry.get("inputs") or {}).items():
        kind = schema.get("type", "any")
        kind = " or ".join(kind) if isinstance(kind, list) else kind
        extra = f", default {json.dumps(schema['default'], ensure_ascii=False)}" if "default" in schema else ", required"
        inputs.append(f"{name} ({kind}{extra})")
    if inputs:
        lines.append(f"inputs    {'; '.join(inputs)}")
    output = entry.get("output") or {}
    lines.append(f"output    {output.get('format', 'text')}" + (" (with schema)" if output.get("schema") else ""))
    if data["partials"]:
        lines.append(f"partials  {', '.join(data['partials'])}")
    for message in entry["messages"]:
        lines.append("")
        if "history" in message:
            lines.append(f"[history: {message['history']}]")
            continue
        lines.append(f"[{message['role']}]")
        lines.append(message["content"].rstrip("\n"))
    return "\n".join(lines) + "\n"


def format_verify(report: Any) -> str:
    """One line per problem (``corrupt: bundles/v000002.json: digest mismatch …``)."""
    return "".join(f"{p}\n" for p in report.problems)


def verify_summary(report: Any) -> str:
    counts = (f"{report.bundles} bundle{'s' if report.bundles != 1 else ''}, {report.channels} "
              f"channel{'s' if report.channels != 1 else ''} ({report.records} record{'s' if report.records != 1 else ''})")
    if report.ok:
        known = len(report.acknowledged)
        repaired = f"; {known} damaged record{'s' if known != 1 else ''} skipped by repairs" if known else ""
        return f"ok: {counts} in {report.registry} verified{repaired}"
    n = len(report.problems)
    return f"{n} problem{'s' if n != 1 else ''} in {report.registry} ({counts} checked)"
