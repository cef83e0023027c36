"""Template rules (PC201-PC209): every message and every partial is parsed once, then walked.

Messages are parsed in the same sandboxed environment the renderer uses; each
partial is read and analysed once however many prompts include it. Positions
map template lines back to file lines (a block scalar's lines are file lines;
a quoted or plain scalar is reported at its start, as the renderer does).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jinja2 import nodes
from jinja2.exceptions import TemplateSyntaxError

from ..errors import IncludeError
from ..model import HistorySlot, Message
from ..templates import check_partial_name
from .base import literal_glob

if TYPE_CHECKING:
    from .base import Linter, PromptInfo

#: Names that reach Python itself; never inputs.
UNSAFE_CALLS = frozenset(
    {"getattr", "setattr", "delattr", "eval", "exec", "compile", "open", "globals", "locals", "vars",
     "__import__", "__builtins__", "breakpoint", "input", "exit", "quit"}
)
#: Attributes the sandbox refuses that do not start with an underscore (frames, code, the MRO).
UNSAFE_ATTRS = frozenset(
    {"mro", "func_globals", "func_code", "func_closure", "f_globals", "f_locals", "f_back", "f_code",
     "f_builtins", "gi_frame", "gi_code", "gi_yieldfrom", "cr_frame", "cr_code", "cr_await", "ag_frame",
     "ag_code", "ag_await", "tb_frame", "tb_next", "co_code"}
)
STRING_FORMAT = frozenset({"format", "format_map"})
#: Names a partial may read from where it is included (`loop` inside a for loop, `caller` in a macro).
INCLUDER_NAMES = frozenset({"loop", "caller", "varargs", "kwargs"})
#: Filters that read attributes by name: (positional index of the name or None, keyword).
ATTRIBUTE_FILTERS: Mapping[str, tuple[int | None, str | None]] = {
    "attr": (0, None), "selectattr": (0, None), "rejectattr": (0, None), "groupby": (0, "attribute"),
    "map": (None, "attribute"), "sort": (None, "attribute"), "sum": (None, "attribute"),
    "unique": (None, "attribute"), "min": (None, "attribute"), "max": (None, "attribute"),
}
ITEMS = 0  # in an access path: "an item of the array"


def unsafe_attr(name: str) -> bool:
    return name.startswith("_") or name in UNSAFE_ATTRS


@dataclass(frozen=True, slots=True)
class Include:
    """One include/import/from/extends: its constant candidates, or the glob of a computed target."""

    names: tuple[str, ...]
    glob: str | None
    lineno: int
    optional: bool
    any_of: bool  # a list of candidates: one existing is enough


@dataclass(frozen=True, slots=True)
class Access:
    """A field read rooted at a variable: ``user.address.city`` -> ("user", "address", "city")."""

    lineno: int
    needle: str
    path: tuple[str | int, ...]
    bound: bool = False  # rooted at a loop variable bound by this analysis


@dataclass(slots=True)
class Analysis:
    """What lint needs from one template."""

    undeclared: dict[str, int]
    stored: frozenset[str]
    includes: list[Include]
    unsafe: list[tuple[int, str, str]]
    accesses: list[Access]


class CompileCache:
    """Parse and generate each template once, for lint and for the renderer that renders samples.

    Installs jinja2's documented override hooks ``_parse`` and ``_generate`` on
    the lint run's own environment: lint parses a template (and walks the
    tree), then generates its code with a generator that also records the
    undeclared variables, exactly as ``jinja2.meta.find_undeclared_variables``
    does; when a sample renders, ``compile`` finds both in the cache and only
    byte-compiles.
    """

    def __init__(self, env: Any) -> None:
        self.env = env
        self.asts: dict[tuple[str, str | None, str | None], nodes.Template] = {}
        self.generated: dict[int, tuple[nodes.Template, str, frozenset[str]]] = {}
        base = env.code_generator_class

        class Tracking(base):  # type: ignore[misc, valid-type]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                self.undeclared: set[str] = set()

            def enter_frame(self, frame: Any) -> None:
                super().enter_frame(frame)
                for _, (action, param) in frame.symbols.loads.items():
                    if action == "resolve" and param not in self.environment.globals:
                        self.undeclared.add(param)

        self._tracking = Tracking
        self._base_parse = env._parse
        env._parse = self._parse
        env._generate = self._generate

    def close(self) -> None:
        """Remove the hooks and forget every template (breaks the environment <-> cache cycle)."""
        for hook in ("_parse", "_generate"):
            self.env.__dict__.pop(hook, None)
        self.asts.clear()
        self.generated.clear()

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        key = (source, name, filename)
        ast = self.asts.get(key)
        if ast is None:
            ast = self.asts[key] = self._base_parse(source, name, filename)
        return ast

    def _generate(self, ast: nodes.Template, name: str | None, filename: str | None, defer_init: bool = False) -> str:
        entry = self.generated.get(id(ast))
        if entry is not None and entry[0] is ast and not defer_init:
            return entry[1]
        gen = self._tracking(self.env, name, filename, None, defer_init, self.env.optimized)
        gen.visit(ast)
        code: str = gen.stream.getvalue()
        if not defer_init:
            self.generated[id(ast)] = (ast, code, frozenset(gen.undeclared))
        return code

    def undeclared(self, ast: nodes.Template, name: str | None, filename: str | None) -> frozenset[str]:
        """The variables ``ast`` reads from its context (generating its code once)."""
        self._generate(ast, name, filename)
        return self.generated[id(ast)][2]


def analyze(cache: CompileCache, source: str, name: str | None, filename: str) -> Analysis:
    """Parse, walk and generate one template; raises TemplateSyntaxError (also for unknown filters and tests)."""
    ast = cache.env.parse(source, name=name, filename=filename)
    walker = _Walker()
    walker.visit(ast, {})
    undeclared = cache.undeclared(ast, name, filename)  # after the walk: code generation may fold constants
    stored = frozenset(walker.stored)
    accesses = [a for a in walker.accesses if a.path[0] not in stored or a.bound]
    return Analysis(
        {n: walker.first_load.get(n, 1) for n in undeclared},
        stored,
        walker.includes,
        walker.unsafe,
        accesses,
    )


def _target_parts(node: nodes.Node) -> list[str | None]:
    if isinstance(node, nodes.Const) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, nodes.Concat):
        return [p for n in node.nodes for p in _target_parts(n)]
    if isinstance(node, nodes.Add):
        return _target_parts(node.left) + _target_parts(node.right)
    if isinstance(node, nodes.Mod) and isinstance(node.left, nodes.Const) and isinstance(node.left.value, str):
        return [node.left.value]
    return [None]


_INTERNALS = "reaches Python internals, which the sandbox refuses; use the declared inputs"


class _Walker:
    """One pass over a template: names, includes, sandbox-unsafe constructs and field reads."""

    def __init__(self) -> None:
        self.first_load: dict[str, int] = {}
        self.stored: set[str] = set()
        self.includes: list[Include] = []
        self.unsafe: list[tuple[int, str, str]] = []
        self.accesses: list[Access] = []

    def visit(self, node: nodes.Node, bindings: dict[str, tuple[str | int, ...] | None]) -> None:
        if isinstance(node, nodes.Name):
            if node.ctx == "load":
                self.first_load.setdefault(node.name, node.lineno)
                if node.name in UNSAFE_CALLS:
                    self.unsafe.append((node.lineno, node.name, f"{node.name!r} {_INTERNALS}"))
            else:
                self.stored.add(node.name)
            return
        if isinstance(node, nodes.For):
            self._for(node, bindings)
            return
        if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Getattr):
            self._method_call(node, node.node, bindings)
            return
        if isinstance(node, (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
            self._include(node)
        elif isinstance(node, nodes.Macro):
            self.stored.add(node.name)
        elif isinstance(node, nodes.Getattr):
            if unsafe_attr(node.attr):
                self.unsafe.append((node.lineno, "." + node.attr, f"attribute {node.attr!r} {_INTERNALS}"))
            self._access(node, bindings)
        elif isinstance(node, nodes.Getitem):
            value = node.arg.value if isinstance(node.arg, nodes.Const) else None
            if isinstance(value, str) and unsafe_attr(value):
                self.unsafe.append((node.lineno, value, f"item {value!r} {_INTERNALS}"))
            self._access(node, bindings)
        elif isinstance(node, nodes.Filter) and node.name in ATTRIBUTE_FILTERS:
            self._attribute_filter(node)
        for child in node.iter_child_nodes():
            self.visit(child, bindings)

    def _method_call(self, node: nodes.Call, method: nodes.Getattr, bindings: dict[str, Any]) -> None:
        if method.attr in STRING_FORMAT:
            self.unsafe.append((node.lineno, "." + method.attr,
                                f".{method.attr}() can read attributes of its arguments; use `~` or the "
                                "`format` filter"))
        elif unsafe_attr(method.attr):
            self.unsafe.append((node.lineno, "." + method.attr, f"attribute {method.attr!r} {_INTERNALS}"))
        # a method call (user.items(), name.upper()): the object is read, the method is not a field
        self.visit(method.node, bindings)
        for child in (*node.args, *node.kwargs, node.dyn_args, node.dyn_kwargs):
            if child is not None:
                self.visit(child, bindings)

    def _for(self, node: nodes.For, bindings: dict[str, Any]) -> None:
        self.visit(node.iter, bindings)
        inner = dict(bindings)
        source = _path(node.iter, bindings)
        targets = [node.target] if isinstance(node.target, nodes.Name) else list(node.target.find_all(nodes.Name))
        for target in targets:
            self.stored.add(target.name)
            inner[target.name] = None
        if isinstance(node.target, nodes.Name) and source is not None:
            inner[node.target.name] = source + (ITEMS,)
        for child in (*node.body, *node.else_, node.test):
            if child is not None:
                self.visit(child, inner)

    def _include(self, node: nodes.Node) -> None:
        if isinstance(node, nodes.Import):
            self.stored.add(node.target)
        elif isinstance(node, nodes.FromImport):
            for item in node.names:
                self.stored.add(item[1] if isinstance(item, tuple) else item)
        target = node.template  # type: ignore[attr-defined]
        optional = bool(getattr(node, "ignore_missing", False))
        if isinstance(target, nodes.Const) and isinstance(target.value, str):
            self.includes.append(Include((target.value,), None, node.lineno, optional, False))
        elif isinstance(target, (nodes.List, nodes.Tuple)):
            consts = tuple(i.value for i in target.items if isinstance(i, nodes.Const) and isinstance(i.value, str))
            dynamic = len(consts) < len(target.items)
            self.includes.append(Include(consts, "*" if dynamic else None, node.lineno, optional, True))
        else:
            self.includes.append(Include((), literal_glob(_target_parts(target)), node.lineno, optional, False))

    def _attribute_filter(self, node: nodes.Filter) -> None:
        index, keyword = ATTRIBUTE_FILTERS[node.name]
        args = [node.args[index]] if index is not None and len(node.args) > index else []
        args += [kw.value for kw in node.kwargs if kw.key == keyword]
        for arg in args:
            if isinstance(arg, nodes.Const) and isinstance(arg.value, str):
                if any(unsafe_attr(part) for part in arg.value.split(".")):
                    self.unsafe.append((node.lineno, arg.value, f"filter {node.name!r} with {arg.value!r} {_INTERNALS}"))

    def _access(self, node: nodes.Getattr | nodes.Getitem, bindings: dict[str, Any]) -> None:
        path = _path(node, bindings)
        if path is not None and len(path) > 1 and isinstance(path[-1], str):
            needle = path[-1] if isinstance(node, nodes.Getitem) else "." + path[-1]
            root = _root(node)
            bound = root is not None and root in bindings
            self.accesses.append(Access(node.lineno, needle, path, bound))


def _root(node: nodes.Node) -> str | None:
    while isinstance(node, (nodes.Getattr, nodes.Getitem)):
        node = node.node
    return node.name if isinstance(node, nodes.Name) else None


def _path(node: nodes.Node, bindings: Mapping[str, tuple[str | int, ...] | None]) -> tuple[str | int, ...] | None:
    if isinstance(node, nodes.Name):
        return bindings[node.name] if node.name in bindings else (node.name,)
    if isinstance(node, (nodes.Getattr, nodes.Getitem)):
        parent = _path(node.node, bindings)
        if parent is None:
            return None
        if isinstance(node, nodes.Getattr):
            return parent + (node.attr,)
        if isinstance(node.arg, nodes.Const):
            if isinstance(node.arg.value, str):
                return parent + (node.arg.value,)
            if isinstance(node.arg.value, int):
                return parent + (ITEMS,)
    return None


def _show(path: tuple[str | int, ...]) -> str:
    out = str(path[0])
    for p in path[1:]:
        out += "[]" if p == ITEMS else f".{p}"
    return out


def check_access(inputs: Mapping[str, Any], path: tuple[str | int, ...]) -> tuple[str, list[str]] | None:
    """The first field of ``path`` the input schemas do not allow, with the fields they do; None when allowed."""
    schema = inputs.get(path[0]) if isinstance(path[0], str) else None
    for key in path[1:]:
        if not isinstance(schema, Mapping):
            return None
        if key == ITEMS:
            schema = schema.get("items")
            continue
        props = schema.get("properties")
        if not isinstance(props, Mapping):
            return None
        if key in props:
            schema = props[key]
            continue
        extra = schema.get("additionalProperties")
        if extra is True or isinstance(extra, Mapping):
            return None
        patterns = schema.get("patternProperties")
        if isinstance(patterns, Mapping) and any(_search(p, str(key)) for p in patterns):
            return None
        if not props and extra is not False:
            return None
        return str(key), list(props)
    return None


def _search(pattern: str, text: str) -> bool:
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return True


# -- positions ---------------------------------------------------------------------------------


class MessageWhere:
    """Maps a line of a message's template (and a needle on it) to ``line, col`` in the prompt file."""

    def __init__(self, info: PromptInfo, index: int, message: Message) -> None:
        self.rel = info.rel
        self.doc = info.doc
        self.index = index
        self.message = message
        self.lines = message.content.splitlines()

    def at(self, lineno: int | None, needle: str | None = None) -> tuple[int, int]:
        m = self.message
        lineno = lineno or 1
        off = -1
        if needle and 0 < lineno <= len(self.lines):
            off = self.lines[lineno - 1].find(needle)
        if m.block and self.doc is not None:
            line, col = self.doc.template_position(("messages", self.index, "content"), lineno)
            return line, (m.col + off if off >= 0 else col)
        if lineno == 1:
            return m.line, m.col + max(off, 0)
        return m.line, m.col


class PartialWhere:
    """Positions in a partial: its own lines."""

    def __init__(self, rel: str, text: str) -> None:
        self.rel = rel
        self.lines = text.splitlines()

    def at(self, lineno: int | None, needle: str | None = None) -> tuple[int, int]:
        line = lineno or 1
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        off = text.find(needle) if needle else -1
        return line, (off + 1 if off >= 0 else len(text) - len(text.lstrip()) + 1)


# -- partials ----------------------------------------------------------------------------------


@dataclass(slots=True)
class PartialEntry:
    """One partial, read and analysed once. ``status``: ok, missing, outside, unreadable or syntax."""

    name: str
    rel: str
    status: str
    analysis: Analysis | None = None
    where: PartialWhere | None = None
    message: str = ""


def partial(lin: Linter, name: str) -> PartialEntry:
    """The partial ``name`` (a normalized name under the prompt root), analysed once; its own findings reported once."""
    entry: PartialEntry | None = lin.partials.get(name)
    if entry is not None:
        return entry
    from . import security

    rel = lin.rel_under_prompts(name)
    try:
        lin.source.confine(rel, lin.config.prompts)
    except IncludeError as e:
        entry = PartialEntry(name, rel, "outside", message=e.message)
        lin.partials[name] = entry
        return entry
    text = lin.text(rel, report=False)
    if text is None:
        error = lin.read_error(rel)
        if error is None or error.message == "file not found":
            entry = PartialEntry(name, rel, "missing")
        else:
            lin.text(rel)  # reports PC101 on the partial
            entry = PartialEntry(name, rel, "unreadable")
        lin.partials[name] = entry
        return entry
    where = PartialWhere(rel, text)
    try:
        analysis = analyze(lin.compile_cache, text, name, lin.source.display(rel))
    except TemplateSyntaxError as e:
        line, col = where.at(e.lineno)
        lin.add("PC201", rel, line, col, f"Jinja syntax error: {e.message}")
        entry = PartialEntry(name, rel, "syntax", where=where)
        lin.partials[name] = entry
        return entry
    for lineno, needle, message in analysis.unsafe:
        line, col = where.at(lineno, needle)
        lin.add("PC208", rel, line, col, message)
    if lin.on("PC402"):
        security.scan_pii(lin, rel, text, where)
    entry = PartialEntry(name, rel, "ok", analysis, where)
    lin.partials[name] = entry
    return entry


def _glob_names(lin: Linter, pattern: str) -> set[str]:
    """Variables used by any partial matching ``pattern`` (a computed include may render any of them)."""
    import fnmatch

    cached = lin.globs.get(pattern)
    if cached is None:
        cached = set()
        for rel in lin.other_files:
            name = lin.name_under_prompts(rel)
            if fnmatch.fnmatchcase(name, pattern):
                entry = partial(lin, name)
                if entry.analysis is not None:
                    cached |= set(entry.analysis.undeclared)
        lin.globs[pattern] = cached
    return cached


@dataclass(slots=True)
class _Walk:
    """The state of following one prompt's includes."""

    info: PromptInfo
    reached: list[tuple[PartialEntry, frozenset[str]]] = field(default_factory=list)
    maybe_used: set[str] = field(default_factory=set)
    expanded: set[str] = field(default_factory=set)


def _follow(lin: Linter, walk: _Walk, inc: Include, where: Any, visible: frozenset[str], chain: list[str]) -> None:
    rel = where.rel
    if inc.glob is not None:
        line, col = where.at(inc.lineno, "{%")
        lin.add("PC207", rel, line, col,
                f"the include target is computed, so lint cannot check it; files matching {inc.glob!r} "
                "are treated as possibly included")
        walk.maybe_used |= _glob_names(lin, inc.glob)
    found: list[PartialEntry] = []
    missing: list[str] = []
    for raw in inc.names:
        line, col = where.at(inc.lineno, raw)
        try:
            name = check_partial_name(raw)
        except IncludeError as e:
            lin.add("PC209", rel, line, col, e.message + (f" ({e.hint})" if e.hint else ""))
            walk.info.broken = True
            continue
        if name in chain:
            cycle = " -> ".join(chain[chain.index(name):] + [name])
            lin.add("PC206", rel, line, col, f"include cycle: {cycle}; break the cycle")
            walk.info.broken = True
            continue
        entry = partial(lin, name)
        if entry.status == "missing":
            missing.append(name)
        elif entry.status == "outside":
            lin.add("PC209", rel, line, col, f"{entry.message} (partials must be real files under the prompt root)")
            walk.info.broken = True
        elif entry.status != "ok":
            walk.info.broken = True  # reported on the partial itself
        else:
            found.append(entry)
    if missing and not inc.optional and not (inc.any_of and (found or inc.glob)):
        line, col = where.at(inc.lineno, missing[0])
        shown = lin.source.display(lin.rel_under_prompts(missing[0]))
        if len(missing) == 1:
            message = f"partial {missing[0]!r} not found; create {shown} or fix the include path"
        else:
            message = "none of the partials " + ", ".join(repr(m) for m in missing) + " exists; fix the include"
        lin.add("PC205", rel, line, col, message)
        walk.info.broken = True
    for entry in found:
        walk.reached.append((entry, visible))
        if entry.analysis is not None and entry.analysis.unsafe:
            walk.info.broken = True
        if entry.name in walk.expanded:
            continue
        walk.expanded.add(entry.name)
        assert entry.analysis is not None
        inner = visible | entry.analysis.stored
        for sub in entry.analysis.includes:
            _follow(lin, walk, sub, entry.where, inner, chain + [entry.name])


def _report_accesses(lin: Linter, where: Any, analysis: Analysis, inputs: Mapping[str, Any], info: PromptInfo) -> None:
    prompt = info.name
    for access in analysis.accesses:
        bad = check_access(inputs, access.path)
        if bad is None:
            continue
        key, allowed = bad
        info.broken = True
        shown = _show(access.path)
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f"did you mean {close[0]!r}?" if close else ("declared fields: " + ", ".join(allowed) if allowed else "it declares no fields")
        line, col = where.at(access.lineno, access.needle)
        owner = "" if where.rel == lin.prompt_files.get(prompt) else f" of prompt {prompt!r}"
        lin.add("PC204", where.rel, line, col,
                f"{shown!r}: the schema of input {access.path[0]!r}{owner} has no field {key!r}; {hint}")


def check_prompt(lin: Linter, info: PromptInfo) -> None:
    """Every template rule for one prompt (its messages and everything they include)."""
    from . import security

    prompt = info.prompt
    inputs: Mapping[str, Any] = prompt.inputs
    used = {e.input for e in prompt.messages if isinstance(e, HistorySlot)}
    walk = _Walk(info)
    for index, entry in enumerate(prompt.messages):
        if not isinstance(entry, Message):
            continue
        where = MessageWhere(info, index, entry)
        try:
            filename = f"{prompt.source}#messages[{index}]"  # the renderer's name: its compile finds the cache
            analysis = analyze(lin.compile_cache, entry.content, filename, filename)
        except TemplateSyntaxError as e:
            line, col = where.at(e.lineno)
            lin.add("PC201", info.rel, line, col, f"Jinja syntax error: {e.message}")
            info.broken = True
            continue
        for lineno, needle, message in analysis.unsafe:
            line, col = where.at(lineno, needle)
            lin.add("PC208", info.rel, line, col, message)
            info.broken = True
        if lin.on("PC402"):
            security.scan_pii(lin, info.rel, entry.content, where)
        for name, lineno in analysis.undeclared.items():
            used.add(name)
            if name in inputs or name in UNSAFE_CALLS:
                continue
            close = difflib.get_close_matches(name, list(inputs), n=1)
            hint = f"did you mean {close[0]!r}?" if close else "declare it under `inputs` or fix the name"
            line, col = where.at(lineno, name)
            lin.add("PC202", info.rel, line, col, f"{name!r} is not declared under `inputs`; {hint}")
            info.broken = True  # rendering the samples would only repeat it
        _report_accesses(lin, where, analysis, inputs, info)
        for inc in analysis.includes:
            start = len(walk.reached)
            _follow(lin, walk, inc, where, analysis.stored, [])
            for part, visible in walk.reached[start:]:
                assert part.analysis is not None
                for name, lineno in part.analysis.undeclared.items():
                    used.add(name)
                    if name in inputs or name in visible or name in UNSAFE_CALLS or name in INCLUDER_NAMES:
                        continue
                    info.broken = True
                    line, col = where.at(inc.lineno, "{%")
                    lin.add("PC202", info.rel, line, col,
                            f"{name!r} is used by {lin.source.display(part.rel)}:{lineno} but not declared under "
                            "`inputs`; declare it")
                _report_accesses(lin, part.where, part.analysis, inputs, info)
    if lin.on("PC203") and info.doc is not None:
        for name in inputs:
            if name not in used and name not in walk.maybe_used:
                mark = info.doc.mark(("inputs", name), key=True)
                lin.add("PC203", info.rel, mark.line, mark.col,
                        f"input {name!r} is declared but no message or partial uses it; remove it or use it")
