"""``promptctl fmt``: one canonical layout for prompt files, datasets and promptctl.yaml.

The layout: keys in the order of :data:`KEY_ORDER` (the README's and the JSON Schemas' order;
unknown keys keep their relative place after the known ones), 2-space indentation with list items
indented under their key (as ``promptctl init`` writes them), multi-line strings as ``|`` block
scalars, and quoted strings plain wherever plain text means the same (otherwise their quotes stay).
Comments stay: ruamel.yaml's round-trip mode (imported only here, when a file is formatted) edits
the document; a comment above a key moves with that key, and comments are re-indented with the
items they sit among.

Formatting never changes what a file means: the file is loaded with promptctl's own safe loader
before and after, and a file whose data would differ is refused (:class:`FormatError`), never
written. Core functions return :class:`FormatResult` values and never print.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from .config import CONFIG_NAME, DATASET_SUFFIX, PROMPT_SUFFIX
from .errors import FileFormatError, PromptctlError, UsageError

#: The canonical key order of every kind of mapping, written down once:
#: ``kind -> (keys in order, {key: the kind of its value})``. A value's kind applies to a mapping
#: value, or to each item of a list value; ``"*"`` stands for every key. Mappings that are the
#: user's own (input declarations and other JSON Schemas, tool parameters, case inputs) are not
#: reordered. Where README and schema differ, the README wins (a case's ``threshold`` before its
#: ``assert``, a dataset's ``defaults.inputs`` before ``defaults.assert``); a message's ``content``
#: and a sample's ``inputs`` go last, as the long parts.
KEY_ORDER: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "prompt": (
        ("description", "model", "params", "fallbacks", "inputs", "messages", "output", "guards", "tools",
         "observe", "samples", "tags", "owners", "lint"),
        {"params": "params", "messages": "message", "output": "output", "guards": "assertion", "tools": "tool",
         "samples": "sample", "lint": "prompt-lint"},
    ),
    "params": (("temperature", "top_p", "max_tokens", "presence_penalty", "frequency_penalty", "seed", "stop", "n"), {}),
    "message": (("role", "name", "content", "history"), {}),
    "output": (("format", "schema"), {}),
    "tool": (("type", "function"), {"function": "function"}),
    "function": (("name", "description", "parameters", "strict"), {}),
    "sample": (("name", "description", "inputs"), {}),
    "prompt-lint": (("ignore",), {}),
    "dataset": (("prompt", "description", "threshold", "defaults", "cases"), {"defaults": "defaults", "cases": "case"}),
    "defaults": (("inputs", "assert", "transform"), {"assert": "assertion"}),
    "case": (("id", "file", "description", "inputs", "golden", "reviewed", "threshold", "assert", "tags", "transform"),
             {"reviewed": "reviewed", "assert": "assertion"}),
    "reviewed": (("by", "at"), {}),
    "assertion": (("type", "value", "threshold", "weight", "metric", "description", "transform", "contextTransform",
                   "assert"), {"assert": "assertion"}),
    "project": (
        ("promptctl", "prompts", "evals", "registry", "tag_prefix", "defaults", "models", "lint", "test", "render", "s3"),
        {"defaults": "project-defaults", "models": "models", "lint": "project-lint", "test": "test", "render": "render",
         "s3": "s3"},
    ),
    "project-defaults": (("model", "params", "fallbacks"), {"params": "params"}),
    "models": ((), {"*": "alias"}),
    "alias": (("model", "api_base", "api_key_env", "params"), {"params": "params"}),
    "project-lint": (("ignore", "severity"), {}),
    "test": (("concurrency", "timeout_s", "retries", "recordings", "max_cost_usd", "grader", "embedding_model", "client"), {}),
    "render": (("max_output_chars", "max_range_items", "max_loop_iterations"), {}),
    "s3": (("endpoint_url", "region"), {}),
}

class FormatError(FileFormatError):
    """A file fmt leaves as it is: formatting it would change its data, or failed."""


def file_kind(path: str | os.PathLike[str]) -> str | None:
    """``prompt``, ``dataset`` or ``project`` for the files fmt formats, else None."""
    name = os.path.basename(path)
    if name.endswith(PROMPT_SUFFIX):
        return "prompt"
    if name.endswith(DATASET_SUFFIX):
        return "dataset"
    if name == CONFIG_NAME:
        return "project"
    return None


@dataclass(frozen=True, slots=True)
class FormatResult:
    """One file: its text before and after (``after`` is None when it could not be formatted)."""

    path: str  # as shown to the user
    before: str = ""
    after: str | None = None
    error: PromptctlError | None = None

    @property
    def changed(self) -> bool:
        return self.after is not None and self.after != self.before


def format_text(text: str, kind: str | None, *, path: str = "<string>") -> str:
    """``text`` in the canonical layout for a file of ``kind`` (see :func:`file_kind`).

    Raises :class:`~promptctl.errors.YamlError` (with ``path:line:col``) for malformed YAML and
    :class:`FormatError` when the result would not load to the same data.
    """
    from .yamlio import loads, round_trip_yaml

    before = loads(text, path=path)
    if not isinstance(before.data, dict):  # empty, only comments, or not a mapping: lint's business
        return text
    crlf = "\r\n" in text
    yaml = round_trip_yaml("formatting files")
    yaml.Representer = _representer()
    yaml.indent(mapping=2, sequence=4, offset=2)  # list items indented under their key, as init writes them
    try:
        data = yaml.load(text)
        _realign(data, 0, top=True)
        if kind is not None:
            _arrange(data, kind, top=True)
        _restyle(data, flow=False)
        out = _dump(yaml, data)
    except Exception as e:  # noqa: BLE001 - ruamel (or this module) failing on one file must not stop the others
        raise FormatError(f"cannot be formatted ({type(e).__name__}: {e}), so it was left as it is", path=path,
                          hint="a bug in promptctl fmt: please report it with the file") from e
    if crlf:
        out = out.replace("\n", "\r\n")
    try:
        after = loads(out, path=path)
    except PromptctlError:
        after = None
    if after is None or _canon(after.data) != _canon(before.data):
        raise FormatError(
            "formatting would change what this file means, so it was left as it is",
            path=path,
            hint="a bug in promptctl fmt: please report it with the file",
        )
    return out


def _dump(yaml: Any, data: Any) -> str:
    import io

    buffer = io.StringIO()
    yaml.dump(data, buffer)
    return buffer.getvalue()


def _canon(data: Any) -> str:
    """The data as canonical JSON: equal strings mean equal data (``1``, ``1.0`` and ``true`` differ)."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False)


@cache
def _representer() -> Any:
    """ruamel's round-trip representer, writing ``null`` out (it would leave the value empty)."""
    from ruamel.yaml.representer import RoundTripRepresenter

    class Representer(RoundTripRepresenter):
        pass

    Representer.add_representer(type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null"))
    return Representer


# -- comments ----------------------------------------------------------------------------------
#
# ruamel keeps a comment where its parser met it: the lines between two items at the end of the
# comment after the first one's value (deep inside it, when that value is a block collection, or
# after that collection's last item), sometimes right above the second item; the lines above a
# nested collection's first item after its parent key's line. Each is cut off here as text, and put
# back where it belongs, at the column it belongs at.


def _realign(node: Any, col: int, *, top: bool = False) -> None:
    """Shift the comment lines in block collection ``node`` (its items now at column ``col``) by as
    much as the items they sit among move: ruamel re-indents the data, never a comment."""
    from ruamel.yaml.comments import CommentedMap

    if not _is_block_collection(node):
        return
    items = _items(node)
    delta = col - _was(node, col)
    if not top:
        head = _cut_head(node)
        if head:
            _put_head(node, _shift(head, [(0, delta)]))
    for i, k in enumerate(items):
        entry = node.ca.items.get(k)
        if isinstance(node, CommentedMap) and entry and entry[1]:  # lines right above the key
            entry[1] = [_comment(_shift(_full_lines(t), [(0, delta)])) for t in entry[1]]
        if i + 1 < len(items) or top:  # after a nested last item: the parent's business
            rest = _cut_tail(node, k)
            if rest:
                _add_after(node, k, _shift(rest, [(_was(node, col), delta), *_chain(node[k], col + 2)]))
    for k in items:  # a mapping's value is 2 deeper (a list's `-` too), a list item's content after its `- `
        _realign(node[k], col + 2)


def _chain(value: Any, col: int) -> list[tuple[int, int]]:
    """``(column in the file, shift)`` of each block collection down from ``value`` to its last item."""
    out = []
    while _is_block_collection(value):
        was = _was(value, col)
        out.append((was, col - was))
        value, col = value[_items(value)[-1]], col + 2
    return out


def _was(node: Any, default: int) -> int:
    """The column of ``node``'s items in the file (a mapping's keys, a list's dashes)."""
    from ruamel.yaml.comments import CommentedMap

    try:
        return int(node.lc.key(next(iter(node)))[1] if isinstance(node, CommentedMap) else node.lc.col)
    except (AttributeError, KeyError, TypeError, StopIteration):
        return default


def _shift(text: str, levels: Sequence[tuple[int, int]]) -> str:
    """Comment lines moved right (or left) with the level they sit in: of the levels ``(column in the
    file, shift)``, outermost first, the outermost at their column (a comment right above a key is
    about it), else the deepest they are indented under."""
    out = []
    for line in text.splitlines(keepends=True):
        if line.strip():
            width = _indent(line)
            delta = next((d for was, d in levels if was == width), None)
            if delta is None:
                delta = next((d for was, d in reversed(levels) if was < width), levels[0][1])
            line = " " * max(0, width + delta) + line.lstrip(" ")
        out.append(line)
    return "".join(out)


def _reindent(text: str, col: int) -> str:
    """Comment lines moved to column ``col``, keeping their indentation relative to each other."""
    widths = [_indent(line) for line in text.splitlines() if line.strip()]
    return _shift(text, [(0, col - min(widths))]) if widths else text


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _split_above(text: str, col: int) -> tuple[str, str]:
    """Comment lines between two keys, split into those that end the value before (indented deeper
    than the next key, at ``col``) and those above the next key (the last lines not indented deeper)."""
    lines = text.splitlines(keepends=True)
    at = len(lines)
    while at and (not lines[at - 1].strip() or _indent(lines[at - 1]) <= col):
        at -= 1
    return "".join(lines[:at]), "".join(lines[at:])


def _cut_head(node: Any) -> str:
    """Cut off the comment lines above a nested collection's first item (after its parent key's line)."""
    comment = node.ca.comment
    if not comment:
        return ""
    text = ""
    if comment[0] is not None:  # the parent key's line has a comment: the lines follow it
        cut = comment[0].value.find("\n") + 1
        comment[0].value, text = comment[0].value[:cut], comment[0].value[cut:]
    if len(comment) > 1 and comment[1]:  # shared with the parent's entry: emptied in place
        text += "".join(_full_lines(t) for t in comment[1])
        comment[1][:] = []
    return text


def _cut_document_head(m: Any) -> str:
    """Cut off the comment lines right above the document's first key (after the file's last blank
    comment line, or its last blank line, and never the `yaml-language-server` line): its comment."""
    comment = m.ca.comment
    if not comment or len(comment) < 2 or not comment[1]:
        return ""
    lines = "".join(_full_lines(t) for t in comment[1]).splitlines(keepends=True)
    at = len(lines)
    while at and lines[at - 1].strip() and not _MODELINE.match(lines[at - 1]):
        at -= 1
    comment[1][:] = [_comment("".join(lines[:at]))] if at else []
    return "".join(lines[at:])


_MODELINE = re.compile(r"\s*#\s*(yaml-language-server:|!|-\*-|vim?:)")


def _put_head(node: Any, text: str) -> bool:
    """Put comment lines above a nested collection's first item; False when it has no place for them."""
    comment = node.ca.comment
    if not comment:
        return False
    if comment[0] is not None:
        comment[0].value += text
    elif len(comment) > 1 and comment[1] is not None:
        comment[1].append(_comment(text))
    else:
        return False
    return True


def _cut_tail(m: Any, k: Any) -> str:
    """Cut off, as text, the comment lines after item ``k``'s value (not its inline comment)."""
    slot, index, block = _tail(m, k)
    token = slot[index] if slot is not None else None
    rest = ""
    if token is not None:
        if block:  # after a block scalar, every line of the comment is a line of its own
            rest, slot[index] = _full_lines(token), None
        else:
            cut = token.value.find("\n") + 1
            token.value, rest = token.value[:cut], token.value[cut:]
    return rest + _take_ends(m[k])


def _take_ends(v: Any) -> str:
    """Cut off, as text, the comment lines after the last item of block collection ``v`` (and of
    its last item, and so on down)."""
    if not _is_block_collection(v):
        return ""
    inner = _take_ends(v[_items(v)[-1]])
    own = "".join(_full_lines(t) for t in v.ca.end or ())
    v.ca.end = []
    return inner + own


def _last(c: Any, k: Any) -> tuple[Any, Any]:
    """The container and key of the last scalar (or flow collection) of item ``k`` of ``c``: its
    value itself, or, down a block collection, its last item's."""
    v = c[k]
    while _is_block_collection(v):
        c, k = v, _items(v)[-1]
        v = c[k]
    return c, k


def _tail(c: Any, k: Any) -> tuple[Any, int, bool]:
    """Where the comment after item ``k`` of ``c`` is kept: ``(slot list, index, after a block scalar)``;
    the slot is None when that item has no comment entry."""
    from ruamel.yaml.comments import CommentedMap

    c, k = _last(c, k)
    return c.ca.items.get(k), 2 if isinstance(c, CommentedMap) else 0, _is_block(c[k])


def _add_after(m: Any, k: Any, text: str, *, front: bool = False) -> None:
    """Add comment lines ``text`` after item ``k``'s value (``front``: before the lines already there)."""
    from ruamel.yaml.comments import CommentedMap

    container, key = _last(m, k)
    slot = container.ca.items.setdefault(key, [None, None, None, None])
    index = 2 if isinstance(container, CommentedMap) else 0
    block = _is_block(container[key])
    token = slot[index]
    if token is None:
        slot[index] = _comment(("" if block else "\n") + text)
    elif front and block:  # the old first line is indented by the token's column: write it out
        slot[index] = _comment(text + _full_lines(token))
    elif front:
        cut = token.value.find("\n") + 1
        token.value = token.value[:cut] + text + token.value[cut:]
    else:
        token.value += text


def _add_before(m: Any, text: str) -> None:
    """Add comment lines ``text`` above the first key of the document ``m``, below its head comments."""
    if m.ca.comment is None:
        m.ca.comment = [None, []]
    if m.ca.comment[1] is None:
        m.ca.comment[1] = []
    m.ca.comment[1].append(_comment(text))


def _full_lines(token: Any) -> str:
    """A comment token that starts on a line of its own, as text: its first line indented to its column."""
    return " " * (token.start_mark.column if token.start_mark is not None else 0) + str(token.value)


def _comment(text: str) -> Any:
    """A comment token holding ``text`` as it is (its lines indented as they say)."""
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken

    return CommentToken(text, CommentMark(0), None)


def _is_block_collection(value: Any) -> bool:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    return isinstance(value, (CommentedMap, CommentedSeq)) and len(value) > 0 and not value.fa.flow_style()


def _items(node: Any) -> list[Any]:
    from ruamel.yaml.comments import CommentedMap

    return list(node) if isinstance(node, CommentedMap) else list(range(len(node)))


# -- key order ---------------------------------------------------------------------------------


def _arrange(node: Any, kind: str, *, top: bool = False, col: int = 0) -> None:
    """Put the keys of ``node`` (a mapping of ``kind``; ``top``: the document; its keys formatted at
    column ``col``) and of its known parts in canonical order."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if not isinstance(node, CommentedMap):
        return
    order, children = KEY_ORDER[kind]
    if order:
        _reorder(node, order, top=top, col=col)
    for key, value in node.items():
        child = children.get(key) or children.get("*")
        if child is not None:
            for item in value if isinstance(value, CommentedSeq) else [value]:
                _arrange(item, child, col=col + 4 if isinstance(value, CommentedSeq) else col + 2)


def _reorder(m: Any, order: Sequence[str], *, top: bool, col: int) -> None:
    """Reorder mapping ``m``: the keys of ``order`` first, in that order, then the others as they were.

    Comments follow their key: a key's inline comment and the comment lines above it (those not
    indented deeper than the key: a deeper one belongs to the value before it) move with it; the
    document's head comments, and the lines after the last key, stay where they are.
    """
    keys = list(m)
    rank = {k: i for i, k in enumerate(order)}
    new = sorted(keys, key=lambda k: (0, rank[k]) if k in rank else (1, keys.index(k)))
    if new == keys:
        return
    if not m.fa.flow_style():
        _move_comments(m, keys, new, top=top, col=col)
    for k in new:
        m.move_to_end(k)


def _move_comments(m: Any, keys: list[Any], new: list[Any], *, top: bool, col: int) -> None:
    """Move the comment lines above each key of block mapping ``m`` (keys at column ``col``, its
    comments already there: see :func:`_realign`) to where the key goes: after its new predecessor."""
    leading: dict[Any, str] = dict.fromkeys(keys, "")
    leading[keys[0]] = _cut_document_head(m) if top else _cut_head(m)
    trailing = ""
    for i, k in enumerate(keys):
        entry = m.ca.items.get(k)
        if entry and entry[1]:  # comment lines ruamel keeps right above the key
            leading[k] += "".join(_full_lines(t) for t in entry[1])
            entry[1] = None
        rest = _cut_tail(m, k)
        if i + 1 == len(keys):
            trailing = rest
            continue
        stay, above = _split_above(rest, col)
        if stay:
            _add_after(m, k, stay)
        leading[keys[i + 1]] = above + leading[keys[i + 1]]
    leading = {k: _reindent(text, col) for k, text in leading.items()}
    first = leading.pop(new[0], "")
    if first and top:
        _add_before(m, first)
    elif first and not _put_head(m, first):  # a list item's first key shares the `-` line: below it
        _add_after(m, new[0], first, front=True)
    for p, k in enumerate(new):
        text = leading.get(new[p + 1], "") if p + 1 < len(new) else trailing
        if text:
            _add_after(m, k, text)


# -- scalar styles -----------------------------------------------------------------------------


def _restyle(node: Any, *, flow: bool) -> None:
    """Multi-line strings as ``|`` blocks, quoted strings plain where that means the same, everywhere."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.compat import ordereddict

    if not isinstance(node, (CommentedMap, CommentedSeq)):
        return
    inner = flow or bool(node.fa.flow_style())
    if isinstance(node, CommentedMap):
        for key in list(node):
            new_key = plain_where_safe(key, flow=inner) if isinstance(key, str) else key
            if new_key is not key:
                _rename(node, key, new_key)
        items: Iterable[Any] = list(node)
    else:
        items = range(len(node))
    for key in items:
        value = node[key]
        if not isinstance(value, str):
            _restyle(value, flow=inner)
            continue
        styled = _string(value, flow=inner)
        if styled is value:
            continue
        comment = node.ca.items.get(key)
        index = 2 if isinstance(node, CommentedMap) else 0
        token = comment[index] if comment else None
        if _is_block(styled) and token is not None:
            if not token.value.startswith("\n"):
                continue  # a comment on the string's line: a block could not keep it there
            # a block scalar ends with its line break: the comment after it starts on the next line
            token.value = token.value[1:]
            if not token.value:
                comment[index] = None
        # set the value as it is: ruamel's own __setitem__ would keep the old string's quotes
        if isinstance(node, CommentedMap):
            ordereddict.__setitem__(node, key, styled)
        else:
            list.__setitem__(node, key, styled)


def _rename(m: Any, old: Any, new: Any) -> None:
    """Replace key ``old`` of ``m`` by ``new`` (the same text, another style), in place, comments kept."""
    at = list(m).index(old)
    comment = m.ca.items.pop(old, None)
    value = m.pop(old)
    m.insert(at, new, value)
    if comment is not None:
        m.ca.items[new] = comment


def _is_block(value: Any) -> bool:
    from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString

    return isinstance(value, (LiteralScalarString, FoldedScalarString))


def _string(value: str, *, flow: bool) -> Any:
    """The string ``value`` in its canonical style (``value`` itself when it stays as it is)."""
    from ruamel.yaml.scalarstring import LiteralScalarString

    if _is_block(value):
        return value  # already a block: the author's choice of | or > stands
    if "\n" in value:
        return LiteralScalarString(value) if not flow and _block_safe(value) else value
    return plain_where_safe(value, flow=flow)


def plain_where_safe(value: str, *, flow: bool) -> Any:
    """A quoted single-line string (ruamel's) as a plain one, where plain text reads back as the same
    string (in a flow collection with ``flow``); else ``value`` itself."""
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

    if not isinstance(value, (DoubleQuotedScalarString, SingleQuotedScalarString)) or "\n" in value:
        return value
    text = str.__str__(value)
    analysis = _analysis(text)
    if analysis.empty or analysis.multiline or not (analysis.allow_flow_plain if flow else analysis.allow_block_plain):
        return value
    if not _reads_as_string(text):
        return value
    return text


def _block_safe(value: str) -> bool:
    """Whether a multi-line string reads back the same as a ``|`` block: no tabs, no spaces at line
    ends, no leading spaces or blank first line (they would need an indentation indicator), and
    nothing YAML escapes."""
    if "\t" in value or "\r" in value or not value.strip() or value[0] in " \n":
        return False
    if any(line != line.rstrip(" ") for line in value.split("\n")):
        return False
    return bool(_analysis(value).allow_block)


def _analysis(text: str) -> Any:
    """ruamel's own judgement of which styles can hold ``text``."""
    return _emitter().analyze_scalar(text)


@cache
def _emitter() -> Any:
    import io

    from ruamel.yaml.emitter import Emitter

    emitter = Emitter(io.StringIO(), allow_unicode=True)
    emitter.use_version = (1, 1)  # type: ignore[attr-defined]  # ruamel's emitter reads it; judge as for YAML 1.1, promptctl's loader (the stricter on `?`)
    return emitter


def _reads_as_string(text: str) -> bool:
    """Whether ``text`` as a plain scalar is a string for promptctl's loader (YAML 1.1: ``yes`` is
    true) and for ruamel (YAML 1.2: ``0o17`` is a number) alike."""
    import yaml
    from ruamel.yaml.nodes import ScalarNode

    pyyaml, ruamel = _resolvers()
    str_tag = "tag:yaml.org,2002:str"
    return (pyyaml.resolve(yaml.nodes.ScalarNode, text, (True, False)) == str_tag
            and str(ruamel.resolve(ScalarNode, text, (True, False))) == str_tag)


@cache
def _resolvers() -> tuple[Any, Any]:
    import yaml
    from ruamel.yaml.resolver import VersionedResolver

    return yaml.resolver.Resolver(), VersionedResolver()


# -- files ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """A file to format: where it is, and how to show it."""

    path: Path
    display: str
    error: PromptctlError | None = None  # why it cannot be formatted, known before it is read


def find_targets(paths: Sequence[str] | None, *, project: str | os.PathLike[str] | None = None) -> list[Target]:
    """The files to format: those under ``paths`` (files or folders), else the project's prompts,
    datasets and promptctl.yaml. A folder is searched for those files; a file named on its own must
    be one of them (UsageError otherwise)."""
    if not paths:
        from .project import open_project

        proj = open_project(project)
        source = proj.source
        rels = [*proj.prompt_files().values(), *proj.dataset_files(), CONFIG_NAME]
        return _unique(Target(Path(source.root, rel), source.display(rel), _outside(source, rel))  # type: ignore[attr-defined]
                       for rel in rels)
    from .sources import WorkTree

    found: list[Target] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found += [Target(path / rel, os.path.normpath(os.path.join(given, rel)))
                      for rel in WorkTree(path).walk(".") if file_kind(rel)]
        elif not os.path.lexists(path):
            raise UsageError(f"{given}: no such file or folder")
        elif file_kind(path) is None:
            raise UsageError(
                f"{given}: not a file promptctl fmt formats",
                hint="it formats *.prompt.yaml, *.eval.yaml and promptctl.yaml files",
            )
        else:
            found.append(Target(path, str(given)))
    return _unique(found)


def _outside(source: Any, rel: str) -> PromptctlError | None:
    """An error when project file ``rel`` is a symlink to somewhere outside the project: never written."""
    from .errors import IncludeError

    try:
        source.confine(rel, "")
    except IncludeError:
        return FileFormatError("a symlink that leaves the project, so it was left as it is", path=source.display(rel),
                               hint="format the file where it is, or name it as a PATH")
    return None


def _unique(targets: Iterable[Target]) -> list[Target]:
    seen: set[str] = set()
    out = []
    for t in targets:
        real = os.path.realpath(t.path)
        if real not in seen:
            seen.add(real)
            out.append(t)
    return out


def format_file(target: Target) -> FormatResult:
    """Format one file in memory (nothing is written); errors are returned, not raised."""
    from .yamlio import read_text

    if target.error is not None:
        return FormatResult(target.display, error=target.error)
    before = ""
    try:
        before = read_text(target.path, display=target.display)
        after = format_text(before, file_kind(target.path), path=target.display)
    except PromptctlError as e:
        return FormatResult(target.display, before, None, e)
    return FormatResult(target.display, before, after)


def write_result(target: Target, result: FormatResult) -> None:
    """Write a changed file atomically, keeping its permission bits (through a symlink, to its target)."""
    from .fileio import write_atomic

    real = os.path.realpath(target.path)
    try:
        write_atomic(real, result.after or "", fsync=False, mode=stat.S_IMODE(os.stat(real).st_mode))
    except OSError as e:
        raise FileFormatError(f"cannot write the formatted file: {e.strerror or e}", path=target.display,
                              hint="it was left as it is; check the folder's permissions") from None
