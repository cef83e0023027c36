"""The lint engine: which files to check, per-file caches, and turning raw findings into the report.

One :class:`Linter` checks one project at one version (the working tree or a
git revision). Every file is read, parsed and analysed at most once; each rule
family (``files``, ``template``, ``models``, ``security``, ``datasets``,
``samples``) adds raw findings through :meth:`Linter.add`, and :meth:`finish`
applies the selection, severities and suppressions. A broken file never stops
the others: every failure becomes a finding.
"""

from __future__ import annotations

import gc
import os
import posixpath
import re
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import CONFIG_NAME, DATASET_SUFFIX, PROMPT_SUFFIX, Config, parse_config
from ..errors import FileFormatError, PromptctlError
from ..project import Project, build_prompt
from ..schemas import schema_errors
from ..sources import Source, WorkTree, read_text
from ..yamlio import Document, loads
from .base import PromptInfo
from .rules import RULES, Finding, Selection, is_code_prefix, matches

_SUPPRESS = re.compile(r"#\s*promptctl:\s*ignore\[([^\]]*)\]")
_PATH_TOKEN = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")
#: Projects with at least this many prompts to lint use a second process (see Linter._fork).
PARALLEL_MIN_PROMPTS = 200
#: Parameters whose range PC302 checks (so schema range errors on them are not reported twice).
RANGE_PARAMS = ("temperature", "top_p", "max_tokens", "n", "presence_penalty", "frequency_penalty")


@dataclass(frozen=True, slots=True)
class LintOptions:
    """What the command line asked for."""

    select: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()


@dataclass(slots=True)
class LintReport:
    """The findings (sorted) and how many files were checked."""

    findings: list[Finding] = field(default_factory=list)
    files: int = 0

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == "warning")


def value_at(data: Any, json_path: str) -> Any:
    """The value at ``messages[1].role`` in ``data`` (None when absent)."""
    node = data
    if json_path in ("", "$"):
        return node
    for key, index in _PATH_TOKEN.findall(json_path):
        try:
            node = node[int(index)] if index else node[key]
        except (KeyError, IndexError, TypeError):
            return None
    return node


class Linter:
    """Checks one project at one version; see the module docstring."""

    def __init__(self, root: Path, source: Source, options: LintOptions | None = None) -> None:
        self.root = root
        self.source = source
        self.options = options or LintOptions()
        self.raw: dict[tuple[str, str, int, int, str], None] = {}  # ordered set of raw findings
        self.fixes: dict[tuple[str, str, int, int, str], tuple[str, str]] = {}  # raw finding -> its safe fix
        self.texts: dict[str, str | None] = {}
        self._read_errors: dict[str, FileFormatError] = {}
        self.docs: dict[str, Document | None] = {}
        self.prompt_ignores: dict[str, tuple[str, ...]] = {}
        self.checked: set[str] = set()
        self.config = Config(root=root)
        self.selection = Selection.build(select=self.options.select, extend_select=self.options.extend_select,
                                         ignore=self.options.ignore)
        self.project: Project | None = None
        self.prompt_files: dict[str, str] = {}  # name -> rel
        self.other_files: list[str] = []  # non-prompt files under the prompt root
        self.datasets: list[str] = []
        self.prompts: dict[str, PromptInfo] = {}
        self.partials: dict[str, Any] = {}  # name -> template.PartialEntry
        self.globs: dict[str, set[str]] = {}  # include glob -> variables of the partials it matches
        self.compile_cache: Any = None  # template.CompileCache, once the config is read
        self._uri_base: str | None = None

    # -- recording ---------------------------------------------------------------------------------

    def on(self, code: str) -> bool:
        """True when rule ``code`` runs (so expensive checks can be skipped)."""
        return self.selection.severity(code) is not None

    def add(self, code: str, rel: str, line: int | None, col: int | None, message: str, *,
            fix: tuple[str, str] | None = None) -> None:
        """A raw finding; ``fix``: (the text at line:col, its replacement), when it has one safe fix."""
        assert code in RULES, code
        key = (code, rel, line or 1, col or 1, message)
        self.raw[key] = None
        if fix is not None:
            self.fixes[key] = fix

    def add_error(self, code: str, rel: str, error: PromptctlError) -> None:
        """A finding from a promptctl error: its message and hint, at its line and column."""
        message = error.message + (f" ({error.hint})" if error.hint else "")
        self.add(code, rel, error.line, error.col, message, fix=getattr(error, "fix", None))

    # -- files ---------------------------------------------------------------------------------------

    def rel_under_prompts(self, name: str) -> str:
        root = self.config.prompts
        return name if root == "." else f"{root}/{name}"

    def name_under_prompts(self, rel: str) -> str:
        root = self.config.prompts
        return rel if root == "." else rel[len(root) + 1:]

    def text(self, rel: str, *, report: bool = True) -> str | None:
        """The text of ``rel`` (cached); an unreadable file is a PC101 finding (when ``report``)."""
        if rel not in self.texts:
            self.checked.add(rel)
            text: str | None = None
            try:
                text = read_text(self.source, rel)
            except FileFormatError as e:
                self._read_errors[rel] = e
            except OSError as e:  # a folder, a broken symlink
                self._read_errors[rel] = FileFormatError(f"cannot read file: {e.strerror or e}", line=1, col=1)
            self.texts[rel] = text
            if text is not None and "promptctl:" in text:
                self._check_suppression_codes(rel, text)
        if report and rel in self._read_errors:
            self.add_error("PC101", rel, self._read_errors[rel])  # findings are a set: once however often
        return self.texts[rel]

    def read_error(self, rel: str) -> FileFormatError | None:
        """Why ``rel`` could not be read (after :meth:`text` returned None without reporting)."""
        return self._read_errors.get(rel)

    def doc(self, rel: str) -> Document | None:
        """The YAML document of ``rel`` (cached); malformed YAML is a PC101 finding."""
        if rel in self.docs:
            return self.docs[rel]
        text = self.text(rel)
        doc = None
        if text is not None:
            try:
                doc = loads(text, path=self.source.display(rel))
            except FileFormatError as e:
                self.add_error("PC101", rel, e)
        self.docs[rel] = doc
        return doc

    def schema_check(self, rel: str, doc: Document, schema: str) -> None:
        """PC102 for every schema violation, except those a more specific rule reports."""
        for err in schema_errors(doc, schema):
            path = err.json_path
            leaf = path.rsplit(".", 1)[-1]
            value = value_at(doc.data, path)
            is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if leaf in RANGE_PARAMS and (path == f"params.{leaf}" or path.endswith(f".params.{leaf}")) and is_number:
                continue  # PC302
            if re.search(r"(?:assert|guards)\[\d+\]\.type$", path) and isinstance(value, str):
                continue  # PC503
            if path.startswith("lint.severity.") and value is False:
                continue  # YAML 1.1 reads an unquoted `off` as false: it means "off"
            self.add_error("PC102", rel, err)

    def _check_suppression_codes(self, rel: str, text: str) -> None:
        for m in _SUPPRESS.finditer(text):
            for token in m.group(1).split(","):
                if token.strip() and not is_code_prefix(token.strip()):
                    line = text.count("\n", 0, m.start()) + 1
                    col = m.start() - (text.rfind("\n", 0, m.start()) + 1) + 1
                    self.add("PC105", rel, line, col, f"suppression names no rule: {token.strip()!r}")

    def check_codes(self, rel: str, doc: Document, path: tuple[Any, ...], codes: Iterable[Any]) -> None:
        """PC105 for every entry of a list of rule codes (at ``path``) that matches no rule."""
        for i, code in enumerate(codes):
            if isinstance(code, str) and not is_code_prefix(code):
                mark = doc.mark(path + (i,))
                self.add("PC105", rel, mark.line, mark.col, f"{code!r} matches no lint rule; it suppresses nothing")

    def real(self, rel: str) -> str:
        """``rel`` with symlinks followed, as a project-relative path (or an absolute one outside)."""
        resolve = getattr(self.source, "_resolve", None)  # GitRevision follows symlinks stored in the tree
        if resolve is not None:
            return str(resolve(rel))
        root = getattr(self.source, "root", self.root)
        real = os.path.realpath(os.path.join(root, *rel.split("/")))
        base = os.path.realpath(root)
        return os.path.relpath(real, base).replace(os.sep, "/") if real.startswith(base + os.sep) else real

    # -- the project -----------------------------------------------------------------------------------

    def load_config(self) -> None:
        """Read promptctl.yaml; a broken one is reported and the defaults are used for the rest."""
        doc = self.doc(CONFIG_NAME)
        if doc is not None:
            if not isinstance(doc.data, dict):
                self.add("PC102", CONFIG_NAME, 1, 1, "promptctl.yaml must be a mapping with at least `promptctl: 1`")
            else:
                self.schema_check(CONFIG_NAME, doc, "project")
                try:
                    self.config = parse_config(doc.data, self.root)
                except PromptctlError as e:
                    self.add_error("PC102", CONFIG_NAME, e)
                except (KeyError, TypeError, AttributeError, ValueError):
                    pass  # schema violations already reported; lint the rest with the defaults
                lint = doc.data.get("lint")
                if isinstance(lint, dict):
                    if isinstance(lint.get("ignore"), list):
                        self.check_codes(CONFIG_NAME, doc, ("lint", "ignore"), lint["ignore"])
                    if isinstance(lint.get("severity"), dict):
                        for key in lint["severity"]:
                            if not is_code_prefix(key):
                                mark = doc.mark(("lint", "severity", key), key=True)
                                self.add("PC105", CONFIG_NAME, mark.line, mark.col,
                                         f"{key!r} matches no lint rule; its severity applies to nothing")
        self.selection = Selection.build(
            select=self.options.select,
            extend_select=self.options.extend_select,
            ignore=self.options.ignore,
            config_ignore=[c for c in self.config.lint_ignore if isinstance(c, str)],
            config_severity={
                k: "off" if v is False else v for k, v in self.config.lint_severity.items() if isinstance(v, (str, bool))
            },
        )
        self.project = Project(self.config, self.source)
        from .template import CompileCache

        self.compile_cache = CompileCache(self.project.renderer.env)

    def discover(self) -> None:
        """Every prompt, other file under the prompt root, and dataset."""
        try:
            files = self.source.walk(self.config.prompts)
        except (FileNotFoundError, NotADirectoryError):
            files = []
        try:
            evals = self.source.walk(self.config.evals)
        except (FileNotFoundError, NotADirectoryError):
            evals = []
        self.datasets = [r for r in evals if r.endswith(DATASET_SUFFIX)]
        # when the prompt root holds the config or the evals (`prompts: .`), those are not partials
        not_partials = {CONFIG_NAME, *evals}
        for rel in files:
            if rel.endswith(PROMPT_SUFFIX):
                self.prompt_files[self.name_under_prompts(rel)[: -len(PROMPT_SUFFIX)]] = rel
            elif rel not in not_partials and not rel.endswith(DATASET_SUFFIX):
                self.other_files.append(rel)

    def prompt_info(self, name: str) -> PromptInfo | None:
        """Load prompt ``name`` (document, schema, Prompt) once; None for an unknown name."""
        if name in self.prompts:
            return self.prompts[name]
        rel = self.prompt_files.get(name)
        if rel is None:
            return None
        info = PromptInfo(name, rel)
        self.prompts[name] = info
        doc = info.doc = self.doc(rel)
        if doc is None:
            return info
        if not isinstance(doc.data, dict):
            self.add("PC102", rel, 1, 1, "a prompt file must be a mapping with at least `messages`")
            return info
        self.schema_check(rel, doc, "prompt")
        lint = doc.data.get("lint")
        if isinstance(lint, dict) and isinstance(lint.get("ignore"), list):
            codes = tuple(c for c in lint["ignore"] if isinstance(c, str))
            self.prompt_ignores[rel] = codes
            self.check_codes(rel, doc, ("lint", "ignore"), codes)
        info.prompt = self._build(info, doc)
        return info

    def _build(self, info: PromptInfo, doc: Document) -> Any:
        """The Prompt of a (possibly invalid) document, or None when its shape is too broken.

        The schema violations are already reported; here the document is patched
        just enough for the other rules to run: a message of the wrong shape
        becomes an empty one (so the others keep their positions), fields of the
        wrong type are dropped, and samples are skipped unless all are well formed.
        """
        from dataclasses import replace

        data = dict(doc.data)
        messages = data.get("messages")
        inputs = data.get("inputs")
        if not isinstance(messages, list) or not messages or not isinstance(inputs, (dict, type(None))):
            return None
        declared = set(inputs or {})
        patched_inputs = dict(inputs or {})
        patched_messages: list[Any] = []
        for i, entry in enumerate(messages):
            if isinstance(entry, dict) and isinstance(entry.get("history"), str):
                target = entry["history"]
                if target not in declared:
                    mark = doc.mark(("messages", i, "history"))
                    self.add("PC202", info.rel, mark.line, mark.col,
                             f"history splice names {target!r}, which is not declared under `inputs` "
                             f"(add `{target}: {{type: array, default: []}}`)")
                    patched_inputs[target] = {"type": "array", "default": []}
                    declared.add(target)
                patched_messages.append(entry)
            elif isinstance(entry, dict) and isinstance(entry.get("content"), str):
                patched_messages.append({**entry, "role": str(entry.get("role"))})
            else:
                patched_messages.append({"role": "user", "content": ""})
        data.update(messages=patched_messages, inputs=patched_inputs)
        for key, kind in (("params", dict), ("output", dict), ("fallbacks", list), ("tags", list),
                          ("owners", list), ("samples", list), ("lint", dict), ("guards", list), ("observe", dict)):
            if key in data and not isinstance(data[key], kind):
                data[key] = kind()
        data["guards"] = [g for g in data.get("guards") or () if isinstance(g, dict)]
        if not all(isinstance(s, dict) and isinstance(s.get("name"), str) and isinstance(s.get("inputs", {}), dict)
                   for s in data.get("samples") or ()):
            data["samples"] = []
        try:
            return build_prompt(replace(doc, data=data), info.name, self.config)
        except (PromptctlError, KeyError, TypeError, AttributeError, ValueError):
            return None

    def dataset_prompt(self, rel: str) -> str | None:
        doc = self.doc(rel)
        if doc is not None and isinstance(doc.data, dict) and isinstance(doc.data.get("prompt"), str):
            return str(doc.data["prompt"])
        return None

    # -- running ---------------------------------------------------------------------------------------

    def run(self, targets: Iterable[str] | None = None) -> LintReport:
        """Lint the whole project, or (``targets``: project-relative paths) those files and what they affect."""
        from . import datasets, files, models, security

        self.load_config()
        self.discover()
        graph = files.IncludeGraph(self)
        report: set[str] | None = None
        prompt_names = list(self.prompt_files)
        dataset_rels = list(self.datasets)
        others = list(self.other_files)
        if targets is not None:
            wanted = self._expand(targets)
            if CONFIG_NAME not in wanted:
                changed = {self.name_under_prompts(r) for r in wanted.intersection(self.other_files)}
                prompt_names = [n for n, rel in self.prompt_files.items() if rel in wanted or graph.reaches(rel, changed)]
                names = set(prompt_names)
                dataset_rels = [
                    r for r in self.datasets
                    if r in wanted or self.dataset_prompt(r) in names or wanted & set(datasets.case_file_rels(self, r))
                ]
                others = [r for r in self.other_files if r in wanted]
                report = wanted | {self.prompt_files[n] for n in prompt_names} | set(dataset_rels)
                report |= {c for r in dataset_rels for c in datasets.case_file_rels(self, r)}
        if report is None or CONFIG_NAME in report:
            models.check_config(self)
            if self.text(CONFIG_NAME) is not None:
                security.scan_file(self, CONFIG_NAME)
        files.check_names(self)
        mine, child = self._fork(sorted(prompt_names))
        for name in mine:
            self.lint_prompt(name)
        self._join(child)
        for rel in others:
            files.check_other_file(self, rel, graph)
        tested = {p for r in self.datasets if (p := self.dataset_prompt(r))}
        for rel in dataset_rels:
            datasets.check_dataset(self, rel)
        # a bundle (lint --ref v3, a channel) carries prompts and no datasets: "untested" would be said of all
        for name in prompt_names if getattr(self.source, "has_datasets", True) else ():
            if name not in tested:
                self.add("PC506", self.prompt_files[name], 1, 1,
                         f"prompt {name!r} has no dataset; add an {self.config.evals}/*.eval.yaml with `prompt: {name}`")
        return self.finish(report)

    def lint_prompt(self, name: str) -> None:
        """Every rule for one prompt file."""
        from . import datasets, models, samples, security, template

        info = self.prompt_info(name)
        security.scan_file(self, self.prompt_files[name])
        if info is None or info.prompt is None:
            return
        template.check_prompt(self, info)
        models.check_prompt(self, info)
        if info.doc is not None:
            datasets.check_guards(self, info.rel, info.doc)
        if not info.broken:
            samples.check_samples(self, info)

    # -- two processes for large projects -------------------------------------------------------------

    def _fork(self, names: list[str]) -> tuple[list[str], tuple[int, int, list[str]] | None]:
        """Hand every other prompt to a forked child when the project is large and a second core is free.

        Only for the working tree (a git revision's reader is a pipe the two
        processes cannot share). The child's raw findings come back pickled
        over a pipe; if anything goes wrong there, the parent lints its share
        itself. ``PROMPTCTL_LINT_JOBS=1`` turns this off.
        """
        jobs = os.environ.get("PROMPTCTL_LINT_JOBS", "")
        wanted = int(jobs) if jobs.isdigit() else min(2, os.cpu_count() or 1)
        threshold = 1 if jobs.isdigit() else PARALLEL_MIN_PROMPTS
        if (
            wanted < 2
            or len(names) < max(threshold, 2)
            or not hasattr(os, "fork")
            or not isinstance(self.source, WorkTree)
            or threading.active_count() > 1  # forking a threaded program can deadlock the child
        ):
            return names, None
        import pickle

        mine, theirs = names[0::2], names[1::2]
        read, write = os.pipe()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        pid = os.fork()
        if pid == 0:  # the child: lint its share, send the findings, exit without cleanup
            code = 1
            try:
                os.close(read)
                for name in theirs:
                    self.lint_prompt(name)
                texts = {r: t for r, t in self.texts.items() if t and "promptctl:" in t}
                payload = pickle.dumps((list(self.raw), self.fixes, self.prompt_ignores, self.checked, texts,
                                        self._read_errors))
                with os.fdopen(write, "wb") as fh:
                    fh.write(payload)
                code = 0
            finally:
                os._exit(code)
        os.close(write)
        return mine, (pid, read, theirs)

    def _join(self, child: tuple[int, int, list[str]] | None) -> None:
        if child is None:
            return
        import pickle

        pid, read, theirs = child
        with os.fdopen(read, "rb") as fh:
            payload = fh.read()
        _, status = os.waitpid(pid, 0)
        if status != 0 or not payload:
            for name in theirs:  # the child failed: do its share here
                self.lint_prompt(name)
            return
        raw, fixes, ignores, checked, texts, read_errors = pickle.loads(payload)
        for key in raw:
            self.raw[tuple(key)] = None
        self.fixes.update(fixes)
        self.prompt_ignores.update(ignores)
        self.checked |= checked
        for rel, text in texts.items():
            self.texts.setdefault(rel, text)
        for rel, error in read_errors.items():
            self._read_errors.setdefault(rel, error)

    def _expand(self, targets: Iterable[str]) -> set[str]:
        """Targets as files: a folder stands for every file lint knows under it."""
        known = {CONFIG_NAME, *self.prompt_files.values(), *self.other_files}
        try:
            known.update(self.source.walk(self.config.evals))
        except (FileNotFoundError, NotADirectoryError):
            pass
        out: set[str] = set()
        for t in targets:
            t = t.strip("/")
            if t in ("", "."):
                out |= known
            elif t in known:
                out.add(t)
            else:
                inside = {k for k in known if k.startswith(t + "/")}
                out |= inside or {t}
        return out

    def release(self) -> None:
        """Drop the caches now: they hold reference cycles (the environment and its hooks) that only
        the cyclic GC, which lint keeps off, could otherwise free."""
        if self.compile_cache is not None:
            self.compile_cache.close()
        for cache in (self.texts, self.docs, self.prompts, self.partials, self.globs, self.raw, self.fixes):
            cache.clear()
        self.project = None

    # -- the report ------------------------------------------------------------------------------------

    def uri(self, rel: str) -> str:
        """``rel`` relative to the repository root (or to the current folder outside git)."""
        prefix = getattr(self.source, "prefix", None)
        if isinstance(prefix, str):  # a git revision knows where the project sits in the repository
            return f"{prefix}/{rel}" if prefix else rel
        if self._uri_base is None:
            base = os.getcwd()
            for folder in (self.root, *self.root.parents):
                if (folder / ".git").exists():
                    base = str(folder)
                    break
            self._uri_base = base
        path = os.path.join(self.root, *rel.split("/"))
        return os.path.relpath(path, self._uri_base).replace(os.sep, "/")

    def suppressed(self, rel: str, line: int, code: str) -> bool:
        """True when line ``line`` of ``rel`` carries ``promptctl: ignore[...]`` naming ``code``."""
        text = self.texts.get(rel)
        if not text or "promptctl:" not in text:
            return False
        lines = text.splitlines()
        if not 0 < line <= len(lines):
            return False
        return any(matches(code, m.group(1).split(",")) for m in _SUPPRESS.finditer(lines[line - 1]))

    def finish(self, report: set[str] | None) -> LintReport:
        findings = []
        for key in self.raw:
            code, rel, line, col, message = key
            if report is not None and rel not in report:
                continue
            severity = self.selection.severity(code)
            if severity is None:
                continue
            if rel in self.prompt_ignores and matches(code, self.prompt_ignores[rel]):
                continue
            if self.suppressed(rel, line, code):
                continue
            findings.append(
                Finding(code, severity, self.source.display(rel), line, col, message, RULES[code].name, self.uri(rel),
                        self.fixes.get(key))
            )
        findings.sort(key=lambda f: (f.path, f.line, f.col, f.code, f.message))
        checked = self.checked if report is None else self.checked & report
        return LintReport(findings, len(checked))


def lint_project(
    root: Path,
    source: Source,
    *,
    paths: Iterable[str] | None = None,
    options: LintOptions | None = None,
) -> LintReport:
    """Lint the project at ``root`` as read from ``source``.

    ``paths`` (project-relative POSIX paths) limits the report to those files
    and the files they affect: a partial's includers, a prompt's datasets, a
    case file's dataset; promptctl.yaml affects everything.
    """
    # Lint allocates many small objects that live until the end; the cyclic GC would scan them
    # again and again (a quarter of the run time on 1,000 prompts) and find nothing to free.
    enabled = gc.isenabled()
    gc.disable()
    linter = Linter(root, source, options)
    try:
        return linter.run(None if paths is None else list(paths))
    finally:
        linter.release()
        if enabled:
            gc.enable()


def merge_reports(reports: Iterable[LintReport]) -> LintReport:
    out = LintReport()
    for r in reports:
        out.findings.extend(r.findings)
        out.files += r.files
    return out


def posix_rel(path: str, root: Path) -> str | None:
    """``path`` (absolute) relative to ``root`` as a POSIX path, or None when it is outside."""
    real_dir = os.path.realpath(os.path.dirname(path))
    full = os.path.join(real_dir, os.path.basename(path))
    base = os.path.realpath(root)
    if full == base:
        return ""
    if not full.startswith(base + os.sep):
        return None
    return posixpath.normpath(os.path.relpath(full, base).replace(os.sep, "/"))


def run_lint(
    paths: Iterable[str] | None,
    *,
    project: str | os.PathLike[str] | None = None,
    ref: str | None = None,
    options: LintOptions | None = None,
) -> LintReport:
    """What ``promptctl lint [PATHS...]`` does.

    Without paths: the project at ``project`` (or found from the current
    folder). With paths (relative to the current folder, as pre-commit passes
    them): each path is linted in the project that holds it (the nearest
    promptctl.yaml above it, or ``project`` when given), together with what it
    affects; paths in no project are skipped.
    """
    from ..config import find_root, project_root
    from ..errors import ProjectNotFoundError, UsageError
    from ..project import resolve_source

    paths = list(paths or ())
    if not paths:
        only = project_root(project)
        return lint_project(only, resolve_source(only, ref), options=options)
    fixed = project_root(project) if project is not None or ref is not None else None
    groups: dict[Path, list[str]] = {}
    roots: dict[str, Path | None] = {}
    for raw in paths:
        full = os.path.abspath(raw)
        if ref is None and not os.path.lexists(full):
            raise UsageError(f"{raw}: no such file or folder", hint="pass files of the project (or no paths at all)")
        folder = full if os.path.isdir(full) else os.path.dirname(full)
        root: Path | None = fixed
        if root is None:
            if folder not in roots:
                try:
                    roots[folder] = find_root(folder)
                except ProjectNotFoundError:
                    roots[folder] = None
            root = roots[folder]
        if root is None:
            continue
        rel = posix_rel(full, root)
        if rel is not None:
            groups.setdefault(root, []).append(rel or ".")
    return merge_reports(
        lint_project(root, resolve_source(root, ref), paths=rels, options=options) for root, rels in groups.items()
    )
