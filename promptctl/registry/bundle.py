"""Bundles: one canonical JSON file per published version, verified by its digest on every read.

A bundle (``bundles/v000003.json``) holds the format id, version, created_at, actor, message,
git state, the project settings prompts depend on (tag prefix, defaults, model aliases), every
prompt fully resolved with its hash, the partials, and ``digest``: ``sha256:`` over the canonical
JSON of the bundle without its ``digest`` key. The file itself is canonical JSON (sorted keys, no
whitespace, see :func:`promptctl.model.canonical_json`), so the digest can be checked over the
file's own bytes without re-serializing (:func:`decode_bundle`): cheap enough for the runtime.

Standard library only (the runtime imports this module).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from ..errors import ConflictError, IntegrityError, NotFoundError
from ..model import HistorySlot, Message, Prompt, Sample, canonical_json, content_hash
from .stores import Store

FORMAT = "promptctl.bundle/1"
BUNDLES = "bundles"
_NAME = re.compile(r"^v([0-9]{6,})\.json$")
_DIGEST_KEY = b'"digest":"'
_DIGEST = re.compile(rb'"digest":"(sha256:[0-9a-f]{64})"')
MAX_BUNDLE_BYTES = 256 * 1024 * 1024  # far above any real bundle; refuse before parsing
_INTEGRITY_HINT = "the object is corrupt and will not be served: run `promptctl verify`"


def bundle_key(version: int) -> str:
    """``bundles/v000003.json``: the key of version 3."""
    return f"{BUNDLES}/v{version:06d}.json"


def version_of(name: str) -> int | None:
    """The version number in a bundle's file name (``v000003.json`` -> 3), or None."""
    m = _NAME.match(name)
    return int(m.group(1)) if m else None


def encode_bundle(content: Mapping[str, Any]) -> tuple[bytes, str]:
    """The file bytes and digest of a bundle whose ``content`` has every key but ``digest``."""
    body = canonical_json(content).encode("utf-8")
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    raw = canonical_json({**content, "digest": digest}).encode("utf-8")
    return raw, digest


def _strip_digest(raw: bytes) -> tuple[bytes, str] | None:
    """``raw`` without its top-level ``"digest":"…"`` member, and that digest.

    In canonical JSON the top-level ``digest`` comes after ``actor`` and ``created_at`` (strings)
    and before any object-valued key, and ``"digest":"`` cannot occur inside a JSON string (its
    quotes would be escaped), so the first occurrence is the top-level member.
    """
    start = raw.find(_DIGEST_KEY)
    if start < 0:
        return None
    m = _DIGEST.match(raw, start)
    if m is None:
        return None
    end = m.end()
    if raw[end:end + 1] == b",":
        return raw[:start] + raw[end + 1:], m.group(1).decode()
    if raw[start - 1:start] == b",":
        return raw[:start - 1] + raw[end:], m.group(1).decode()
    return None


def decode_bundle(raw: bytes, *, key: str, version: int | None = None) -> dict[str, Any]:
    """Parse bundle bytes and verify them: its digest, its format, and (when given) its version.

    Raises :class:`IntegrityError` naming ``key`` when anything does not check out.
    """
    if len(raw) > MAX_BUNDLE_BYTES:
        raise IntegrityError(f"too large for a bundle ({len(raw)} bytes, at most {MAX_BUNDLE_BYTES})", path=key,
                             hint=_INTEGRITY_HINT)
    stripped = _strip_digest(raw)
    try:
        data = json.loads(raw)
    except RecursionError:
        raise IntegrityError("not valid JSON (nested too deeply)", path=key, hint=_INTEGRITY_HINT) from None
    except (UnicodeDecodeError, ValueError) as e:
        raise IntegrityError(f"not valid JSON ({e})", path=key, hint=_INTEGRITY_HINT) from None
    if not isinstance(data, dict):
        raise IntegrityError("not a bundle (not a JSON object)", path=key, hint=_INTEGRITY_HINT)
    fmt = data.get("format")
    if fmt != FORMAT:
        if isinstance(fmt, str) and fmt.startswith("promptctl.bundle/"):
            raise IntegrityError(f"bundle format {fmt!r} is newer than this promptctl reads", path=key,
                                 hint="upgrade promptctl")
        raise IntegrityError(f"not a bundle (format {fmt!r})", path=key, hint=_INTEGRITY_HINT)
    if stripped is None or data.get("digest") != stripped[1]:
        raise IntegrityError("bundle has no valid digest", path=key, hint=_INTEGRITY_HINT)
    actual = "sha256:" + hashlib.sha256(stripped[0]).hexdigest()
    if actual != stripped[1]:
        raise IntegrityError(
            f"digest mismatch: the content hashes to {actual[:19]}…, the bundle says {stripped[1][:19]}…",
            path=key,
            hint=_INTEGRITY_HINT,
        )
    if version is not None and data.get("version") != version:
        raise IntegrityError(f"holds version {data.get('version')!r}, not {version}", path=key, hint=_INTEGRITY_HINT)
    return data


def is_canonical(raw: bytes, data: Mapping[str, Any]) -> bool:
    """Whether ``raw`` is exactly the canonical JSON of ``data`` (a stricter check, for verify)."""
    return canonical_json(data).encode("utf-8") == raw


# -- reading from a store ---------------------------------------------------------------------------


def list_versions(store: Store) -> list[int]:
    """Every published version number, ascending."""
    found = (version_of(name) for name in store.list(BUNDLES))
    return sorted(v for v in found if v is not None)


def read_bundle(store: Store, version: int) -> dict[str, Any]:
    """Bundle ``version``, verified; NotFoundError (with the closest versions) when there is none."""
    key = bundle_key(version)
    raw = store.read(key)
    if raw is None:
        known = list_versions(store)
        raise NotFoundError(
            f"no version v{version} in the registry {store.url}",
            suggestions=[f"v{v}" for v in sorted(known, key=lambda v: abs(v - version))[:3]],
            hint=None if known else "nothing is published yet: run `promptctl publish`",
        )
    return decode_bundle(raw, key=key, version=version)


def write_bundle(store: Store, content: Mapping[str, Any], *, max_attempts: int = 1000) -> tuple[int, str]:
    """Write ``content`` (every key but ``version`` and ``digest``) as the next version.

    Takes the number after the highest published one; when another publisher takes that number
    first (the write-once create fails), retries with the next one. Returns (version, digest).
    """
    version = max(list_versions(store), default=0) + 1
    for _ in range(max_attempts):
        raw, digest = encode_bundle({**content, "version": version})
        try:
            store.create(bundle_key(version), raw)
            return version, digest
        except ConflictError:
            version = max(max(list_versions(store), default=0), version) + 1
    raise ConflictError(
        f"could not take a version number after {max_attempts} attempts in {store.url}",
        hint="other publishers keep winning: run publish again",
    )


# -- prompts inside a bundle ------------------------------------------------------------------------


def bundle_prompt(bundle: Mapping[str, Any], name: str) -> Prompt:
    """Prompt ``name`` of a (verified) bundle as a :class:`Prompt`, ready for the renderer.

    Its ``partials`` are the partials it includes; its ``hash`` is the one recorded at publish.
    """
    prompts = bundle.get("prompts") or {}
    entry = prompts.get(name)
    if entry is None:
        names = sorted(prompts)
        raise NotFoundError(
            f"no prompt named {name!r} in v{bundle.get('version')}",
            suggestions=difflib.get_close_matches(name, names, n=3, cutoff=0.5) or [n for n in names if name in n][:3],
        )
    partials = bundle.get("partials") or {}
    messages = tuple(
        HistorySlot(input=m["history"]) if "history" in m else Message(role=m["role"], content=m["content"], name=m.get("name"))
        for m in entry["messages"]
    )
    return Prompt(
        name=name,
        source=f"v{bundle.get('version')}:{entry.get('source', name)}",
        messages=messages,
        inputs={k: dict(v) for k, v in (entry.get("inputs") or {}).items()},
        model=entry.get("model"),
        params=dict(entry.get("params") or {}),
        fallbacks=tuple(entry.get("fallbacks") or ()),
        output=dict(entry.get("output") or {"format": "text"}),
        guards=tuple(dict(g) for g in entry.get("guards") or ()),
        tools=tuple(dict(t) for t in entry.get("tools") or ()),
        observe=dict(entry.get("observe") or {}),
        description=entry.get("description"),
        samples=tuple(
            Sample(name=s["name"], inputs=s.get("inputs") or {}, description=s.get("description"))
            for s in entry.get("samples") or ()
        ),
        tags=tuple(entry.get("tags") or ()),
        owners=tuple(entry.get("owners") or ()),
        partials={p: partials[p] for p in entry.get("includes") or () if p in partials},
        hash=entry.get("hash", ""),
    )


def prompt_hash(bundle: Mapping[str, Any], prompt: Prompt) -> str:
    """The hash of ``prompt`` recomputed from the bundle's content (verify compares it with the recorded one)."""
    alias = ((bundle.get("project") or {}).get("models") or {}).get(prompt.model) if prompt.model else None
    return content_hash(prompt.identity(alias))
