"""The semantic diff of two versions of a project: what changed, and what breaks callers.

:func:`diff_projects` compares two :class:`~promptctl.project.Project` objects
prompt by prompt (added, removed, renamed, changed fields, inputs, message
text, partials) and dataset by dataset, and flags the changes that break
existing callers as BREAKING. It returns plain data; the formatters at the end
turn it into text, markdown (for pull-request comments) or JSON.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from dataclasses import field as dc_field
from typing import Any

from .errors import PromptctlError
from .model import Dataset, HistorySlot, Message, Prompt

FIELDS = ("description", "model", "params", "fallbacks", "output", "tags", "owners")


@dataclass(slots=True)
class Change:
    """One difference inside a prompt."""

    field: str  # "model", "params.temperature", "inputs.tone", "messages[0]", "partials/policy.j2", ...
    kind: str  # added | removed | changed
    old: Any = None
    new: Any = None
    breaking: bool = False
    why: str = ""  # why it breaks callers, or what changed, in words
    diff: list[str] = dc_field(default_factory=list)  # unified diff lines for text changes


@dataclass(slots=True)
class PromptDiff:
    name: str
    status: str  # added | removed | renamed | changed
    old_name: str | None = None
    old_hash: str | None = None
    new_hash: str | None = None
    changes: list[Change] = dc_field(default_factory=list)
    rendered: list[dict[str, Any]] = dc_field(default_factory=list)  # {sample, diff, error}
    error: str | None = None

    @property
    def breaking(self) -> bool:
        return self.status == "removed" or any(c.breaking for c in self.changes)


@dataclass(slots=True)
class DatasetDiff:
    path: str
    prompt: str
    status: str  # added | removed | changed
    cases_added: list[str] = dc_field(default_factory=list)
    cases_removed: list[str] = dc_field(default_factory=list)
    goldens_changed: list[str] = dc_field(default_factory=list)
    other_changed: list[str] = dc_field(default_factory=list)
    error: str | None = None


@dataclass(slots=True)
class ProjectDiff:
    old: str  # labels of the two versions
    new: str
    prompts: list[PromptDiff] = dc_field(default_factory=list)
    datasets: list[DatasetDiff] = dc_field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.prompts or self.datasets)

    @property
    def breaking(self) -> bool:
        return any(p.breaking for p in self.prompts)

    def to_json(self) -> dict[str, Any]:
        return {
            "old": self.old,
            "new": self.new,
            "changed": self.changed,
            "breaking": self.breaking,
            "prompts": [{**asdict(p), "breaking": p.breaking} for p in self.prompts],
            "datasets": [asdict(d) for d in self.datasets],
        }


# -- comparing -----------------------------------------------------------------------------------


def diff_projects(
    old: Any,
    new: Any,
    *,
    names: Sequence[str] = (),
    render: bool = False,
) -> ProjectDiff:
    """Compare two projects; ``names`` limits the diff to those prompts (and their datasets)."""
    result = ProjectDiff(old=old.source.label, new=new.source.label)
    old_names, new_names = set(old.prompt_names()), set(new.prompt_names())
    wanted = set(names) if names else None

    def keep(*candidates: str | None) -> bool:
        return wanted is None or any(c in wanted for c in candidates if c)

    same = _unchanged(old, new, old_names & new_names)
    old_prompts = {n: _load(old, n) for n in sorted(old_names - same)}
    new_prompts = {n: _load(new, n) for n in sorted(new_names - same)}

    removed = sorted(old_names - new_names)
    added = sorted(new_names - old_names)
    # A rename: a removed prompt whose content reappears, unchanged, under a new name.
    renamed: dict[str, str] = {}
    by_hash: dict[str, list[str]] = {}
    for n in removed:
        p = old_prompts[n]
        if isinstance(p, Prompt):
            by_hash.setdefault(p.hash, []).append(n)
    for n in added:
        p = new_prompts[n]
        if isinstance(p, Prompt) and by_hash.get(p.hash):
            renamed[n] = by_hash[p.hash].pop(0)

    for n in sorted((old_names | new_names) - same):
        if n in renamed.values() and n not in new_names:
            continue  # reported under its new name
        if n in renamed:
            if keep(n, renamed[n]):
                p = new_prompts[n]
                assert isinstance(p, Prompt)
                result.prompts.append(
                    PromptDiff(name=n, status="renamed", old_name=renamed[n], old_hash=p.hash, new_hash=p.hash)
                )
            continue
        if not keep(n):
            continue
        a, b = old_prompts.get(n), new_prompts.get(n)
        if a is None:
            result.prompts.append(
                PromptDiff(name=n, status="added", new_hash=_hash(b), error=_err(b))
            )
            continue
        if b is None:
            result.prompts.append(
                PromptDiff(
                    name=n,
                    status="removed",
                    old_hash=_hash(a),
                    changes=[Change("prompt", "removed", breaking=True, why="callers of this prompt break")],
                )
            )
            continue
        if isinstance(a, Prompt) and isinstance(b, Prompt):
            if a.hash == b.hash and _meta(a) == _meta(b):
                continue
            pd = PromptDiff(name=n, status="changed", old_hash=a.hash, new_hash=b.hash, changes=diff_prompt(a, b))
            if render:
                pd.rendered = _render_samples(old, new, a, b)
            if pd.changes or pd.rendered:
                result.prompts.append(pd)
            continue
        if _err(a) == _err(b):
            continue
        result.prompts.append(
            PromptDiff(
                name=n,
                status="changed",
                old_hash=_hash(a),
                new_hash=_hash(b),
                error=f"{old.source.label}: {_err(a)}" if _err(a) else f"{new.source.label}: {_err(b)}",
            )
        )

    result.datasets = diff_datasets(old, new, keep=lambda prompt: keep(prompt, _renamed_from(prompt, renamed)))
    return result


def _unchanged(old: Any, new: Any, names: set[str]) -> set[str]:
    """Prompts whose file, included partials and project config are byte-identical in both versions.

    Git blob ids decide without parsing anything; a prompt whose file is the
    same but some partial changed is loaded once (new side) to see whether it
    includes that partial.
    """
    if old.source.fingerprint("promptctl.yaml") != new.source.fingerprint("promptctl.yaml"):
        return set()
    root = old.config.prompts
    if root != new.config.prompts:
        return set()
    old_files, new_files = old.prompt_files(), new.prompt_files()
    prompt_paths = set(old_files.values()) | set(new_files.values())
    others = (set(old.source.walk(root)) | set(new.source.walk(root))) - prompt_paths
    under = len(root) + 1 if root != "." else 0
    changed_partials = {
        rel[under:] for rel in others if old.source.fingerprint(rel) != new.source.fingerprint(rel)
    }
    same = set()
    for n in names:
        a, b = old_files[n], new_files[n]
        if a != b or old.source.fingerprint(a) != new.source.fingerprint(b):
            continue
        if changed_partials:
            loaded = _load(new, n)
            if not isinstance(loaded, Prompt) or changed_partials & set(loaded.partials):
                continue
            if _dynamic(loaded):
                continue
        same.add(n)
    return same


def _dynamic(prompt: Prompt) -> bool:
    """Whether a prompt (or its partials) has an include whose target is only known when rendering."""
    texts = [m.content for m in prompt.messages if isinstance(m, Message)] + list(prompt.partials.values())
    return any(re.search(r"{%-?\s*(include|import|from|extends)\s+[^'\"\s]", t) for t in texts)


def _renamed_from(name: str, renamed: Mapping[str, str]) -> str | None:
    for new_name, old_name in renamed.items():
        if old_name == name:
            return new_name
    return renamed.get(name)


def _load(project: Any, name: str) -> Prompt | PromptctlError:
    try:
        return project.get_prompt(name)  # type: ignore[no-any-return]
    except PromptctlError as e:
        return e


def _hash(p: Any) -> str | None:
    return p.hash if isinstance(p, Prompt) else None


def _err(p: Any) -> str | None:
    return str(p) if isinstance(p, PromptctlError) else None


def _meta(p: Prompt) -> tuple[Any, ...]:
    return (p.description, p.tags, p.owners)


def diff_prompt(a: Prompt, b: Prompt) -> list[Change]:
    """Every difference between two versions of one prompt, breaking ones flagged."""
    changes: list[Change] = []
    for name in FIELDS:
        old, new = _plain(getattr(a, name)), _plain(getattr(b, name))
        if old == new:
            continue
        if name == "params":
            changes.extend(_dict_changes("params", old, new))
        elif name == "output":
            breaking = old.get("schema") != new.get("schema") or old.get("format") != new.get("format")
            changes.append(
                Change(
                    "output",
                    "changed",
                    old,
                    new,
                    breaking=breaking,
                    why="the output format or schema changed: code that parses the output may break"
                    if breaking
                    else "",
                )
            )
        else:
            changes.append(Change(name, "changed", old, new))
    changes.extend(diff_inputs(a.inputs, b.inputs))
    changes.extend(_message_changes(a, b))
    changes.extend(_partial_changes(a, b))
    return changes


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _dict_changes(prefix: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    out = []
    for key in sorted(set(old) | set(new)):
        if key not in old:
            out.append(Change(f"{prefix}.{key}", "added", None, new[key]))
        elif key not in new:
            out.append(Change(f"{prefix}.{key}", "removed", old[key], None))
        elif old[key] != new[key]:
            out.append(Change(f"{prefix}.{key}", "changed", old[key], new[key]))
    return out


def _types(schema: Mapping[str, Any]) -> set[str] | None:
    t = schema.get("type")
    if t is None:
        return None  # any type
    types = set(t) if isinstance(t, list) else {t}
    if "number" in types:
        types.add("integer")
    return types


def diff_inputs(old: Mapping[str, Mapping[str, Any]], new: Mapping[str, Mapping[str, Any]]) -> list[Change]:
    """Input changes; breaking when a caller that worked before would now be refused."""
    out: list[Change] = []
    for name in sorted(set(old) | set(new)):
        where = f"inputs.{name}"
        if name not in old:
            required = "default" not in new[name]
            out.append(
                Change(
                    where,
                    "added",
                    None,
                    _plain(new[name]),
                    breaking=required,
                    why="a new required input: existing callers do not pass it" if required else "optional (has a default)",
                )
            )
            continue
        if name not in new:
            out.append(
                Change(where, "removed", _plain(old[name]), None, breaking=True, why="callers still pass this input")
            )
            continue
        a, b = _plain(old[name]), _plain(new[name])
        if a == b:
            continue
        reasons = _narrowed(a, b)
        notes = []
        if a.get("type") != b.get("type"):
            notes.append(f"type {a.get('type', 'any')} -> {b.get('type', 'any')}")
        if a.get("enum") != b.get("enum"):
            notes.append(f"enum {a.get('enum', 'any')} -> {b.get('enum', 'any')}")
        if a.get("default", _MISSING) != b.get("default", _MISSING):
            notes.append(
                f"default {_show(a.get('default', _MISSING))} -> {_show(b.get('default', _MISSING))}"
            )
        out.append(
            Change(
                where,
                "changed",
                a,
                b,
                breaking=bool(reasons),
                why="; ".join(reasons) if reasons else ", ".join(notes) or "schema changed",
            )
        )
    return out


class _Missing:
    def __repr__(self) -> str:
        return "none"


_MISSING = _Missing()


def _show(value: Any) -> str:
    return "none" if value is _MISSING else json.dumps(value, ensure_ascii=False)


def _narrowed(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """Why schema ``b`` accepts less than ``a`` did (empty when it does not)."""
    reasons = []
    ta, tb = _types(a), _types(b)
    if tb is not None and (ta is None or not ta <= tb):
        reasons.append(f"type narrowed: {a.get('type', 'any')} -> {b.get('type')}")
    if "enum" in b and ("enum" not in a or not all(v in b["enum"] for v in a["enum"])):
        lost = [v for v in a.get("enum", []) if v not in b["enum"]]
        reasons.append(
            f"enum narrowed: {', '.join(map(repr, lost))} no longer allowed" if lost else "enum added"
        )
    if "default" in a and "default" not in b:
        reasons.append("now required (its default was removed)")
    tighter: Callable[[Any, Any], bool]
    for key, tighter in (
        ("maxLength", lambda x, y: y < x),
        ("maxItems", lambda x, y: y < x),
        ("maximum", lambda x, y: y < x),
        ("exclusiveMaximum", lambda x, y: y < x),
        ("minLength", lambda x, y: y > x),
        ("minItems", lambda x, y: y > x),
        ("minimum", lambda x, y: y > x),
        ("exclusiveMinimum", lambda x, y: y > x),
    ):
        if key in b and (key not in a or tighter(a[key], b[key])):
            reasons.append(f"{key} tightened: {a.get(key, 'none')} -> {b[key]}")
    if b.get("pattern") and a.get("pattern") != b.get("pattern"):
        reasons.append("pattern added or changed")
    if set(b.get("required", [])) - set(a.get("required", [])):
        reasons.append("new required fields: " + ", ".join(sorted(set(b["required"]) - set(a.get("required", [])))))
    return reasons


def _entry_text(e: Any) -> tuple[str, str]:
    if isinstance(e, HistorySlot):
        return "history", f"(history from input {e.input!r})"
    assert isinstance(e, Message)
    return e.role, e.content


def _message_changes(a: Prompt, b: Prompt) -> list[Change]:
    out: list[Change] = []
    ma, mb = [_entry_text(e) for e in a.messages], [_entry_text(e) for e in b.messages]
    if ma == mb:
        return out
    if [r for r, _ in ma] != [r for r, _ in mb]:
        out.append(
            Change(
                "messages",
                "changed",
                [r for r, _ in ma],
                [r for r, _ in mb],
                why="message roles/order changed: " + " ".join(r for r, _ in ma) + " -> " + " ".join(r for r, _ in mb),
            )
        )
    for i in range(max(len(ma), len(mb))):
        old = ma[i] if i < len(ma) else None
        new = mb[i] if i < len(mb) else None
        if old == new:
            continue
        label = f"messages[{i}]"
        if old is None:
            assert new is not None
            out.append(Change(label, "added", None, new[1], why=f"new {new[0]} message", diff=text_diff("", new[1])))
        elif new is None:
            out.append(Change(label, "removed", old[1], None, why=f"{old[0]} message removed", diff=text_diff(old[1], "")))
        else:
            out.append(
                Change(
                    f"{label} ({new[0]})",
                    "changed",
                    old[1],
                    new[1],
                    why=word_summary(old[1], new[1]),
                    diff=text_diff(old[1], new[1]),
                )
            )
    return out


def _partial_changes(a: Prompt, b: Prompt) -> list[Change]:
    out = []
    for name in sorted(set(a.partials) | set(b.partials)):
        old, new = a.partials.get(name), b.partials.get(name)
        if old == new:
            continue
        kind = "added" if old is None else "removed" if new is None else "changed"
        out.append(
            Change(
                f"partial {name}",
                kind,
                old,
                new,
                why=f"included partial {kind}",
                diff=text_diff(old or "", new or ""),
            )
        )
    return out


def text_diff(old: str, new: str, *, context: int = 2) -> list[str]:
    """A unified line diff of two texts, without the file header lines."""
    lines = list(
        difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=context)
    )
    return lines[2:] if len(lines) >= 2 else lines


_WORD = re.compile(r"\s+|[^\s]+")


def word_diff(old: str, new: str) -> str:
    """``[-removed-]{+added+}`` word diff of two texts (git's --word-diff=plain)."""
    a, b = _WORD.findall(old), _WORD.findall(new)
    out = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            out.append("".join(a[i1:i2]))
            continue
        if i2 > i1:
            out.append("[-" + "".join(a[i1:i2]) + "-]")
        if j2 > j1:
            out.append("{+" + "".join(b[j1:j2]) + "+}")
    return "".join(out)


def word_summary(old: str, new: str) -> str:
    """The changed words only, with a little context: a one-line summary of a text change."""
    a, b = old.split(), new.split()
    bits = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        removed, added = " ".join(a[i1:i2]), " ".join(b[j1:j2])
        if removed and added:
            bits.append(f"[-{removed}-]{{+{added}+}}")
        elif removed:
            bits.append(f"[-{removed}-]")
        else:
            bits.append(f"{{+{added}+}}")
    text = " … ".join(bits)
    return text if len(text) <= 160 else text[:157] + "..."


def _render_samples(old: Any, new: Any, a: Prompt, b: Prompt) -> list[dict[str, Any]]:
    """Render every sample in both versions and diff what the model would see."""
    out = []
    names = [s.name for s in b.samples] + [s.name for s in a.samples if b.sample(s.name) is None]
    for sample in names:
        sa, sb = a.sample(sample), b.sample(sample)
        texts = []
        errors = []
        for project, prompt, own, other in ((old, a, sa, sb), (new, b, sb, sa)):
            inputs = (own or other).inputs  # type: ignore[union-attr]
            try:
                texts.append(_messages_text(project.renderer.render(prompt, inputs)))
            except PromptctlError as e:
                texts.append("")
                errors.append(f"{project.source.label}: {e}")
        if texts[0] != texts[1] or errors:
            out.append({"sample": sample, "diff": text_diff(texts[0], texts[1]), "error": "; ".join(errors) or None})
    return out


def _messages_text(messages: Iterable[Mapping[str, Any]]) -> str:
    return "\n".join(f"[{m['role']}]\n{m['content']}" for m in messages)


def diff_datasets(old: Any, new: Any, *, keep: Any) -> list[DatasetDiff]:
    """Dataset changes: cases added, removed, or with a changed golden."""
    out: list[DatasetDiff] = []
    if not getattr(old.source, "has_datasets", True) or not getattr(new.source, "has_datasets", True):
        return out  # one side is a published bundle, which holds no datasets
    a, b = _datasets(old), _datasets(new)
    for path in sorted(set(a) | set(b)):
        da, db = a.get(path), b.get(path)
        prompt = (db or da).prompt  # type: ignore[union-attr]
        if not keep(prompt):
            continue
        if isinstance(da, _BadDataset) or isinstance(db, _BadDataset):
            errors = [d.error for d in (da, db) if isinstance(d, _BadDataset)]
            if da != db:
                out.append(DatasetDiff(path, prompt, "changed", error="; ".join(errors)))
            continue
        if da is None:
            assert db is not None
            out.append(DatasetDiff(path, prompt, "added", cases_added=[c.id for c in db.cases]))
            continue
        if db is None:
            out.append(DatasetDiff(path, prompt, "removed", cases_removed=[c.id for c in da.cases]))
            continue
        ca, cb = {c.id: c for c in da.cases}, {c.id: c for c in db.cases}
        d = DatasetDiff(
            path,
            prompt,
            "changed",
            cases_added=[i for i in cb if i not in ca],
            cases_removed=[i for i in ca if i not in cb],
            goldens_changed=[i for i in cb if i in ca and ca[i].golden != cb[i].golden],
            other_changed=_case_changes(da, db, ca, cb),
        )
        if da.threshold != db.threshold:
            d.other_changed.append(f"threshold {da.threshold} -> {db.threshold}")
        if d.cases_added or d.cases_removed or d.goldens_changed or d.other_changed or da.prompt != db.prompt:
            out.append(d)
    return out


@dataclass(slots=True)
class _BadDataset:
    path: str
    prompt: str
    error: str


def _datasets(project: Any) -> dict[str, Dataset | _BadDataset]:
    """Project-relative dataset path -> the loaded dataset (or why it does not load)."""
    out: dict[str, Dataset | _BadDataset] = {}
    for rel in project.dataset_files():
        try:
            out[rel] = project.load_dataset(rel)
        except PromptctlError as e:
            out[rel] = _BadDataset(rel, "?", str(e))
    return out


# -- formatting ----------------------------------------------------------------------------------


def _case_changes(da: Any, db: Any, ca: dict[str, Any], cb: dict[str, Any]) -> list[str]:
    """What changed in the cases both versions have, said: an input changed the same way in every
    case (a ``defaults.inputs`` change) once, ``inputs.tone 'formal' -> 'friendly' (every case)``;
    the rest per case, ``refund: inputs.ticket, assert``; changed dataset defaults too."""
    common = [i for i in cb if i in ca]
    moved: dict[str, set[str]] = {}
    for i in common:
        a, b = ca[i].inputs, cb[i].inputs
        moved[i] = {k for k in set(a) | set(b) if a.get(k, _ABSENT) != b.get(k, _ABSENT)}
    everywhere = []
    if len(common) > 1:
        first = ca[common[0]].inputs, cb[common[0]].inputs
        for k in sorted(moved[common[0]]):
            pair = (first[0].get(k, _ABSENT), first[1].get(k, _ABSENT))
            if all(k in moved[i] and (ca[i].inputs.get(k, _ABSENT), cb[i].inputs.get(k, _ABSENT)) == pair for i in common):
                everywhere.append(k)
    out = [f"inputs.{k} {_shown(ca[common[0]].inputs.get(k, _ABSENT))} -> {_shown(cb[common[0]].inputs.get(k, _ABSENT))}"
           " (every case)" for k in everywhere]
    if da.default_asserts != db.default_asserts:
        out.append("defaults.assert")
    if da.default_transform != db.default_transform:
        out.append("defaults.transform")
    for i in common:
        what = [f"inputs.{k}" for k in sorted(moved[i] - set(everywhere))]
        if ca[i].asserts != cb[i].asserts:
            what.append("assert")
        if getattr(ca[i], "transform", None) != getattr(cb[i], "transform", None):
            what.append("transform")
        if getattr(ca[i], "threshold", None) != getattr(cb[i], "threshold", None):
            what.append("threshold")
        if what:
            out.append(f"{i}: {', '.join(what)}")
    return out


_ABSENT: Any = object()


def _shown(value: Any) -> str:
    return "(none)" if value is _ABSENT else repr(value) if isinstance(value, str) else _value(value)


def _status_mark(p: PromptDiff | DatasetDiff) -> str:
    """``A`` added, ``D`` removed, ``R`` renamed, ``M`` changed: the same letters for prompts and datasets."""
    return {"added": "A", "removed": "D", "renamed": "R", "changed": "M"}[p.status]


def _title(p: PromptDiff) -> str:
    name = f"{p.old_name} -> {p.name}" if p.status == "renamed" else p.name
    return name


def _short(h: str | None) -> str:
    return h.removeprefix("sha256:")[:7] if h else "-------"


def _value(v: Any) -> str:
    text = json.dumps(v, ensure_ascii=False, sort_keys=True) if not isinstance(v, str) else v
    return text if len(text) <= 80 else text[:77] + "..."


def _dataset_bits(x: DatasetDiff) -> list[str]:
    """``+2 cases, 1 golden changed``: what changed in a dataset, in a few words."""
    from .text import plural

    bits = []
    if x.cases_added:
        bits.append("+" + plural(len(x.cases_added), "case"))
    if x.cases_removed:
        bits.append("-" + plural(len(x.cases_removed), "case"))
    if x.goldens_changed:
        bits.append(plural(len(x.goldens_changed), "golden") + " changed")
    if x.other_changed:
        bits.append(plural(len(x.other_changed), "other change"))  # said in full by format_text
    if x.error:
        bits.append("does not load")
    return bits


def stat_lines(d: ProjectDiff) -> list[str]:
    """One line per prompt (and dataset): ``M support/reply  3 changes  BREAKING``."""
    from .text import plural

    lines = []
    width = max([len(_title(p)) for p in d.prompts] + [len(x.path) for x in d.datasets] + [10])
    for p in d.prompts:
        what = {
            "added": "added",
            "removed": "removed",
            "renamed": "renamed (same content)",
        }.get(p.status, plural(len(p.changes), "change"))
        if p.error:
            what += " (does not load)"
        flag = "  BREAKING" if p.breaking else ""
        lines.append(f"{_status_mark(p)} {_title(p):<{width}}  {_short(p.old_hash)} -> {_short(p.new_hash)}  {what}{flag}")
    for x in d.datasets:
        bits = _dataset_bits(x)
        lines.append(f"{_status_mark(x)} {x.path:<{width}}  dataset for {x.prompt}: {', '.join(bits) or x.status}")
    return lines


def format_text(d: ProjectDiff, *, stat: bool = False) -> str:
    """The diff for a terminal."""
    if not d.changed:
        return f"no differences between {d.old} and {d.new}\n"
    from .text import plural

    out = [f"diff {d.old} -> {d.new}: {plural(len(d.prompts), 'prompt')}, {plural(len(d.datasets), 'dataset')} changed"
           + ("; BREAKING changes" if d.breaking else "")]
    if stat:
        return "\n".join(out + stat_lines(d)) + "\n"
    for p in d.prompts:
        out.append("")
        out.append(f"{_status_mark(p)} {_title(p)}  {_short(p.old_hash)} -> {_short(p.new_hash)}"
                   + ("  BREAKING" if p.breaking else ""))
        if p.error:
            out.append(f"    ! {p.error}")
        for c in p.changes:
            flag = "BREAKING " if c.breaking else ""
            head = f"  {flag}{c.kind} {c.field}"
            if c.diff:
                out.append(head + (f": {c.why}" if c.why and c.kind == "changed" else ""))
                out.extend("      " + line for line in c.diff)
                continue
            if c.kind == "changed" and not c.field.startswith("inputs."):
                head += f": {_value(c.old)} -> {_value(c.new)}"
            elif c.kind == "added" and c.new is not None:
                head += f": {_value(c.new)}"
            elif c.kind == "removed" and c.old is not None:
                head += f" (was {_value(c.old)})"
            if c.why and (c.breaking or c.field.startswith("inputs.")):
                head += f" ({c.why})"
            out.append(head)
        for r in p.rendered:
            out.append(f"  rendered sample {r['sample']!r}:" + (f" ! {r['error']}" if r["error"] else ""))
            out.extend("      " + line for line in r["diff"])
    for x in d.datasets:
        out.append("")
        out.append(f"{_status_mark(x)} dataset {x.path} ({x.prompt})")
        if x.error:
            out.append(f"    ! {x.error}")
        for label, ids in (
            ("cases added", x.cases_added),
            ("cases removed", x.cases_removed),
            ("goldens changed", x.goldens_changed),
            ("changed", x.other_changed),
        ):
            if ids:
                out.append(f"  {label}: {', '.join(ids)}")
    return "\n".join(out) + "\n"


def format_markdown(d: ProjectDiff, *, stat: bool = False) -> str:
    """The diff as a pull-request comment: a summary table, then collapsible details (``stat``: the
    table alone)."""
    if not d.changed:
        return f"**promptctl diff** `{d.old}` → `{d.new}`: no differences.\n"
    lines = [
        f"### promptctl diff `{d.old}` → `{d.new}`",
        "",
        ("**⚠️ Breaking changes** — existing callers may fail.\n" if d.breaking else ""),
        "| | prompt | hash | changes |",
        "|---|---|---|---|",
    ]
    for p in d.prompts:
        what = {"added": "added", "removed": "removed", "renamed": f"renamed from `{p.old_name}`"}.get(
            p.status, ", ".join(sorted({c.field.split("[")[0].split(".")[0].split(" ")[0] for c in p.changes})) or "—"
        )
        flag = " **BREAKING**" if p.breaking else ""
        lines.append(
            f"| {_status_mark(p)} | `{p.name}` | `{_short(p.old_hash)}` → `{_short(p.new_hash)}` | {what}{flag} |"
        )
    for x in d.datasets:
        bits = [b for b in _dataset_bits(x) if not b.endswith(("other change", "other changes"))] + x.other_changed
        lines.append(f"| {_status_mark(x)} | `{x.path}` | dataset | {', '.join(bits).replace('|', '/') or x.status} |")
    if stat:  # the summary table alone, as --stat does for text
        return "\n".join(lines) + "\n"
    for p in d.prompts:
        if not (p.changes or p.rendered or p.error):
            continue
        lines += ["", f"<details><summary><code>{p.name}</code>{' — BREAKING' if p.breaking else ''}</summary>", ""]
        if p.error:
            lines.append(f"> {p.error}\n")
        for c in p.changes:
            flag = "**BREAKING** " if c.breaking else ""
            line = f"- {flag}{c.kind} `{c.field}`"
            if c.why:
                line += f": {c.why}"
            elif c.kind == "changed":
                line += f": `{_value(c.old)}` → `{_value(c.new)}`"
            lines.append(line)
            if c.diff:
                lines += ["", "  ```diff", *("  " + x for x in c.diff), "  ```"]
        for r in p.rendered:
            lines += ["", f"Rendered sample `{r['sample']}`:" + (f" {r['error']}" if r["error"] else ""), "",
                      "```diff", *r["diff"], "```"]
        lines += ["", "</details>"]
    return "\n".join(line for line in lines if line is not None) + "\n"


def resolve_diff_args(project_dir: Any, args: Sequence[str]) -> tuple[Any, Any, list[str]]:
    """Split ``[A [B]] [NAMES...]`` into the two projects to compare and the prompt names.

    Leading arguments that name a version (and not a prompt) are versions: none
    means HEAD against the working tree, one means A against the working tree.
    """
    from .config import project_root
    from .errors import UsageError
    from .project import load_project, resolve_source

    root = project_root(project_dir)
    work = load_project(resolve_source(root, None), root)
    known = set(work.prompt_names())
    versions: list[str] = []
    names: list[str] = []
    sources: list[Any] = []
    for arg in args:
        if names or len(versions) == 2 or arg in known:
            names.append(arg)
            continue
        try:
            sources.append(resolve_source(root, arg))
            versions.append(arg)
        except UsageError as e:
            if arg.startswith("-") or not versions and "/" not in arg and not _could_be_name(arg, known):
                raise UsageError(
                    f"{arg!r} is neither a prompt name nor a version ({e.message})",
                    hint=e.hint or "versions: vN, a branch, tag, sha or HEAD~1",
                ) from None
            names.append(arg)
    if not sources:
        sources = [resolve_source(root, "HEAD")]
    old = load_project(sources[0], root)
    new = load_project(sources[1], root) if len(sources) > 1 else work
    return old, new, names


def _could_be_name(arg: str, known: set[str]) -> bool:
    return bool(difflib.get_close_matches(arg, list(known), n=1, cutoff=0.8))
