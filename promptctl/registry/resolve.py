"""Opening a project's registry, and what a name (``v3``, ``production``) points at in it."""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import (
    ConfigError,
    FileFormatError,
    IntegrityError,
    NotFoundError,
    ProjectNotFoundError,
    RegistryError,
    UsageError,
)
from .bundle import bundle_key, list_versions, read_bundle
from .channels import CHANNEL_RE, list_channels, read_records, record_key, unknown_channel
from .stores import Store, open_store

VERSION_RE = re.compile(r"^v([0-9]+)$")
REGISTRY_ENV = "PROMPTCTL_REGISTRY"


@dataclass
class RegistryHandle:
    """An open registry, and the project it belongs to (None when named by --registry alone)."""

    store: Store
    root: Path | None = None
    config: Any = None  # config.Config

    @property
    def url(self) -> str:
        return self.store.url


def _project_config(root: Path) -> Any:
    from ..project import load_project
    from ..sources import WorkTree

    return load_project(WorkTree(root), root).config


def open_registry(
    project: str | os.PathLike[str] | None = None,
    *,
    url: str | None = None,
    need_project: bool = False,
) -> RegistryHandle:
    """The registry named by ``url`` (``--registry``), else ``$PROMPTCTL_REGISTRY``, else the project's
    ``registry:`` setting. ``need_project`` also requires the project (publish builds from it)."""
    from ..config import find_root, project_root

    url = url or os.environ.get(REGISTRY_ENV) or None
    root: Path | None = None
    config = None
    if url is None or need_project or project is not None:
        try:
            root = project_root(project)
        except ProjectNotFoundError as e:
            if url is None:
                e.hint = (e.hint or "") + "; or name a registry with --registry URL"
            raise
    else:
        try:
            root = find_root()  # for the s3: settings of the project we are in, if any
        except ProjectNotFoundError:
            root = None
    if root is not None:
        try:
            config = _project_config(root)
        except (ConfigError, FileFormatError):
            if url is None or need_project:
                raise
            root = None
    if url is None:
        assert config is not None and root is not None
        url = config.registry
    s3 = dict(config.s3) if config is not None else {}
    return RegistryHandle(open_store(url, base=root if config is not None and url == config.registry else None, s3=s3),
                          root, config)


def parse_version(name: str) -> int | None:
    """3 for ``v3``; None when ``name`` is not a version name."""
    m = VERSION_RE.match(name)
    if m is None:
        return None
    if len(m.group(1)) > 18:
        raise UsageError(f"{name[:24]}… is not a version: the number is too long ({len(m.group(1))} digits)",
                         hint="versions are v1, v2, … (see `promptctl versions`)")
    return int(m.group(1))


@dataclass
class Target:
    """What a name points at: a bundle, and the channel record when the name is a channel."""

    name: str
    version: int
    bundle: dict[str, Any]
    channel: str | None = None
    record: dict[str, Any] | None = None
    records: list[dict[str, Any]] | None = None


def channel_bundle(store: Store, channel: str, record: dict[str, Any]) -> dict[str, Any]:
    """The bundle a channel record points at, checked against the digest the record holds."""
    bundle = read_bundle(store, record["version"])
    if bundle["digest"] != record["digest"]:
        raise IntegrityError(
            f"points at v{record['version']} with digest {record['digest'][:19]}…, but "
            f"{bundle_key(record['version'])} has {bundle['digest'][:19]}…",
            path=record_key(channel, record["seq"]),
            hint="run `promptctl verify`",
        )
    return bundle


def resolve_target(store: Store, name: str) -> Target:
    """``v3`` (a published version) or a channel name (the bundle its head points at)."""
    version = parse_version(name)
    if version is not None:
        return Target(name, version, read_bundle(store, version))
    if not CHANNEL_RE.match(name):
        raise UsageError(f"{name!r} is neither a version (v3) nor a channel name")
    try:
        records = read_records(store, name)
    except NotFoundError as e:
        versions = list_versions(store)
        if not list_channels(store) and versions:
            e.hint = f"no channels yet; versions: v1 … v{versions[-1]}"
        raise
    head = records[-1]
    return Target(name, head["version"], channel_bundle(store, name, head), name, head, records)


def registry_source(root: Path, name: str) -> tuple[Any, str | None]:
    """The project's files as published under ``name`` (``v3`` or a channel), for resolve_source.

    Returns ``(BundleSource, None)`` when the registry has it; ``(None, why)`` when it does not,
    or cannot be read (``why`` says so, or is None when there is nothing worth saying), so the
    caller falls back to git. A bundle that fails its digest is an IntegrityError, never a fallback.
    """
    version = parse_version(name)
    if version is None and (not CHANNEL_RE.match(name) or name == "HEAD"):
        return None, None
    try:
        handle = open_registry(root)
    except (ConfigError, FileFormatError):
        return None, None
    except RegistryError as e:
        return None, f"the registry could not be opened: {e}"
    store = handle.store
    from .source import BundleSource

    try:
        if version is not None:
            if version not in list_versions(store):
                return None, f"the registry {store.url} has no {name}"
            bundle = read_bundle(store, version)
            commit = (bundle.get("git") or {}).get("commit")
            label = f"{name} (bundle" + (f", {commit[:7]})" if commit else ")")
            return BundleSource(bundle, label=label, name=name), None
        channels = list_channels(store)
        if name not in channels:
            close = difflib.get_close_matches(name, channels, n=3, cutoff=0.7)
            return None, ("did you mean the channel " + ", ".join(repr(c) for c in close) + "?") if close else None
        records = read_records(store, name)
        head = records[-1]
        bundle = channel_bundle(store, name, head)
        return BundleSource(bundle, label=f"{name} (v{head['version']})", name=name), None
    except (IntegrityError, NotFoundError):
        raise
    except RegistryError as e:
        return None, f"the registry could not be read: {e}"


__all__ = ["RegistryHandle", "Target", "open_registry", "registry_source", "resolve_target", "unknown_channel"]
