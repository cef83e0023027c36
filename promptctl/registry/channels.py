"""Channels: named pointers (``production``, ``staging``) at bundle versions, with their audit log.

A channel is a folder of write-once records, ``channels/<name>/000007.json``: seq, version,
digest, action (promote, rollback, hold, release), actor, at, reason, held, and ``prev``, the
hash of record seq-1, so the records form a hash chain that is also the channel's audit log.
The head is the highest record. ``HEAD.json`` is a copy of it, replaced after each move, so that
a reader that cannot list (plain HTTP) finds the head; readers that can list use the records
and check that the mirror agrees.

Moving a channel writes record seq+1 with a write-once create: of two writers racing for the
same seq exactly one wins and the other gets a :class:`~promptctl.errors.ConflictError`.

A damaged record (missing, unreadable, or out of chain) breaks the chain: the records after it
cannot be verified, and the channel refuses to move. ``promptctl verify --repair --channel C``
writes a ``repair`` record on top that names the damaged records it skips (seq and SHA-256 of
their bytes) and links to the last good record (its ``anchor``), so the chain goes on from there.
Nothing is ever rewritten: the damaged records stay as evidence, and a repair that does not
match the damage exactly (say, more damage appeared later) is itself out of chain.

Standard library only (the runtime reads channel heads with this module).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..errors import ConflictError, IntegrityError, NotFoundError, UsageError
from ..model import canonical_json, content_hash
from .stores import Store

FORMAT = "promptctl.channel/1"
CHANNELS = "channels"
HEAD = "HEAD.json"
ACTIONS = ("promote", "rollback", "hold", "release", "repair")
CHANNEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_VERSION_RE = re.compile(r"^v[0-9]+$")
_RECORD = re.compile(r"^([0-9]{6,})\.json$")
MAX_RECORD_BYTES = 1024 * 1024  # a record is a few hundred bytes; refuse before parsing
_HINT = "the channel's records are corrupt: run `promptctl verify`"
MAX_MISSING_RUN = 100_000  # a listing that skips more records than this is not repaired record by record


def check_channel_name(name: str) -> str:
    """Refuse a channel name that is not a plain name, or that reads as a version (``v3``)."""
    if not CHANNEL_RE.match(name or "") or len(name) > 100:
        raise UsageError(
            f"invalid channel name {name!r}",
            hint="use letters, digits, '_', '.' and '-', starting with a letter or digit (e.g. production)",
        )
    if _VERSION_RE.match(name) or name == "HEAD":
        raise UsageError(f"{name!r} cannot name a channel: it reads as a version", hint="pick a name like production")
    return name


def record_key(channel: str, seq: int) -> str:
    return f"{CHANNELS}/{channel}/{seq:06d}.json"


def head_key(channel: str) -> str:
    return f"{CHANNELS}/{channel}/{HEAD}"


def record_hash(record: Mapping[str, Any]) -> str:
    """The hash the next record names as ``prev``: SHA-256 of the record's canonical JSON."""
    return content_hash(record)


def encode_record(record: Mapping[str, Any]) -> bytes:
    return canonical_json(record).encode("utf-8")


def now() -> str:
    """The current UTC time as RFC 3339 with milliseconds (``2026-11-30T18:51:02.123Z``)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def decode_record(raw: bytes, *, key: str, channel: str, seq: int | None = None) -> dict[str, Any]:
    """Parse and check one record (or ``HEAD.json``): canonical JSON, the right channel and seq, sane fields."""
    if len(raw) > MAX_RECORD_BYTES:
        raise IntegrityError(f"too large for a channel record ({len(raw)} bytes)", path=key, hint=_HINT)
    try:
        data = json.loads(raw)
    except RecursionError:
        raise IntegrityError("not valid JSON (nested too deeply)", path=key, hint=_HINT) from None
    except (UnicodeDecodeError, ValueError) as e:
        raise IntegrityError(f"not valid JSON ({e})", path=key, hint=_HINT) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise IntegrityError("not a channel record", path=key, hint=_HINT)
    if encode_record(data) != raw:
        raise IntegrityError("record is not in canonical form (edited or damaged)", path=key, hint=_HINT)
    problems = []
    if data.get("channel") != channel:
        problems.append(f"names channel {data.get('channel')!r}, not {channel!r}")
    if seq is not None and data.get("seq") != seq:
        problems.append(f"holds seq {data.get('seq')!r}, not {seq}")
    if not isinstance(data.get("seq"), int) or not isinstance(data.get("version"), int):
        problems.append("seq and version must be integers")
    if data.get("action") not in ACTIONS:
        problems.append(f"unknown action {data.get('action')!r}")
    if not isinstance(data.get("digest"), str) or not isinstance(data.get("held"), bool):
        problems.append("digest must be a string and held a boolean")
    if (data.get("action") == "repair") != ("repair" in data):
        problems.append("a repair record, and only a repair record, names what it repairs")
    elif "repair" in data and not _repair_shape(data["repair"], data.get("seq")):
        problems.append("malformed repair (anchor, skipped)")
    if problems:
        raise IntegrityError(problems[0], path=key, hint=_HINT)
    return data


def list_channels(store: Store) -> list[str]:
    """Every channel name in the registry."""
    return [n[:-1] for n in store.list(CHANNELS) if n.endswith("/") and CHANNEL_RE.match(n[:-1])]


def record_seqs(store: Store, channel: str) -> list[int]:
    """The seq numbers of a channel's records, ascending."""
    found = (_RECORD.match(n) for n in store.list(f"{CHANNELS}/{channel}"))
    return sorted(int(m.group(1)) for m in found if m)


def unknown_channel(store: Store, channel: str) -> NotFoundError:
    names = list_channels(store)
    return NotFoundError(
        f"no channel named {channel!r} in the registry {store.url}",
        suggestions=difflib.get_close_matches(channel, names, n=3, cutoff=0.5),
        hint=("channels: " + ", ".join(names)) if names else "create one with `promptctl promote vN NAME`",
    )


@dataclass
class Damage:
    """Records ``seq``…``last`` of a channel that cannot be trusted: missing, unreadable, out of chain,
    or after such a record (and so unverifiable). ``sha256`` is the hash of the record's bytes
    (None when missing); ``repaired_by`` the seq of the repair record that skips it, if any."""

    seq: int
    last: int
    key: str
    kind: str  # missing, corrupt or unverified
    message: str
    sha256: str | None = None
    repaired_by: int | None = None

    def skipped(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"seq": self.seq, "sha256": self.sha256}
        if self.last != self.seq:
            entry["last"] = self.last
        return entry

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "last": self.last, "object": self.key, "kind": self.kind, "message": self.message,
                "repaired_by": self.repaired_by}

    def __str__(self) -> str:
        which = f"record {self.seq}" if self.last == self.seq else f"records {self.seq}…{self.last}"
        return f"{which}: {self.message}"


@dataclass
class ChannelScan:
    """A channel as read: its good records in chain order (damaged ones left out), every damaged
    record (``damaged``), and the damage no repair record has skipped yet (``broken``)."""

    channel: str
    records: list[dict[str, Any]] = field(default_factory=list)
    damaged: list[Damage] = field(default_factory=list)
    top: int = 0

    @property
    def broken(self) -> list[Damage]:
        return [d for d in self.damaged if d.repaired_by is None]

    def error(self) -> IntegrityError:
        first = self.broken[0]
        anchor = f"record {self.records[-1]['seq']}" if self.records else "no record (name the version with --to)"
        return IntegrityError(
            f"{first.message}" + (f" (and {len(self.broken) - 1} more damaged)" if len(self.broken) > 1 else ""),
            path=first.key,
            hint=(f"`promptctl history {self.channel}` shows what is damaged; `promptctl verify --repair "
                  f"--channel {self.channel} -m WHY` re-anchors the channel on the last good record, {anchor}, "
                  "writing a new audited record and rewriting none"),
        )


def _sha(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _repair_shape(repair: Any, seq: Any) -> bool:
    if not isinstance(repair, dict) or set(repair) != {"anchor", "skipped"}:
        return False
    anchor, skipped = repair["anchor"], repair["skipped"]
    if not isinstance(anchor, int) or not isinstance(skipped, list) or not skipped or anchor < 0:
        return False
    if isinstance(seq, int) and anchor >= seq:
        return False
    for entry in skipped:
        if not isinstance(entry, dict) or not isinstance(entry.get("seq"), int):
            return False
        if set(entry) - {"seq", "last", "sha256"} or not isinstance(entry.get("sha256"), (str, type(None))):
            return False
    return True


def scan_records(store: Store, channel: str) -> ChannelScan:
    """Read every record of ``channel`` and sort them into good (chained) and damaged.

    A record is good when it decodes and its ``prev`` is the hash of the good record before it. A
    broken link leaves both ends suspect (either may have been altered); every record after damage
    is unverifiable until a repair record skips exactly that damage and links to the last good
    record. Raises NotFoundError for an unknown channel; never fails on damage (see ``broken``).
    """
    seqs = record_seqs(store, channel)
    if not seqs:
        raise unknown_channel(store, channel)
    scan = ChannelScan(channel)
    pending: list[Damage] = []
    listed = set(seqs)
    seq, top = 1, seqs[-1]
    while True:
        while seq <= top:
            if seq not in listed and seq < top:
                nxt = min(s for s in listed if s > seq)
                if nxt - seq > MAX_MISSING_RUN:
                    raise IntegrityError(f"records {seq}…{nxt - 1} are missing: too many to repair", path=record_key(channel, seq), hint=_HINT)
                pending.append(Damage(seq, nxt - 1, record_key(channel, seq), "missing",
                                      f"record {seq} is missing" if nxt - 1 == seq else f"records {seq}…{nxt - 1} are missing"))
                seq = nxt
                continue
            _scan_one(store, scan, pending, seq)
            seq += 1
        scan.top = top
        # HEAD.json ahead of the records listed: the channel moved while it was read; follow it.
        mirror = _read_mirror(store, channel)
        if mirror is None or mirror["seq"] <= top:
            break
        listed.update(range(top + 1, mirror["seq"] + 1))
        top = mirror["seq"]
    scan.damaged.extend(pending)
    return scan


def _scan_one(store: Store, scan: ChannelScan, pending: list[Damage], seq: int) -> None:
    channel = scan.channel
    key = record_key(channel, seq)
    raw = store.read(key)
    if raw is None:
        pending.append(Damage(seq, seq, key, "missing", f"record {seq} is missing (HEAD.json or the listing names it)"))
        return
    try:
        record = decode_record(raw, key=key, channel=channel, seq=seq)
    except IntegrityError as e:
        pending.append(Damage(seq, seq, key, "corrupt", e.message, _sha(raw)))
        return
    good = scan.records
    prev_hash = record_hash(good[-1]) if good else None
    if record["action"] == "repair":
        anchor = good[-1]["seq"] if good else 0
        want = [d.skipped() for d in pending]
        if pending and record["repair"] == {"anchor": anchor, "skipped": want} and record["prev"] == prev_hash:
            for d in pending:
                d.repaired_by = seq
            scan.damaged.extend(pending)
            pending.clear()
            good.append(record)
            return
        pending.append(Damage(seq, seq, key, "corrupt", "repair record does not match the damage before it "
                              "(more damage since, or it was altered)", _sha(raw)))
        return
    if pending:
        pending.append(Damage(seq, seq, key, "unverified", f"follows damaged record {pending[0].seq}: cannot be "
                              "verified until the channel is repaired", _sha(raw)))
        return
    if record["prev"] == prev_hash:
        good.append(record)
        return
    if good:  # either end of the broken link may be the altered one: neither is trusted
        before = good.pop()
        if before["action"] == "repair":  # the repair itself is suspect: what it skipped is damage again
            undone = [d for d in scan.damaged if d.repaired_by == before["seq"]]
            scan.damaged[:] = [d for d in scan.damaged if d.repaired_by != before["seq"]]
            for d in undone:
                d.repaired_by = None
            pending[:0] = undone
        bkey = record_key(channel, before["seq"])
        pending.append(Damage(before["seq"], before["seq"], bkey, "corrupt",
                              f"hash chain broken: record {seq} does not link to it (record {before['seq']} or "
                              f"{seq} was altered)", _sha(encode_record(before))))
        pending.append(Damage(seq, seq, key, "corrupt", f"hash chain broken: prev does not match record "
                              f"{before['seq']} (record {before['seq']} or this one was altered)", _sha(raw)))
        return
    pending.append(Damage(seq, seq, key, "corrupt", "the first record names a prev" if seq == 1 else
                          "hash chain broken: names a prev, but no record before it can be verified", _sha(raw)))


def _read_mirror(store: Store, channel: str) -> dict[str, Any] | None:
    raw = store.read(head_key(channel))
    if raw is None:
        return None
    try:
        return decode_record(raw, key=head_key(channel), channel=channel)
    except IntegrityError:
        return None  # a damaged mirror does not change which records exist; verify reports it


def read_records(store: Store, channel: str) -> list[dict[str, Any]]:
    """The good records of ``channel``, in chain order, with the HEAD.json mirror checked.

    Raises NotFoundError for an unknown channel, and IntegrityError naming the object when the
    chain has damage that no repair record skips, or the mirror disagrees with the head. (A
    HEAD.json that lags behind the records, as after a writer stopped between the two writes, is
    not an error here: the records decide; ``promptctl verify`` reports it and ``--repair``
    rewrites it.)
    """
    scan = scan_records(store, channel)
    if scan.broken:
        raise scan.error()
    check_mirror(store, channel, scan.records[-1])
    return scan.records


def check_mirror(store: Store, channel: str, head: Mapping[str, Any]) -> dict[str, Any] | None:
    """HEAD.json of ``channel`` (None when missing); IntegrityError when it has ``head``'s seq but
    other content. (A mirror ahead of ``head`` means the channel moved meanwhile: the caller reads again.)"""
    key = head_key(channel)
    raw = store.read(key)
    if raw is None:
        return None
    mirror = decode_record(raw, key=key, channel=channel)
    if mirror["seq"] == head["seq"] and mirror != dict(head):
        raise IntegrityError(
            f"HEAD.json and record {head['seq']} disagree: one of them is damaged",
            path=key,
            hint=_HINT,
        )
    return mirror


def read_head(store: Store, channel: str) -> dict[str, Any]:
    """The head record from ``HEAD.json`` alone: for readers that cannot list (HTTP) or need speed."""
    key = head_key(channel)
    raw = store.read(key)
    if raw is None:
        raise NotFoundError(f"no channel named {channel!r} in the registry {store.url} ({key} is missing)")
    return decode_record(raw, key=key, channel=channel)


def append_record(
    store: Store,
    channel: str,
    records: list[dict[str, Any]],
    *,
    version: int,
    digest: str,
    action: str,
    actor: str,
    reason: str | None,
    held: bool,
    seq: int | None = None,
    repair: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write the record after ``records`` (the channel's good records as read), then update HEAD.json.

    ``seq`` defaults to the one after the last good record (a repair passes the one above every
    record, damaged ones included). A ConflictError means another writer moved the channel
    first: nothing was written.
    """
    if seq is None:
        seq = records[-1]["seq"] + 1 if records else 1
    record: dict[str, Any] = {
        "format": FORMAT,
        "channel": channel,
        "seq": seq,
        "version": version,
        "digest": digest,
        "action": action,
        "actor": actor,
        "at": now(),
        "reason": reason,
        "prev": record_hash(records[-1]) if records else None,
        "held": held,
    }
    if repair is not None:
        record["repair"] = dict(repair)
    try:
        store.create(record_key(channel, seq), encode_record(record))
    except ConflictError:
        raise ConflictError(
            f"channel {channel!r} moved while this command ran: record {seq} was written by someone else, "
            "and nothing was written by this one",
            path=record_key(channel, seq),
            hint=f"check `promptctl history {channel}`, then run the command again",
        ) from None
    sync_mirror(store, channel, record)
    return record


def sync_mirror(store: Store, channel: str, record: Mapping[str, Any], *, rounds: int = 20) -> None:
    """Make HEAD.json a copy of the highest record, starting from ``record`` (just written).

    After each replace the records are listed again: if a faster writer added a higher one (and
    its HEAD.json write may have been overtaken by ours), the mirror is rewritten from it. The
    last writer to look therefore leaves the mirror at the true head.
    """
    current = dict(record)
    for _ in range(rounds):
        store.replace(head_key(channel), encode_record(current))
        top = max(record_seqs(store, channel), default=current["seq"])
        if top <= current["seq"]:
            return
        raw = store.read(record_key(channel, top))
        if raw is None:
            return
        current = decode_record(raw, key=record_key(channel, top), channel=channel, seq=top)
