"""A published bundle seen as a project's files, so that every command reads bundles unchanged.

:class:`BundleSource` implements the Source interface of :mod:`promptctl.sources`: it
synthesizes ``promptctl.yaml`` from the bundle's ``project`` section, one prompt file per
prompt (its resolved fields, written as YAML) under ``prompts/``, and each partial as a file.
Loading a project from it gives prompts with the hashes recorded at publish (a test checks it,
and publish checks it before writing), so ``render --ref v3``, ``diff v2 v3``, ``lint --ref v3``
and ``test --baseline v3`` see exactly what was published. Files are built on first read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import cache
from typing import Any

from ..config import CONFIG_NAME

PROMPT_ROOT = "prompts"
_PROMPT_SUFFIX = ".prompt.yaml"
_PROMPT_KEYS = ("description", "model", "params", "fallbacks", "inputs", "messages", "output", "guards", "tools", "observe",
                "samples", "tags", "owners")


@cache
def _dumper() -> Any:
    import yaml

    base = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

    class Dumper(base):  # type: ignore[misc, valid-type]
        def ignore_aliases(self, data: Any) -> bool:  # the safe loader refuses anchors and aliases
            return True

    return Dumper


def _dump(data: Any) -> bytes:
    """YAML that the safe loader reads back as exactly ``data`` (floats such as 1e-05 stay floats)."""
    import yaml

    text = yaml.dump(data, Dumper=_dumper(), sort_keys=False, allow_unicode=True, width=1_000_000_000,
                     default_flow_style=False)
    return text.encode("utf-8")


def project_file(bundle: Mapping[str, Any]) -> dict[str, Any]:
    """The promptctl.yaml of a bundle: its project section, with the synthetic prompt root."""
    project = bundle.get("project") or {}
    out: dict[str, Any] = {"promptctl": 1, "prompts": PROMPT_ROOT}
    if "tag_prefix" in project:
        out["tag_prefix"] = project["tag_prefix"]
    if project.get("defaults"):
        out["defaults"] = project["defaults"]
    if project.get("models"):
        out["models"] = project["models"]
    return out


def prompt_file(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The prompt file of one resolved bundle prompt (defaults already applied in it)."""
    out = {k: entry[k] for k in _PROMPT_KEYS if entry.get(k) is not None}
    output = dict(out.get("output") or {})
    if output.get("schema") is None:
        output.pop("schema", None)
    out["output"] = output
    return out


class BundleSource:
    """The files of a project as published in one bundle (see the module docstring)."""

    #: Bundles carry prompts, not golden datasets: a diff against a bundle leaves datasets out.
    has_datasets = False

    def __init__(self, bundle: Mapping[str, Any], *, label: str, name: str) -> None:
        self.bundle = bundle
        self.label = label
        self.name = name  # what the user wrote: v3 or production; shown in file names
        self._built: dict[str, bytes] = {}
        self._files: dict[str, tuple[str, Any]] = {CONFIG_NAME: ("config", None)}
        for prompt in bundle.get("prompts") or {}:
            self._files[f"{PROMPT_ROOT}/{prompt}{_PROMPT_SUFFIX}"] = ("prompt", prompt)
        for partial in bundle.get("partials") or {}:
            self._files[f"{PROMPT_ROOT}/{partial}"] = ("partial", partial)

    def read_bytes(self, rel: str) -> bytes:
        data = self._built.get(rel)
        if data is not None:
            return data
        spec = self._files.get(rel)
        if spec is None:
            raise FileNotFoundError(rel)
        kind, key = spec
        if kind == "config":
            data = _dump(project_file(self.bundle))
        elif kind == "prompt":
            data = _dump(prompt_file(self.bundle["prompts"][key]))
        else:
            data = self.bundle["partials"][key].encode("utf-8")
        self._built[rel] = data
        return data

    def walk(self, rel_dir: str) -> list[str]:
        base = "" if rel_dir in ("", ".") else rel_dir.rstrip("/") + "/"
        return sorted(p for p in self._files if p.startswith(base))

    def display(self, rel: str) -> str:
        return f"{self.name}:{rel}"

    def confine(self, rel: str, root_rel: str) -> None:
        # Every file is synthesized under its root from names the bundle schema restricts
        # (no '..', not absolute), and the renderer checks partial names again: nothing to follow.
        return None

    def fingerprint(self, rel: str) -> str | None:
        try:
            data = self.read_bytes(rel)
        except FileNotFoundError:
            return None
        return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()
