"""What the registry commands do: move channels and read the registry. Values in, values out.

Each function takes an open :class:`~promptctl.registry.resolve.RegistryHandle` and returns plain
data; nothing here prints or exits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import ChannelHeldError, NotFoundError, UsageError
from .bundle import bundle_prompt, list_versions, read_bundle
from .channels import append_record, check_channel_name, list_channels, read_records, record_seqs
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
                f"channel {channel!r} has served no earlier version to roll back to (it serves v{head['version']})",
                hint=f"name one: `promptctl rollback {channel} --to vN` (see `promptctl versions`)",
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


# -- reading -------------------------------------------------------------------------------------------


def channel_heads(store: Store) -> dict[str, dict[str, Any]]:
    """Every channel's verified head record."""
    return {name: read_records(store, name)[-1] for name in list_channels(store)}


@dataclass
class VersionInfo:
    version: int
    digest: str
    created_at: str
    actor: str | None
    message: str | None
    git: dict[str, Any]
    prompts: int
    channels: list[str] = field(default_factory=list)

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
        }


def versions(handle: RegistryHandle) -> list[VersionInfo]:
    """Every published version (oldest first), verified, with the channels that serve it."""
    store = handle.store
    heads = channel_heads(store)
    out = []
    for v in list_versions(store):
        bundle = read_bundle(store, v)
        out.append(
            VersionInfo(
                version=v,
                digest=bundle["digest"],
                created_at=bundle["created_at"],
                actor=bundle.get("actor"),
                message=bundle.get("message"),
                git=dict(bundle.get("git") or {}),
                prompts=len(bundle.get("prompts") or {}),
                channels=sorted(name for name, head in heads.items() if head["version"] == v),
            )
        )
    return out


def history(handle: RegistryHandle, channel: str, *, limit: int | None = None) -> list[dict[str, Any]]:
    """The channel's audit log, newest first: every record, verified."""
    records = read_records(handle.store, channel)
    newest = list(reversed(records))
    return newest[:limit] if limit else newest


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


__all__ = ["MoveResult", "VersionInfo", "channel_bundle", "history", "promote", "release", "rollback", "show",
           "versions"]
