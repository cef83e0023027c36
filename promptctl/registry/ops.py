"""What the registry commands do: move channels and read the registry. Values in, values out.

Each function takes an open :class:`~promptctl.registry.resolve.RegistryHandle` and returns plain
data; nothing here prints or exits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import ChannelHeldError, IntegrityError, NotFoundError, PromptctlError, UsageError
from .bundle import bundle_prompt, list_versions, read_bundle
from .channels import (
    Damage,
    append_record,
    check_channel_name,
    check_mirror,
    list_channels,
    read_records,
    record_seqs,
    scan_records,
)
from .resolve import RegistryHandle, Target, channel_bundle, resolve_target
from .stores import Store


@dataclass
class MoveResult:
    """One channel move (or the reason none was needed: ``written`` False)."""

    channel: str
    action: str
    written: bool
    record: dict[str, Any]
    previous: dict[str, Any] | None = None
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "action": self.action,
            "written": self.written,
            "seq": self.record["seq"],
            "version": self.record["version"],
            "previous_version": self.previous["version"] if self.previous else None,
            "held": self.record["held"],
            "note": self.note,
            "record": self.record,
        }


def channel_records(store: Store, channel: str) -> list[dict[str, Any]]:
    """The channel's verified records; an empty list for a channel that does not exist yet."""
    if not record_seqs(store, channel):
        return []
    return read_records(store, channel)


def _held_by(record: dict[str, Any]) -> str:
    why = f": {record['reason']}" if record.get("reason") else ""
    return f"{record['action']} to v{record['version']} by {record['actor']} at {record['at']}{why}"


def promote(
    handle: RegistryHandle,
    version: str,
    channel: str,
    *,
    actor: str,
    reason: str | None = None,
    force: bool = False,
    target: Target | None = None,
) -> MoveResult:
    """Point ``channel`` at ``version`` (``v3``, or another channel's current version).

    Refuses a channel on hold unless ``force`` (a forced promote keeps the hold). Promoting the
    version the channel already serves writes nothing.
    """
    check_channel_name(channel)
    if version == channel:
        raise UsageError(f"cannot promote channel {channel!r} to itself")
    store = handle.store
    target = target or resolve_target(store, version)
    records = channel_records(store, channel)
    head = records[-1] if records else None
    if head is not None and head["held"] and not force:
        raise ChannelHeldError(
            f"channel {channel!r} is on hold ({_held_by(head)}); v{target.version} was not promoted",
            hint=f"`promptctl release {channel}` lifts the hold, or promote with --force",
        )
    if head is not None and head["version"] == target.version and not force:
        return MoveResult(channel, "promote", False, head, head, note=f"{channel} already serves v{target.version}")
    record = append_record(store, channel, records, version=target.version, digest=target.bundle["digest"],
                           action="promote", actor=actor, reason=reason, held=bool(head and head["held"]))
    note = f"{channel} stays on hold: `promptctl release {channel}` lifts it" if record["held"] else None
    return MoveResult(channel, "promote", True, record, head, note=note)


def rollback_target(records: list[dict[str, Any]]) -> int | None:
    """The version served before the current one, skipping versions a rollback moved away from.

    Walks back from where the current version took effect; a version that was being served when
    a rollback happened is known bad, so a second rollback goes further back instead of returning
    to it, until it is promoted again: a later promote makes it good again.
    """
    bad: set[int] = set()
    for i, r in enumerate(records):
        if r["action"] == "rollback" and i > 0:
            bad.add(records[i - 1]["version"])
        elif r["action"] == "promote":
            bad.discard(r["version"])  # promoted again after a rollback (and a release): good again
    current = records[-1]["version"]
    for record in reversed(records):
        v = record["version"]
        if v != current and v not in bad:
            return int(v)
    return None


def rollback(
    handle: RegistryHandle,
    channel: str,
    *,
    actor: str,
    to: str | None = None,
    reason: str | None = None,
) -> MoveResult:
    """Point ``channel`` back at an earlier version (``to``, or the one served before) and put it on hold."""
    store = handle.store
    check_channel_name(channel)
    records = read_records(store, channel)
    head = records[-1]
    if to is not None:
        target = resolve_target(store, to)
    else:
        version = rollback_target(records)
        if version is None:
            raise UsageError(
                f"channel {channel!r} serves v{head['version']} and has served no earlier version to roll back to",
                hint=f"name one with `promptctl rollback {channel} --to vN`; `promptctl versions` lists them",
            )
        target = Target(f"v{version}", version, read_bundle(store, version))
    record = append_record(store, channel, records, version=target.version, digest=target.bundle["digest"],
                           action="rollback", actor=actor, reason=reason, held=True)
    note = f"{channel} is on hold: promote refuses until `promptctl release {channel}`"
    return MoveResult(channel, "rollback", True, record, head, note=note)


def release(handle: RegistryHandle, channel: str, *, actor: str, reason: str | None = None) -> MoveResult:
    """Lift the hold a rollback put on ``channel`` (the channel keeps serving the same version)."""
    store = handle.store
    check_channel_name(channel)
    records = read_records(store, channel)
    head = records[-1]
    if not head["held"]:
        return MoveResult(channel, "release", False, head, head, note=f"{channel} is not on hold; nothing to release")
    record = append_record(store, channel, records, version=head["version"], digest=head["digest"],
                           action="release", actor=actor, reason=reason, held=False)
    return MoveResult(channel, "release", True, record, head)


def repair(
    handle: RegistryHandle,
    channel: str,
    *,
    actor: str,
    reason: str,
    to: str | None = None,
) -> MoveResult:
    """Re-anchor a channel whose chain is broken on its last good record: append one ``repair`` record
    above every record, naming the damaged ones it skips and linking to the last good one.

    The channel serves ``to`` (a version or another channel) or the last good record's version,
    and keeps that record's hold (a channel with no good record is held). Nothing is rewritten.
    A channel with nothing to repair writes nothing (``written`` False).
    """
    check_channel_name(channel)
    if not (reason or "").strip():
        raise UsageError("a repair needs a reason: say why with -m", hint="e.g. -m 'record 3 damaged by a disk fault'")
    store = handle.store
    scan = scan_records(store, channel)
    good = scan.records
    anchor = good[-1] if good else None
    if not scan.broken:
        head = good[-1]
        return MoveResult(channel, "repair", False, head, head, note=f"{channel}: the records check out; nothing to repair")
    if to is not None:
        target = resolve_target(store, to)
    elif anchor is None:
        raise UsageError(f"channel {channel!r} has no good record to re-anchor on",
                         hint=f"name the version it should serve: `promptctl verify --repair --channel {channel} --to vN -m WHY`")
    else:
        try:
            bundle = read_bundle(store, anchor["version"])
        except PromptctlError as e:
            raise UsageError(f"the last good record of {channel!r} ({anchor['seq']}) points at v{anchor['version']}, "
                             f"which cannot be served: {e.message}", hint="name the version to serve with --to vN") from None
        if bundle["digest"] != anchor["digest"]:
            raise UsageError(f"record {anchor['seq']} of {channel!r} names a digest that is not v{anchor['version']}'s",
                             hint="name the version to serve with --to vN")
        target = Target(f"v{anchor['version']}", anchor["version"], bundle)
    skipped = scan.broken
    record = append_record(
        store, channel, good, version=target.version, digest=target.bundle["digest"], action="repair", actor=actor,
        reason=reason, held=anchor["held"] if anchor else True, seq=scan.top + 1,
        repair={"anchor": anchor["seq"] if anchor else 0, "skipped": [d.skipped() for d in skipped]},
    )
    seqs = [str(d.seq) if d.last == d.seq else f"{d.seq}…{d.last}" for d in skipped]
    which = f"record{'s' if len(seqs) > 1 or skipped[0].last != skipped[0].seq else ''} {', '.join(seqs)}"
    on = f"re-anchored on record {anchor['seq']}" if anchor else "the chain starts again"
    note = f"skipped damaged {which}; {on}, serving v{target.version}"
    return MoveResult(channel, "repair", True, record, anchor, note=note)


# -- reading -------------------------------------------------------------------------------------------


def channel_heads(store: Store) -> dict[str, dict[str, Any]]:
    """Every channel's verified head record."""
    return {name: read_records(store, name)[-1] for name in list_channels(store)}


@dataclass
class VersionInfo:
    version: int
    digest: str | None
    created_at: str | None
    actor: str | None
    message: str | None
    git: dict[str, Any]
    prompts: int | None
    channels: list[str] = field(default_factory=list)
    damaged: str | None = None  # why the bundle cannot be used (it is listed, never hidden)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "name": f"v{self.version}",
            "digest": self.digest,
            "created_at": self.created_at,
            "actor": self.actor,
            "message": self.message,
            "commit": self.git.get("commit"),
            "branch": self.git.get("branch"),
            "dirty": self.git.get("dirty"),
            "prompts": self.prompts,
            "channels": self.channels,
            "damaged": self.damaged,
        }


@dataclass
class Versions:
    """Every published version, oldest first, and what could not be read (damaged bundles are rows;
    a channel whose chain is broken is in ``problems``, since which version it serves is unknown)."""

    rows: list[VersionInfo]
    problems: list[PromptctlError]

    @property
    def ok(self) -> bool:
        return not self.problems and not any(r.damaged for r in self.rows)


def versions(handle: RegistryHandle) -> Versions:
    """Every published version (oldest first), verified, with the channels that serve it.

    One damaged bundle or channel does not hide the rest: it is marked and reported.
    """
    store = handle.store
    heads: dict[str, dict[str, Any]] = {}
    problems: list[PromptctlError] = []
    for name in list_channels(store):
        try:
            heads[name] = read_records(store, name)[-1]
        except IntegrityError as e:
            problems.append(e)
    out = []
    for v in list_versions(store):
        channels = sorted(name for name, head in heads.items() if head["version"] == v)
        try:
            bundle = read_bundle(store, v)
        except (IntegrityError, NotFoundError) as e:
            out.append(VersionInfo(v, None, None, None, None, {}, None, channels, damaged=str(e)))
            problems.append(e)
            continue
        out.append(
            VersionInfo(
                version=v,
                digest=bundle["digest"],
                created_at=bundle["created_at"],
                actor=bundle.get("actor"),
                message=bundle.get("message"),
                git=dict(bundle.get("git") or {}),
                prompts=len(bundle.get("prompts") or {}),
                channels=channels,
            )
        )
    return Versions(out, problems)


@dataclass
class History:
    """A channel's audit log, newest first: good records (dicts) and damaged ones (:class:`Damage`,
    marked with the repair record that skips them, if any); ``problem`` is the unrepaired damage."""

    channel: str
    entries: list[dict[str, Any] | Damage]
    problem: IntegrityError | None = None

    def records(self) -> list[dict[str, Any]]:
        return [e for e in self.entries if isinstance(e, dict)]

    def to_json(self) -> list[dict[str, Any]]:
        return [e if isinstance(e, dict) else {"damaged": e.kind, **e.to_json()} for e in self.entries]


def history(handle: RegistryHandle, channel: str, *, limit: int | None = None) -> History:
    """The channel's audit log, newest first: every good record, and every damaged one marked."""
    store = handle.store
    scan = scan_records(store, channel)
    problem = scan.error() if scan.broken else None
    if problem is None:
        try:
            check_mirror(store, channel, scan.records[-1])
        except IntegrityError as e:
            problem = e
    entries: list[dict[str, Any] | Damage] = [*scan.records, *scan.damaged]
    entries.sort(key=lambda e: e["seq"] if isinstance(e, dict) else e.seq, reverse=True)
    return History(channel, entries[:limit] if limit else entries, problem)


def show(handle: RegistryHandle, name: str, prompt: str | None = None) -> dict[str, Any]:
    """A bundle (``v3`` or a channel's) as data, or one prompt of it with the partials it includes."""
    target = resolve_target(handle.store, name)
    bundle = target.bundle
    channel = None
    if target.record is not None:
        channel = {"name": target.channel, "seq": target.record["seq"], "held": target.record["held"],
                   "action": target.record["action"], "at": target.record["at"], "actor": target.record["actor"]}
    if prompt is None:
        return {"channel": channel, "bundle": bundle}
    entry = bundle["prompts"].get(prompt)
    if entry is None:
        bundle_prompt(bundle, prompt)  # raises NotFoundError with suggestions
        raise NotFoundError(f"no prompt named {prompt!r}")  # pragma: no cover
    partials = bundle.get("partials") or {}
    return {
        "channel": channel,
        "version": bundle["version"],
        "digest": bundle["digest"],
        "name": prompt,
        "ref": f"{prompt}@v{bundle['version']}:{entry['hash'].removeprefix('sha256:')[:7]}",
        "prompt": entry,
        "partials": {p: partials[p] for p in entry.get("includes") or () if p in partials},
    }


__all__ = ["History", "MoveResult", "VersionInfo", "Versions", "channel_bundle", "history", "promote", "release",
           "repair", "rollback", "show", "versions"]
