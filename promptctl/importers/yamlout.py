"""Readable YAML for the files an import writes, read back exactly by promptctl's loader.

PyYAML's emitter with YAML 1.1 resolution, the same rules :mod:`promptctl.yamlio` reads with, so
that ``yes``, ``on``, ``1:20`` or ``0777`` written as text come back as text (ruamel.yaml writes
YAML 1.2, where they are plain). Multi-line text is a block scalar (``|``); a short mapping or list
of plain values is written on one line (``{type: icontains, value: paris}``); everything else is
block style, two-space indented, keys in the order given, never folded, never an anchor.

:func:`document` builds a file from top-level entries, each optionally preceded by comment lines;
a list entry may carry comments per item (a case that lost assertions says so above itself), and a
mapping entry per key (an input used only by assertions carries a lint suppression).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

FLOW_WIDTH = 76  # a collection of plain values shorter than this goes on one line


class _Dumper(yaml.SafeDumper):
    """Block sequences indented under their key; no aliases, ever."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:  # noqa: FBT001, FBT002
        super().increase_indent(flow, False)

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if "\n" in data.rstrip("\n") or (data.endswith("\n") and data.strip()):
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    if "'" in data and '"' not in data and "\\" not in data:
        analysis = dumper.analyze_scalar(data)
        if not (analysis.allow_flow_plain and analysis.allow_block_plain):  # it needs quotes: "it's" over 'it''s'
            return dumper.represent_scalar("tag:yaml.org,2002:str", data, style='"')
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


def _plain(value: Any) -> bool:
    if isinstance(value, str):
        return "\n" not in value and len(value) <= 60
    return value is None or isinstance(value, (bool, int, float))


def _short(value: Any) -> bool:
    """True for a collection of plain values (one level of nesting in a list) that fits on a line."""
    if isinstance(value, Mapping):
        ok = all(_plain(v) or (isinstance(v, list) and all(_plain(x) for x in v)) for v in value.values())
    elif isinstance(value, list):
        ok = all(_plain(v) for v in value)
    else:
        return False
    return ok and len(repr(value)) <= FLOW_WIDTH


def _represent_dict(dumper: yaml.SafeDumper, data: Mapping[str, Any]) -> yaml.MappingNode:
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=_short(data) and bool(data))


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.SequenceNode:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=_short(data) and bool(data))


class _BlockMap(dict):  # type: ignore[type-arg]
    """A mapping always written in block style (the one-key wrappers of :func:`document`)."""


class _BlockList(list):  # type: ignore[type-arg]
    """A list always written in block style."""


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(dict, _represent_dict)
_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(
    _BlockMap, lambda d, data: d.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=False))
_Dumper.add_representer(
    _BlockList, lambda d, data: d.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=False))


def dump(value: Any) -> str:
    """``value`` as YAML text (ends with a newline)."""
    return yaml.dump(value, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1 << 30,
                     default_flow_style=False)


def _indent(text: str, spaces: int) -> str:
    pad = " " * spaces
    return "".join(pad + line if line.strip() else line for line in text.splitlines(keepends=True))


@dataclass(slots=True)
class Entry:
    """A top-level key of a document: its value, comment lines above it, and comments on its parts:
    ``item_comments[i]`` above item ``i`` of a list, ``key_comments[k]`` at the end of key ``k``'s line."""

    key: str
    value: Any
    comments: Sequence[str] = ()
    item_comments: Mapping[int, Sequence[str]] = field(default_factory=dict)
    key_comments: Mapping[str, str] = field(default_factory=dict)


def _comment_lines(lines: Sequence[str], spaces: int = 0) -> str:
    out = []
    for line in lines:
        for part in str(line).splitlines() or [""]:
            out.append(" " * spaces + ("# " + part).rstrip() + "\n")
    return "".join(out)


def document(header: Sequence[str], entries: Sequence[Entry]) -> str:
    """A YAML file: the ``header`` comment lines, then each entry."""
    out = [_comment_lines(header)]
    for entry in entries:
        out.append(_comment_lines(entry.comments))
        value = entry.value
        if isinstance(value, list) and value and entry.item_comments:
            out.append(f"{entry.key}:\n")
            for i, item in enumerate(value):
                out.append(_comment_lines(entry.item_comments.get(i, ()), 2))
                out.append(_indent(dump(_BlockList([item])), 2))
        elif isinstance(value, dict) and value and entry.key_comments:
            out.append(f"{entry.key}:\n")
            for k, v in value.items():
                text = _indent(dump(_BlockMap({k: v})), 2)
                note = entry.key_comments.get(k)
                if note:
                    first, _, rest = text.partition("\n")
                    text = f"{first}  # {note}\n{rest}"
                out.append(text)
        else:
            out.append(dump(_BlockMap({entry.key: value})))
    return "".join(out)
