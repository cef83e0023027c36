"""The safe YAML loader every project file goes through.

Built on PyYAML's event stream (libyaml when available) instead of its composer,
so that loading is iterative: a 100,000-deep nesting fails fast with a clear
error instead of a RecursionError. On top of YAML's safe subset it refuses
duplicate keys, anchors and aliases, and every tag but the plain JSON types, and
it records the ``line:col`` of every key and value so that later errors (schema
violations, Jinja syntax errors) can point at the right place in the file.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml import events as ev
from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

from .errors import YamlError

MAX_DEPTH = 64
MAX_BYTES = 8 * 1024 * 1024

_Path = tuple[str | int, ...]

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null")}
_RESOLVER = Resolver()
_CONSTRUCTOR = SafeConstructor()
_Parser = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, slots=True)
class Mark:
    """Where a node starts: 1-based line and column, and its scalar style.

    ``style`` is ``None`` for plain scalars and collections, or one of
    ``' " | >`` for quoted and block scalars.
    """

    line: int
    col: int
    style: str | None = None


@dataclass(frozen=True, slots=True)
class Document:
    """A loaded YAML file: the data plus where each part of it came from."""

    path: str
    data: Any
    text: str
    values: dict[_Path, Mark] = field(default_factory=dict)
    keys: dict[_Path, Mark] = field(default_factory=dict)

    def mark(self, path: _Path, *, key: bool = False) -> Mark:
        """The mark of the node at ``path`` (its key with ``key=True``).

        Falls back to the closest ancestor that has one, so an error about a
        missing field points at the mapping that lacks it.
        """
        p = tuple(path)
        while True:
            if key and p in self.keys:
                return self.keys[p]
            if p in self.values:
                return self.values[p]
            if not p:
                return Mark(1, 1)
            p = p[:-1]

    def template_position(self, path: _Path, template_line: int) -> tuple[int, int]:
        """Map a line of a template held in the string at ``path`` to ``line, col`` in the file.

        For block scalars (``|`` and ``>``) the template's first line is the
        line after the indicator; for other scalars it is the scalar's own line.
        """
        m = self.mark(path)
        lines = self.text.splitlines()
        if m.style == ">":
            return _folded_position(lines, m, template_line)
        if m.style == "|":
            line = m.line + template_line
            if 0 < line <= len(lines):
                text = lines[line - 1]
                return line, len(text) - len(text.lstrip(" ")) + 1
            return line, 1
        return m.line + template_line - 1, m.col


def _folded_position(lines: list[str], m: Mark, template_line: int) -> tuple[int, int]:
    """Map a line of a folded (``>``) scalar's value to its file line: blank lines end a value line."""
    indent: int | None = None
    current = 1
    previous_kept = False  # the previous line was more indented: its line break is kept
    for index in range(m.line, len(lines)):  # lines[m.line] is the line after the indicator
        text = lines[index]
        if not text.strip():
            if indent is not None:
                current += 1
            continue
        width = len(text) - len(text.lstrip(" "))
        if indent is None:
            indent = width
        elif width < indent:
            break
        elif (width > indent or previous_kept) and not (index > 0 and not lines[index - 1].strip()):
            current += 1
        previous_kept = width > indent
        if current >= template_line:
            return index + 1, width + 1
    return m.line + 1, (indent or 0) + 1


def read_regular(path: str | os.PathLike[str], *, display: str, max_bytes: int = MAX_BYTES) -> bytes:
    """The bytes of a regular file, reading at most ``max_bytes`` (+1 to notice more).

    A FIFO, a device or a folder is refused (YamlError), checked on the open file itself: the open
    is non-blocking, so a FIFO cannot hang it, and the limit holds for what is read, so a file that
    reports size 0 (``/dev/zero``, ``/proc``) cannot grow without end. FileNotFoundError propagates.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        mode = st.st_mode
        if stat.S_ISREG(mode) and st.st_size > max_bytes:
            raise YamlError(f"file is {st.st_size:,} bytes, over the {max_bytes:,}-byte limit", path=display,
                            hint="split it into smaller files")
        if not stat.S_ISREG(mode):
            kind = "folder" if stat.S_ISDIR(mode) else "FIFO" if stat.S_ISFIFO(mode) else "device or special file"
            raise YamlError(f"not a regular file (it is a {kind})", path=display, hint="only regular files are read")
        chunks, size = [], 0
        while size <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > max_bytes:
        raise YamlError(f"file is over the {max_bytes:,}-byte limit", path=display, hint="split it into smaller files")
    return b"".join(chunks)


def read_text(path: str | os.PathLike[str], *, display: str | None = None, max_bytes: int = MAX_BYTES) -> str:
    """Read a UTF-8 text file, refusing huge, special or undecodable ones with a clear error."""
    shown = display or os.fspath(path)
    try:
        raw = read_regular(path, display=shown, max_bytes=max_bytes)
    except OSError as e:
        raise YamlError(f"cannot read file: {e.strerror or e}", path=shown) from e
    return decode(raw, display=shown, max_bytes=max_bytes)


def decode(raw: bytes, *, display: str, max_bytes: int = MAX_BYTES) -> str:
    """Decode file bytes as UTF-8 (a BOM is allowed) with a clear error otherwise."""
    if len(raw) > max_bytes:
        raise YamlError(
            f"file is over the {max_bytes:,}-byte limit", path=display, hint="split it into smaller files"
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise YamlError("file is not valid UTF-8", path=display, line=line, hint="save it as UTF-8") from e


def load_file(path: str | os.PathLike[str], *, display: str | None = None) -> Document:
    """Load one YAML file safely; ``display`` is the path shown in errors."""
    shown = display or os.fspath(path)
    return loads(read_text(path, display=shown), path=shown)


def loads(text: str, *, path: str = "<string>") -> Document:
    """Parse YAML text into a :class:`Document`.

    Raises :class:`YamlError` with ``path:line:col`` for malformed YAML, a
    second document, duplicate keys, anchors, aliases, non-JSON tags, complex
    keys, or nesting deeper than ``MAX_DEPTH``.
    """
    if len(text) > MAX_BYTES:
        raise YamlError(f"file is over the {MAX_BYTES:,}-byte limit", path=path, hint="split it into smaller files")
    values: dict[_Path, Mark] = {}
    keys: dict[_Path, Mark] = {}
    # Each frame: [container, its path, pending key (for mappings) or None, seen keys]
    stack: list[list[Any]] = []
    root: Any = None
    documents = 0

    def fail(message: str, event: ev.Event, hint: str) -> YamlError:
        m = event.start_mark
        assert m is not None  # the parser marks every event (the stubs allow None)
        return YamlError(message, path=path, line=m.line + 1, col=m.column + 1, hint=hint)

    def child_path(event: ev.Event) -> tuple[_Path, bool]:
        """Path for the node starting at ``event``; True when it is a mapping key."""
        if not stack:
            return (), False
        container, cpath, pending, _ = stack[-1]
        if isinstance(container, list):
            return cpath + (len(container),), False
        if pending is None:
            return cpath, True
        return cpath + (pending,), False

    def attach(value: Any, npath: _Path) -> None:
        nonlocal root
        if not stack:
            root = value
            return
        frame = stack[-1]
        container = frame[0]
        if isinstance(container, list):
            container.append(value)
        else:
            container[frame[2]] = value
            frame[2] = None

    parser = _Parser(text)
    try:
        while parser.check_event():
            event = parser.get_event()
            if isinstance(event, ev.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise fail(
                        "a second YAML document (---) in one file",
                        event,
                        "keep one document per file",
                    )
                continue
            if isinstance(event, ev.AliasEvent):
                raise fail(
                    f"YAML aliases (*{event.anchor}) are not allowed",
                    event,
                    "write the value out in full",
                )
            if isinstance(event, (ev.ScalarEvent, ev.MappingStartEvent, ev.SequenceStartEvent)):
                if event.anchor is not None:
                    raise fail(
                        f"YAML anchors (&{event.anchor}) are not allowed",
                        event,
                        "write the value out in full",
                    )
                npath, is_key = child_path(event)
                m = event.start_mark
                assert m is not None
                if isinstance(event, ev.ScalarEvent):
                    mark = Mark(m.line + 1, m.column + 1, event.style or None)
                    if is_key:
                        if event.tag not in (None, "!", _TAG + "str"):
                            raise fail(
                                f"YAML tag {event.tag} is not allowed on a key",
                                event,
                                "keys are plain strings; remove the tag",
                            )
                        frame = stack[-1]
                        name = event.value
                        if name in frame[3]:
                            first = keys[npath + (name,)]
                            raise fail(
                                f"duplicate key {name!r} (first defined at line {first.line})",
                                event,
                                "remove one of them",
                            )
                        frame[3].add(name)
                        frame[2] = name
                        keys[npath + (name,)] = mark
                        continue
                    values[npath] = mark
                    attach(_scalar(event, fail), npath)
                    continue
                if is_key:
                    raise fail(
                        "complex mapping keys are not allowed",
                        event,
                        "use a plain string as the key",
                    )
                if len(stack) >= MAX_DEPTH:
                    raise fail(
                        f"nesting is deeper than {MAX_DEPTH} levels",
                        event,
                        "flatten the structure",
                    )
                collection_tag = _TAG + ("map" if isinstance(event, ev.MappingStartEvent) else "seq")
                if event.tag not in (None, "!", collection_tag):
                    raise fail(
                        f"YAML tag {event.tag} is not allowed",
                        event,
                        "remove the tag; only plain JSON-like values are accepted",
                    )
                values[npath] = Mark(m.line + 1, m.column + 1)
                container: Any = {} if isinstance(event, ev.MappingStartEvent) else []
                attach(container, npath)
                stack.append([container, npath, None, set()])
                continue
            if isinstance(event, (ev.MappingEndEvent, ev.SequenceEndEvent)):
                stack.pop()
    except yaml.MarkedYAMLError as e:
        m = e.problem_mark or e.context_mark
        message = " ".join(str(x) for x in (e.context, e.problem) if x)
        unclosed = _UNCLOSED.get(str(e.context or ""))
        opener = _open_bracket(text, e.problem_mark.index) if e.problem_mark is not None and not unclosed else None
        if opener is not None and e.problem_mark is not None:  # `x: [` and the file ends: the `[` is the fault
            line, col, char = opener
            problem = e.problem_mark
            raise YamlError(
                f"invalid YAML: the `{char}` here is not closed ({e.problem} by line {problem.line + 1}, "
                f"column {problem.column + 1})",
                path=path, line=line, col=col, hint="fix the YAML syntax",
            ) from None
        if unclosed and e.context_mark is not None and e.problem_mark is not None:
            # point at what was opened and never closed, not at the line where the parser gave up
            m = e.context_mark
            message = (f"{unclosed} is not closed ({e.problem} by line {e.problem_mark.line + 1}, "
                       f"column {e.problem_mark.column + 1})")
        raise YamlError(
            f"invalid YAML: {message}",
            path=path,
            line=m.line + 1 if m else None,
            col=m.column + 1 if m else None,
            hint="fix the YAML syntax",
        ) from None
    except yaml.YAMLError as e:
        raise YamlError(f"invalid YAML: {e}", path=path, hint="fix the YAML syntax") from None
    finally:
        dispose = getattr(parser, "dispose", None)
        if dispose:
            dispose()
    return Document(path=path, data=root, text=text, values=values, keys=keys)


def _open_bracket(text: str, end: int) -> tuple[int, int, str] | None:
    """The line, column and character of the last ``[`` or ``{`` still open at offset ``end`` of
    ``text`` (quoted text and comments skipped), when the parser stopped at the end of the file."""
    if text[end:].strip():
        return None  # the parser stopped before the end: its own position says more
    stack: list[tuple[int, int, str]] = []
    line, col, i, n = 1, 1, 0, min(end, len(text))
    while i < n:
        c = text[i]
        if c == "\n":
            line, col = line + 1, 0
        elif c == "#" and (i == 0 or text[i - 1] in " \t\n"):
            while i + 1 < n and text[i + 1] != "\n":
                i += 1
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if c == '"' and text[j] == "\\" else 1
            col += j - i
            i = j
        elif c in "[{":
            stack.append((line, col, c))
        elif c in "]}" and stack:
            stack.pop()
        i += 1
        col += 1
    return stack[-1] if stack else None


_UNCLOSED = {
    "while parsing a flow mapping": "the `{` here",
    "while parsing a flow sequence": "the `[` here",
    "while scanning a quoted scalar": "the quoted text that starts here",
}


def _scalar(event: ev.ScalarEvent, fail: Any) -> Any:
    """Construct a scalar's value with YAML's safe rules, keeping timestamps as strings."""
    tag = event.tag
    if tag in (None, "!"):
        tag = _RESOLVER.resolve(ScalarNode, event.value, event.implicit)
    elif tag not in _SCALAR_TAGS:
        raise fail(
            f"YAML tag {tag} is not allowed",
            event,
            "remove the tag; only plain JSON-like values are accepted",
        )
    if tag not in _SCALAR_TAGS or tag == _TAG + "str":
        return event.value
    # the C parser's marks are yaml._yaml.Mark, which PyYAML's nodes take but the stubs do not list
    node = ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)  # type: ignore[arg-type]
    try:
        value = _CONSTRUCTOR.yaml_constructors[tag](_CONSTRUCTOR, node)
    except Exception as e:  # noqa: BLE001 - PyYAML's constructors raise ValueError, KeyError, IndexError...
        raise fail(
            f"cannot read {event.value!r} as {tag.rsplit(':', 1)[-1]}", event, "fix the value or quote it"
        ) from e
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        raise fail(
            f"{event.value!r} is not a finite number, which JSON cannot hold",
            event,
            "quote it if you mean the text",
        )
    return value


def load_inputs_file(path: str) -> dict[str, Any]:
    """A mapping of inputs from a YAML or JSON file (``-`` reads stdin)."""
    import sys

    if path == "-":
        doc = loads(sys.stdin.read(), path="<stdin>")
    else:
        doc = load_file(path)
    if doc.data is None:
        return {}
    if not isinstance(doc.data, dict):
        raise YamlError(
            "an inputs file must be a mapping of input names to values", path=doc.path, line=1, col=1
        )
    return doc.data


def round_trip_yaml(purpose: str) -> Any:
    """A ruamel.yaml round-trip instance (imported here only) that keeps comments and quotes and
    never wraps lines: how promptctl edits a file without losing its layout. ``purpose`` says, in
    the error when ruamel.yaml is missing, what needed it ("writing goldens")."""
    try:
        from ruamel.yaml import YAML
    except ImportError:
        from .errors import DependencyError

        raise DependencyError(
            f"{purpose} needs ruamel.yaml to edit YAML files without losing comments",
            hint="pip install 'ruamel.yaml>=0.18'",
        ) from None
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 1 << 16
    yaml.brace_single_entry_mapping_in_flow_sequence = True  # [{id: a}] stays so, not [id: a]
    return yaml


def dump(data: Any) -> str:
    """Dump plain data as block-style YAML (used by init and for --format yaml)."""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)
