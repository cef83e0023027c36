"""A project at one version: its config, prompts, partials and datasets, loaded from a Source."""

from __future__ import annotations

import csv
import difflib
import io
import json
import os
import posixpath
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from .config import CONFIG_NAME, DATASET_SUFFIX, PROMPT_SUFFIX, Config, parse_config, project_root
from .errors import ConfigError, FileFormatError, IncludeError, NotFoundError, SchemaError, UsageError
from .inputs import normalize_inputs
from .model import Case, Dataset, Entry, HistorySlot, Message, Prompt, Sample, content_hash
from .schemas import validate
from .sources import Source, WorkTree, load_yaml, read_text
from .templates import Renderer
from .yamlio import Document

VERSION_RE = re.compile(r"v[0-9]+")
CASE_KEYS = {"id", "description", "inputs", "golden", "assert", "tags", "threshold", "reviewed", "transform"}
#: CSV columns that are case metadata (as ``id``, ``golden`` and ``description``), not inputs.
CSV_REVIEWED = ("reviewed_by", "reviewed_at")


def open_project(project: str | os.PathLike[str] | None = None, *, ref: str | None = None) -> Project:
    """The project at ``project`` (default: found from the cwd), at git revision ``ref`` or in the working tree."""
    root = project_root(project)
    return load_project(resolve_source(root, ref), root)


def git_revision(root: Path, version: str) -> str:
    """The git revision a version name stands for, for commands that read history (``promptctl log``):
    ``vN`` and channels are the commit their bundle was published from (else the tag
    ``<tag_prefix>vN``); anything else is a git revision as it is."""
    from .registry.resolve import registry_source

    found, _ = registry_source(root, version)
    if found is not None:
        commit = (found.bundle.get("git") or {}).get("commit")
        if not commit:
            raise UsageError(f"{version} names no commit: its bundle was published without one",
                             hint="give the git revision it was made from instead")
        return str(commit)
    if VERSION_RE.fullmatch(version):
        return f"refs/tags/{_tag_prefix(root)}{version}"
    return version


def _tag_prefix(root: Path) -> str:
    """The prefix of version tags (``tag_prefix`` in promptctl.yaml, default ``prompts/``)."""
    try:
        data = load_yaml(WorkTree(root), CONFIG_NAME).data
    except FileFormatError:
        return "prompts/"
    return data["tag_prefix"] if isinstance(data, dict) and isinstance(data.get("tag_prefix"), str) else "prompts/"


def resolve_source(root: Path, version: str | None) -> Source:
    """The files of the project at ``version``.

    Names resolve in this order: none = the working tree; ``vN`` = published bundle N
    from the registry (when the registry can be read and has it), else the commit tagged
    ``<tag_prefix>vN``; a channel name (``production``) = the bundle its head points at;
    any other git revision (branch, tag, sha, HEAD~1).
    """
    if version is None:
        return WorkTree(root)
    from .registry.resolve import registry_source
    from .sources import open_git_revision

    found, why = registry_source(root, version)
    if found is not None:
        return found  # type: ignore[no-any-return]
    if VERSION_RE.fullmatch(version):
        prefix = _tag_prefix(root)
        try:
            return open_git_revision(root, f"refs/tags/{prefix}{version}", label=version)
        except UsageError:
            raise UsageError(
                f"no published version {version!r}: "
                + (f"{why}, and " if why else "")
                + f"the git tag {prefix}{version} does not exist",
                hint="list published versions with `promptctl versions` or `git tag -l '" + prefix + "v*'`",
            ) from None
    try:
        return open_git_revision(root, version)
    except UsageError as e:
        if why:  # a near-miss of a channel name, or a registry that could not be read
            e.message = f"{e.message} ({why})"
        raise


def load_project(source: Source, root: Path) -> Project:
    """Read promptctl.yaml from ``source`` and return the project (prompts load on demand)."""
    doc = load_yaml(source, CONFIG_NAME)
    if not isinstance(doc.data, dict):
        raise SchemaError(
            "promptctl.yaml must be a mapping with at least `promptctl: 1`",
            path=doc.path,
            line=1,
            col=1,
            hint="see `promptctl schema project`",
        )
    validate(doc, "project")
    for key in ("prompts", "evals"):
        value = doc.data.get(key)
        if isinstance(value, str) and (value.startswith("/") or ".." in value.replace("\\", "/").split("/")):
            mark = doc.mark((key,))
            raise ConfigError(
                f"{key}: {value!r} must be a folder inside the project",
                path=doc.path,
                line=mark.line,
                col=mark.col,
                hint="use a relative path without '..'",
            )
    return Project(parse_config(doc.data, root), source)


class Project:
    """The prompts, partials and datasets of one project at one version."""

    def __init__(self, config: Config, source: Source) -> None:
        self.config = config
        self.source = source
        self.renderer = Renderer(self._read_partial, config.render)
        self._prompts: dict[str, Prompt] = {}
        self._names: dict[str, str] | None = None

    # -- prompts -------------------------------------------------------------------------------

    def _prompt_rel(self, name: str) -> str:
        root = self.config.prompts
        return f"{name}{PROMPT_SUFFIX}" if root == "." else f"{root}/{name}{PROMPT_SUFFIX}"

    def prompt_files(self) -> dict[str, str]:
        """Prompt name -> project-relative path of its file, for every prompt."""
        if self._names is None:
            root = self.config.prompts
            names = {}
            for rel in self.source.walk(root):
                if rel.endswith(PROMPT_SUFFIX):
                    under = rel if root == "." else rel[len(root) + 1:]
                    names[under[: -len(PROMPT_SUFFIX)]] = rel
            self._names = names
        return self._names

    def prompt_names(self) -> list[str]:
        return sorted(self.prompt_files())

    def get_prompt(self, name: str) -> Prompt:
        """Load prompt ``name``; an unknown name suggests the closest ones."""
        cached = self._prompts.get(name)
        if cached is not None:
            return cached
        files = self.prompt_files()
        rel = files.get(name)
        if rel is None:
            names = sorted(files)
            raise NotFoundError(
                f"no prompt named {name!r} in {self.source.display(self.config.prompts)}",
                suggestions=difflib.get_close_matches(name, names, n=3, cutoff=0.5)
                or [n for n in names if name in n][:3],
                hint=("prompts: " + ", ".join(names[:10]) + (", …" if len(names) > 10 else ""))
                if names
                else "create prompts as <prompt root>/<name>.prompt.yaml",
            )
        prompt = self.load_prompt_file(rel, name)
        self._prompts[name] = prompt
        return prompt

    def prompts(self) -> list[Prompt]:
        """Every prompt, sorted by name."""
        return [self.get_prompt(n) for n in self.prompt_names()]

    def load_prompt_file(self, rel: str, name: str) -> Prompt:
        """Parse, validate and resolve one prompt file."""
        doc = load_yaml(self.source, rel)
        if not isinstance(doc.data, dict):
            raise SchemaError(
                "a prompt file must be a mapping with at least `messages`",
                path=doc.path,
                line=1,
                col=1,
                hint="see `promptctl schema prompt`",
            )
        validate(doc, "prompt")
        prompt = build_prompt(doc, name, self.config)
        partials = self.renderer.collect_partials(prompt)
        prompt = replace(prompt, partials=partials)
        alias = self.config.models.get(prompt.model) if prompt.model else None
        spec = None if alias is None else {"model": alias.model, "api_base": alias.api_base, "params": alias.params}
        return replace(prompt, hash=content_hash(prompt.identity(spec)))

    def _read_partial(self, name: str) -> tuple[str, str]:
        root = self.config.prompts
        rel = name if root == "." else f"{root}/{name}"
        self.source.confine(rel, root)
        try:
            return read_text(self.source, rel), self.source.display(rel)
        except FileFormatError as e:
            if e.message == "file not found":
                # jinja's `ignore missing` and include lists need TemplateNotFound;
                # the renderer turns it into a located IncludeError otherwise.
                from .sandbox import PartialNotFound  # (only jinja reads partials: it is loaded)

                raise PartialNotFound(name, self.source.display(rel)) from None
            raise

    def render(self, name: str, values: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Render prompt ``name`` with ``values`` (validated, defaults applied)."""
        return self.renderer.render(self.get_prompt(name), values)

    def sample_inputs(self, name: str, sample: str) -> dict[str, Any]:
        """The inputs of sample ``sample`` of prompt ``name``."""
        prompt = self.get_prompt(name)
        found = prompt.sample(sample)
        if found is None:
            names = [s.name for s in prompt.samples]
            raise NotFoundError(
                f"prompt {name!r} has no sample named {sample!r}",
                suggestions=difflib.get_close_matches(sample, names, n=3, cutoff=0.4),
                hint=None if names else "add one under `samples:` in " + prompt.source,
            )
        return dict(found.inputs)

    def ref_of(self, prompt: Prompt) -> str:
        """The prompt's ref as the runtime spells it: ``support/reply@v3:3f9a2c1`` when the project is
        read from a published version (``--ref v3``, or a channel serving v3), else ``support/reply@3f9a2c1``."""
        bundle = getattr(self.source, "bundle", None)
        version = bundle.get("version") if isinstance(bundle, Mapping) else None
        return f"{prompt.name}@v{version}:{prompt.short_hash}" if version is not None else prompt.ref

    def render_result(self, name: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """What ``promptctl render --format json`` prints for prompt ``name``."""
        prompt = self.get_prompt(name)
        messages = self.renderer.render(prompt, values)
        alias = self.config.resolve_model(prompt.model) if prompt.model else None
        return {
            "prompt": prompt.name,
            "ref": self.ref_of(prompt),
            "model": prompt.model,  # as the prompt names it (an alias, or a model string)
            "resolved_model": alias.model if alias else None,  # what the runtime calls: the alias resolved
            "api_base": alias.api_base if alias else None,
            "params": dict(prompt.params),
            "fallbacks": list(prompt.fallbacks),
            "messages": messages,
            "output": dict(prompt.output),
        }

    # -- datasets ------------------------------------------------------------------------------

    def dataset_files(self) -> list[str]:
        root = self.config.evals
        try:
            return [r for r in self.source.walk(root) if r.endswith(DATASET_SUFFIX)]
        except FileNotFoundError:
            return []

    def datasets(self) -> list[Dataset]:
        """Every dataset of the project, with file-backed cases loaded."""
        return [self.load_dataset(rel) for rel in self.dataset_files()]

    def load_dataset(self, rel: str) -> Dataset:
        doc = load_yaml(self.source, rel)
        if not isinstance(doc.data, dict):
            raise SchemaError(
                "a dataset must be a mapping with `prompt` and `cases`",
                path=doc.path,
                line=1,
                col=1,
                hint="see `promptctl schema dataset`",
            )
        validate(doc, "dataset")
        data = doc.data
        defaults = data.get("defaults") or {}
        default_inputs = defaults.get("inputs") or {}
        default_asserts = tuple(defaults.get("assert") or ())
        cases: list[Case] = []
        for i, raw in enumerate(data["cases"]):
            line = doc.mark(("cases", i)).line
            if "file" in raw:
                extra = tuple(raw.get("assert") or ())
                file_cases = self._case_file(rel, raw["file"], doc, i)
                if not default_inputs and not extra:  # nothing to add: the cases as the file has them
                    cases.extend(file_cases)
                    continue
                for case in file_cases:
                    cases.append(
                        replace(case, inputs={**default_inputs, **case.inputs}, asserts=extra + case.asserts)
                    )
                continue
            cases.append(
                Case(
                    id=str(raw["id"]),
                    inputs={**default_inputs, **(raw.get("inputs") or {})},
                    golden=raw.get("golden"),
                    asserts=tuple(raw.get("assert") or ()),
                    description=raw.get("description"),
                    tags=tuple(raw.get("tags") or ()),
                    source=doc.path,
                    line=line,
                    threshold=raw.get("threshold"),
                    reviewed=raw.get("reviewed"),
                    transform=raw.get("transform"),
                )
            )
        seen: dict[str, Case] = {}
        for case in cases:
            if case.id in seen:
                raise FileFormatError(
                    f"duplicate case id {case.id!r} (first at {seen[case.id].source}:{seen[case.id].line})",
                    path=case.source,
                    line=case.line,
                    hint="give every case a unique id",
                )
            seen[case.id] = case
        return Dataset(
            path=doc.path,
            prompt=data["prompt"],
            cases=tuple(cases),
            threshold=float(data.get("threshold", 1.0)),
            description=data.get("description"),
            default_asserts=default_asserts,
            default_transform=defaults.get("transform"),
        )

    def _case_file(self, dataset_rel: str, file: str, doc: Document, index: int) -> list[Case]:
        mark = doc.mark(("cases", index, "file"))
        rel = posixpath.normpath(posixpath.join(posixpath.dirname(dataset_rel), file))
        if file.startswith("/") or rel.startswith("../") or rel == "..":
            raise FileFormatError(
                f"case file {file!r} is outside the project",
                path=doc.path,
                line=mark.line,
                col=mark.col,
                hint="case files are paths relative to the dataset, inside the project",
            )
        try:
            self.source.confine(rel, "")
        except IncludeError:
            raise FileFormatError(
                f"case file {file!r} resolves outside the project (through a symlink)",
                path=doc.path,
                line=mark.line,
                col=mark.col,
                hint="case files must be real files inside the project",
            ) from None
        try:
            text = read_text(self.source, rel)
        except FileFormatError as e:
            raise FileFormatError(
                f"case file {file!r}: {e.message}", path=doc.path, line=mark.line, col=mark.col
            ) from None
        shown = self.source.display(rel)
        if rel.endswith(".csv"):
            return _csv_cases(text, shown)
        return _jsonl_cases(text, shown)


def _jsonl_cases(text: str, shown: str) -> list[Case]:
    decoder = json.JSONDecoder(object_pairs_hook=_unique_keys, parse_constant=_no_constant)  # one for every line
    cases = []
    rows: list[tuple[dict[str, Any], int]] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            if line.startswith("\ufeff"):  # as json.loads says it
                raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", line, 0)
            row = decoder.decode(line)
        except json.JSONDecodeError as e:
            raise FileFormatError(f"invalid JSON: {e.msg}", path=shown, line=n, col=e.colno) from None
        except _DuplicateKey as e:
            raise FileFormatError(f"duplicate key {e.args[0]!r}", path=shown, line=n, col=1,
                                  hint="remove one of them (as in YAML, a key may appear once)") from None
        except RecursionError:
            raise FileFormatError("JSON nested too deeply", path=shown, line=n, col=1,
                                  hint="cases are flat objects; nest at most a few levels") from None
        except ValueError as e:  # e.g. an integer of thousands of digits, NaN/Infinity
            raise FileFormatError(f"invalid JSON: {e}", path=shown, line=n, col=1) from None
        if not isinstance(row, dict):
            raise FileFormatError("each line must be a JSON object (one case)", path=shown, line=n, col=1)
        unknown = sorted(set(row) - CASE_KEYS)
        if unknown:
            raise FileFormatError(
                f"unknown case field {unknown[0]!r}",
                path=shown,
                line=n,
                col=1,
                hint="case fields are " + ", ".join(sorted(CASE_KEYS)),
            )
        rows.append((row, n))
        inputs = row.get("inputs") or {}
        asserts = row.get("assert") or []
        cases.append(
            Case(
                id=str(row.get("id", f"{shown.rsplit('/', 1)[-1]}:{n}")),
                inputs=inputs,
                golden=row.get("golden"),
                asserts=tuple(asserts),
                description=row.get("description"),
                tags=tuple(row.get("tags") or ()),
                source=shown,
                line=n,
                threshold=row.get("threshold"),
                reviewed=row.get("reviewed"),
                transform=row.get("transform"),
            )
        )
    _check_case_rows(rows, shown)
    return cases


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _check_case_rows(rows: list[tuple[dict[str, Any], int]], shown: str) -> None:
    """Check every JSONL case at once (one call of the compiled check); the first bad row is then found
    and located on its own."""
    from .schemas import Invalid, definition_check, is_valid

    case = definition_check("dataset", "case")
    if case is not None:  # a row is valid in `cases` as a case (a row has no `file`: never a fileRef)
        try:
            for row, _ in rows:
                case({"id": "row", **row})
            return
        except Invalid:
            pass
    elif is_valid({"prompt": "p", "cases": [{"id": "row", **row} for row, _ in rows]}, "dataset"):
        return
    for row, n in rows:
        _check_case_row(row, shown, n)


def _check_case_row(row: dict[str, Any], shown: str, n: int) -> None:
    """Check one JSONL case against the dataset schema's case definition (as an inline case)."""
    from .schemas import is_valid, schema_errors

    wrapped = {"prompt": "p", "cases": [{"id": "row", **row}]}
    if is_valid(wrapped, "dataset"):
        return
    problems = schema_errors(Document(path=shown, data=wrapped, text=""), "dataset")
    message = problems[0].message.replace("cases[0].", "") if problems else "invalid case"
    if message.startswith("cases[0]: "):
        message = message[len("cases[0]: "):]
    raise FileFormatError(message, path=shown, line=n, col=1, hint="see `promptctl schema dataset` (a case)")


def _csv_cases(text: str, shown: str) -> list[Case]:
    reader = csv.DictReader(io.StringIO(text))
    reader.fieldnames  # noqa: B018 - reads the header row, so line_num counts from it
    cases = []
    while True:
        n = reader.line_num + 1  # where the next row starts (a quoted cell may span lines)
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:  # e.g. a field over the csv module's 128 KiB limit
            raise FileFormatError(f"invalid CSV: {e}", path=shown, line=n, col=1,
                                  hint="keep each cell under 128 KiB; put long texts in a JSONL dataset") from None
        if None in row:
            raise FileFormatError("row has more cells than the header", path=shown, line=n, col=1)
        case_id = row.pop("id", None) or f"{shown.rsplit('/', 1)[-1]}:{n}"
        golden = row.pop("golden", None) or None
        description = row.pop("description", None) or None
        by, at = (row.pop(k, None) or None for k in CSV_REVIEWED)
        cases.append(
            Case(
                id=case_id,
                inputs={k: v for k, v in row.items() if v is not None},
                golden=golden,
                description=description,
                source=shown,
                line=n,
                reviewed={k: v for k, v in (("by", by), ("at", at)) if v} if by or at else None,
            )
        )
    return cases


def build_prompt(doc: Document, name: str, config: Config) -> Prompt:
    """A :class:`Prompt` from a validated prompt document, with project defaults applied."""
    data = doc.data
    inputs = normalize_inputs(data.get("inputs"))
    entries: list[Entry] = []
    for i, raw in enumerate(data["messages"]):
        if "history" in raw:
            mark = doc.mark(("messages", i, "history"))
            if raw["history"] not in inputs:
                raise SchemaError(
                    f"history input {raw['history']!r} is not declared under `inputs`",
                    path=doc.path,
                    line=mark.line,
                    col=mark.col,
                    hint=f"add `{raw['history']}: {{type: array, default: []}}` to inputs",
                )
            entries.append(HistorySlot(input=raw["history"], line=mark.line, col=mark.col))
            continue
        mark = doc.mark(("messages", i, "content"))
        block = mark.style in ("|", ">")
        line, col = doc.template_position(("messages", i, "content"), 1)
        if not block and mark.style in ("'", '"'):
            col += 1  # past the opening quote
        entries.append(
            Message(role=raw["role"], content=raw["content"], name=raw.get("name"), line=line, col=col, block=block)
        )
    output = {"format": "text", **(data.get("output") or {})}
    return Prompt(
        name=name,
        source=doc.path,
        messages=tuple(entries),
        inputs=inputs,
        model=data.get("model") or config.default_model,
        params={**config.default_params, **(data.get("params") or {})},
        fallbacks=tuple(data.get("fallbacks") if "fallbacks" in data else config.default_fallbacks),
        output=output,
        guards=tuple(dict(g) for g in data.get("guards") or ()),
        tools=tuple(dict(t) for t in data.get("tools") or ()),
        observe=dict(data.get("observe") or {}),
        description=data.get("description"),
        samples=tuple(
            Sample(name=s["name"], inputs=s.get("inputs") or {}, description=s.get("description"))
            for s in data.get("samples") or ()
        ),
        tags=tuple(data.get("tags") or ()),
        owners=tuple(data.get("owners") or ()),
        lint_ignore=tuple((data.get("lint") or {}).get("ignore") or ()),
    )
