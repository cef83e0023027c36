"""Channels: named pointers (``production``, ``staging``) at bundle versions, with their audit log.

A channel is a folder of write-once records, ``channels/<name>/000007.json``: seq, version,
digest, action (promote, rollback, hold, release), actor, at, reason, held, and ``prev``, the
hash of record seq-1, so the records form a hash chain that is also the channel's audit log.
The head is the highest record. ``HEAD.json`` is a copy of it, replaced after each move, so that
a reader that cannot list (plain HTTP) finds the head; readers that can list use the records
and check that the mirror agrees.

Moving a channel writes record seq+1 with a write-once create: of two writers racing for the
same seq exactly one wins and the other gets a :class:`~promptctl.errors.ConflictError`.

Standard library only (the runtime reads channel heads with this module).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from ..errors import ConflictError, IntegrityError, NotFoundError, UsageError
from ..model import canonical_json, content_hash
from .stores import Store

FORMAT = "promptctl.channel/1"
CHANNELS = "channels"
HEAD = "HEAD.json"
ACTIONS = ("promote", "rollback", "hold", "release")
CHANNEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_VERSION_RE = re.compile(r"^v[0-9]+$")
_RECORD = re.compile(r"^([0-9]{6,})\.json$")
MAX_RECORD_BYTES = 1024 * 1024  # a record is a few hundred bytes; refuse before parsing
_HINT = "the channel's records are corrupt: run `promptctl verify`"


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


def read_records(store: Store, channel: str) -> list[dict[str, Any]]:
    """Every record of ``channel``, oldest first, with the hash chain and the HEAD.json mirror checked.

    Raises NotFoundError for an unknown channel, and IntegrityError naming the object when a
    record is missing, damaged, out of chain, or disagrees with HEAD.json. (A HEAD.json that lags
    behind the records, as after a writer stopped between the two writes, is not an error here:
    the records decide; ``promptctl verify`` reports it and ``--repair`` rewrites it.)
    """
    seqs = record_seqs(store, channel)
    if not seqs:
        raise unknown_channel(store, channel)
    records: list[dict[str, Any]] = []
    _extend_chain(store, channel, records, seqs)
    while True:
        mirror = check_mirror(store, channel, records[-1])
        if mirror is None or mirror["seq"] <= records[-1]["seq"]:
            return records
        # HEAD.json is ahead of the records listed: the channel moved while it was read. Every
        # record up to the one HEAD.json names exists (it is written first): follow them.
        _extend_chain(store, channel, records, range(records[-1]["seq"] + 1, mirror["seq"] + 1))


def _extend_chain(store: Store, channel: str, records: list[dict[str, Any]], seqs: Iterable[int]) -> None:
    """Read records ``seqs`` (consecutive, after ``records``) and append them, checking each link."""
    for seq in seqs:
        expected = len(records) + 1
        if seq != expected:
            raise IntegrityError(f"record {expected} is missing", path=record_key(channel, expected), hint=_HINT)
        key = record_key(channel, seq)
        raw = store.read(key)
        if raw is None:
            raise IntegrityError(f"record {seq} is missing (HEAD.json or the listing names it)", path=key, hint=_HINT)
        record = decode_record(raw, key=key, channel=channel, seq=seq)
        prev_hash = record_hash(records[-1]) if records else None
        if record.get("prev") != prev_hash:
            raise IntegrityError(
                f"hash chain broken: prev does not match record {seq - 1}" if seq > 1 else "first record names a prev",
                path=key,
                hint=_HINT,
            )
        records.append(record)


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
) -> dict[str, Any]:
    """Write the record after ``records`` (the channel as read), then update HEAD.json.

    A ConflictError means another writer moved the channel first: nothing was written.
    """
    seq = len(records) + 1
    record = {
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
