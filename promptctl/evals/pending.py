"""Cases pending review: outputs of ``promptctl test`` that differ from their golden, kept for
``promptctl review`` (and anything else that reviews them, e.g. a browser page).

After a run on the working tree, every passed or failed case whose output differs from its golden
(compared as ``--update-golden`` compares them, with :func:`~.goldens.new_golden`), or that has no
golden, is kept in ``<project>/.promptctl/pending/<dataset path>.jsonl``: one JSON object per case
(see :class:`PendingCase`), in the dataset's order. A later run replaces the entries of the cases it
ran with an output (an entry whose case now matches its golden goes); entries of other datasets, of
cases a ``--filter``/``--shard`` left out, and of cases that errored or were skipped stay. Each line
starts with ``fp``, a fingerprint of the entry but its run's time: a run whose entries for a dataset
are exactly those the file holds leaves the file as it is. The folder
holds a ``.gitignore`` of its own (``*``): this is local state, never committed. Known secrets are
written as ``***``, as in every report.

:func:`accept` writes the proposed golden with :func:`~.goldens.write_goldens` (comments, order and
quoting kept) and records ``reviewed: {by, at}`` on the case; it refuses a case whose golden in the
file is no longer the one the run saw. :func:`reject` only drops the entry. Every file is written
atomically. Standard library only at import time; nothing here prints.
"""

from __future__ import annotations

import difflib
import json
import os
from collections import defaultdict
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import PromptctlError, StaleReviewError
from .goldens import GoldenChange, new_golden
from .reports import golden_text

if TYPE_CHECKING:
    from .results import RunResult

PENDING_DIR = ".promptctl/pending"
SUFFIX = ".jsonl"
FINGERPRINT = "fp"  # the first key of each stored line: see _fingerprint


@dataclass(frozen=True, slots=True)
class PendingCase:
    """One case waiting for review: where it is, what it was given, its golden and the proposed one."""

    dataset: str  # the dataset file, relative to the project root (evals/qa.eval.yaml)
    dataset_name: str  # its name (qa)
    prompt: str  # the prompt it tests
    case: str  # the case id
    source: str  # the file holding the case, relative to the project root (the dataset, or its JSONL/CSV file)
    line: int  # the case's line in ``source``
    old: Any  # the golden the run compared with (None: the case had none), known secrets written as ***
    new: Any  # the proposed golden: the output, or its JSON data when the old golden was JSON data
    output: str  # the output as the model wrote it
    status: str  # passed or failed
    score: float = 0.0
    reason: str = ""
    asserts: tuple[Mapping[str, Any], ...] = ()  # each assertion's verdict: {type, pass, score, reason, weight, ...}
    description: str | None = None
    tags: tuple[str, ...] = ()
    inputs: Mapping[str, Any] = field(default_factory=dict)
    model: str | None = None
    run: Mapping[str, Any] = field(default_factory=dict)  # {at, version, mode, promptctl}: the run it came from
    position: int = 0  # its place in the dataset
    old_hash: str = ""  # content_hash of the old golden as it was in the file: accept checks the file still has it
    origin: str = "run"  # "run" (a case of the dataset, from `promptctl test`) or "observed" (a new case, `golden add`)

    @property
    def key(self) -> str:
        """Unique in the store: ``<dataset path>#<case id>``."""
        return f"{self.dataset}#{self.case}"

    @property
    def name(self) -> str:
        """``dataset/case``, as reports name a case."""
        return f"{self.dataset_name}/{self.case}"

    @property
    def where(self) -> str:
        """``source:line`` (``source (new case)`` for a case proposed from production)."""
        return f"{self.source} (new case)" if self.origin == "observed" else f"{self.source}:{self.line}"

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "dataset_name": self.dataset_name,
            "prompt": self.prompt,
            "case": self.case,
            "source": self.source,
            "line": self.line,
            "position": self.position,
            "description": self.description,
            "tags": list(self.tags),
            "inputs": dict(self.inputs),
            "old": self.old,
            "new": self.new,
            "output": self.output,
            "status": self.status,
            "score": round(self.score, 4),
            "reason": self.reason,
            "asserts": [dict(a) for a in self.asserts],
            "model": self.model,
            "run": dict(self.run),
            "old_hash": self.old_hash,
            "origin": self.origin,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PendingCase:
        inputs, run = data.get("inputs"), data.get("run")
        return cls(
            dataset=str(data["dataset"]),
            dataset_name=str(data.get("dataset_name") or _dataset_name(str(data["dataset"]))),
            prompt=str(data.get("prompt") or ""),
            case=str(data["case"]),
            source=str(data.get("source") or data["dataset"]),
            line=int(data.get("line") or 0),
            old=data.get("old"),
            new=data["new"],
            output=str(data.get("output") if data.get("output") is not None else golden_text(data["new"])),
            status=str(data.get("status") or ""),
            score=float(data.get("score") or 0.0),
            reason=str(data.get("reason") or ""),
            asserts=tuple(a for a in data.get("asserts") or () if isinstance(a, Mapping)),
            description=data.get("description"),
            tags=tuple(str(t) for t in data.get("tags") or ()),
            inputs=inputs if isinstance(inputs, Mapping) else {},
            model=data.get("model"),
            run=run if isinstance(run, Mapping) else {},
            position=int(data.get("position") or 0),
            old_hash=str(data.get("old_hash") or ""),
            origin=str(data.get("origin") or "run"),
        )


@dataclass(slots=True)
class Outcome:
    """What :func:`accept_all` did: the cases accepted (with the golden written) and those refused (why)."""

    accepted: list[tuple[PendingCase, GoldenChange]] = field(default_factory=list)
    refused: list[tuple[PendingCase, str]] = field(default_factory=list)


# -- the store ---------------------------------------------------------------------------------


def pending_dir(project_root: str | os.PathLike[str]) -> Path:
    return Path(project_root) / PENDING_DIR


def _store_file(project_root: str | os.PathLike[str], dataset: str) -> Path:
    return pending_dir(project_root) / (dataset + SUFFIX)


def _dataset_name(path: str) -> str:
    return path.rsplit("/", 1)[-1].removesuffix(".eval.yaml")


def _project_rel(project_root: str | os.PathLike[str], shown: str) -> str:
    """A file as a run names it (relative to the cwd, or absolute) -> relative to the project root."""
    root = os.path.realpath(project_root)
    for path in (os.path.abspath(shown), os.path.realpath(shown)):
        rel = os.path.relpath(path, root)
        if not rel.startswith(".."):
            return Path(rel).as_posix()
    return Path(shown).as_posix()


def _read(path: Path, skip: Container[str] = ()) -> list[PendingCase]:
    """The entries of one store file, but those of the cases in ``skip`` (about to be replaced);
    torn or foreign lines are skipped (this is a cache of a run)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return []
    entries = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if skip and data.get("case") in skip:
                continue
            entries.append(PendingCase.from_json(data))
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
    return entries


def _write(project_root: str | os.PathLike[str], dataset: str, entries: Sequence[PendingCase]) -> None:
    """Replace the store file of ``dataset`` with ``entries`` (removing it, and empty folders, when none)."""
    from ..fileio import write_atomic

    path = _store_file(project_root, dataset)
    if not entries:
        try:
            path.unlink()
        except FileNotFoundError:
            return
        top = pending_dir(project_root)
        folder = path.parent
        while folder != top and top in folder.parents:
            try:
                folder.rmdir()
            except OSError:
                break
            folder = folder.parent
        return
    top = pending_dir(project_root)
    if not top.is_dir():
        top.mkdir(parents=True, exist_ok=True)
        write_atomic(top / ".gitignore", "# promptctl: cases pending review are local state\n*\n", fsync=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(
        json.dumps({FINGERPRINT: _fingerprint(e), **e.to_json()}, ensure_ascii=False, default=str) + "\n"
        for e in entries)
    write_atomic(path, text, fsync=False)


def _fingerprint(entry: PendingCase) -> str:
    """A digest of everything the entry's line says but the run's time (``run.at``): a run that would write
    the same entries as the store holds leaves the file as it is (see :func:`_stored_fingerprints`)."""
    import hashlib
    import marshal

    run = tuple((k, v) for k, v in entry.run.items() if k != "at")
    fields: Any = (entry.dataset, entry.dataset_name, entry.prompt, entry.case, entry.source, entry.line, entry.position,
              entry.description, entry.tags, entry.inputs, entry.old, entry.new, entry.output, entry.status,
              entry.score, entry.reason, entry.asserts, entry.model, run, entry.old_hash, entry.origin)
    try:  # marshal's version 0: the values and their types only (no references, no interning marks)
        data = b"m" + marshal.dumps(fields, 0)
    except ValueError:  # a value marshal does not take (a date from YAML, say)
        data = b"r" + repr(fields).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=16).hexdigest()


_FP_START = '{"' + FINGERPRINT + '": "'
_FP_LEN = 32


def _stored_fingerprints(path: Path) -> list[str] | None:
    """The fingerprints the store file's lines start with, in order, read without parsing the lines
    (None when a line has none, e.g. one written by an older promptctl, or the file is not there)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None
    out = []
    start, end = len(_FP_START), len(_FP_START) + _FP_LEN
    for line in text.splitlines():
        if not (line.startswith(_FP_START) and line.endswith("}") and line[end:end + 2] == '",'):
            return None
        out.append(line[start:end])
    return out


def _store_files(project_root: str | os.PathLike[str]) -> list[tuple[str, Path]]:
    top = pending_dir(project_root)
    if not top.is_dir():
        return []
    out = []
    for path in top.rglob("*" + SUFFIX):
        if path.is_file():
            out.append((path.relative_to(top).as_posix()[: -len(SUFFIX)], path))
    return sorted(out)


def load_pending(
    project_root: str | os.PathLike[str],
    names: Iterable[str] | None = None,
    filter: str | None = None,  # noqa: A002 - named as `promptctl test --filter`
) -> list[PendingCase]:
    """The cases pending review, by dataset path then in each dataset's order.

    ``names``: keep the datasets named by one of them: a dataset path relative to the project root
    (``evals/qa.eval.yaml``) or a folder holding it (``evals/support``), a dataset name (``qa``) or a
    prompt name (``support/reply``). ``filter``: keep the cases whose id or description contains it
    (ignoring case), or that carry it as a tag (as ``promptctl test --filter``).
    """
    wanted = [n.replace("\\", "/").strip("/") for n in names] if names is not None else None
    out: list[PendingCase] = []
    for dataset, path in _store_files(project_root):
        entries = [e for e in _read(path) if e.dataset == dataset]
        out.extend(e for e in entries if _named(e, wanted) and case_matches(e, filter))
    out.sort(key=lambda e: (e.dataset, e.position, e.case))
    return out


def _named(entry: PendingCase, names: Sequence[str] | None) -> bool:
    if names is None:
        return True
    for name in names:
        if name in ("", ".") or name in (entry.dataset, entry.dataset_name, entry.prompt):
            return True
        if entry.dataset.startswith(name + "/"):
            return True
    return False


def case_matches(entry: PendingCase, text: str | None) -> bool:
    """``--filter``: the text in the case id or description (any case), or equal to one of its tags."""
    if not text:
        return True
    needle = text.lower()
    return needle in entry.case.lower() or needle in (entry.description or "").lower() or text in entry.tags


def count_pending(project_root: str | os.PathLike[str]) -> int:
    return len(load_pending(project_root))


def pending_note(count: int) -> str:
    """``3 cases pending review: promptctl review`` (empty for none)."""
    if not count:
        return ""
    return f"{count} case{'s' if count != 1 else ''} pending review: promptctl review"


# -- after a run -------------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def save_pending(
    project_root: str | os.PathLike[str],
    result: RunResult,
    *,
    goldens_written: bool = False,
    notify: Callable[[str], None] | None = None,
    secrets: Sequence[str] | None = None,
) -> int:
    """Keep the cases of ``result`` whose output differs from their golden; return how many cases are
    pending in the whole store afterwards.

    Only a run of the working tree on one model counts (nothing is kept for ``--ref`` or a ``--model``
    comparison). ``goldens_written``: the run's outputs were just written as the goldens
    (``--update-golden``), so its cases match them: their entries go and none are added.
    ``notify``: called with the note ``N cases pending review: promptctl review`` when some are, and
    with a warning (instead of raising) when the store cannot be written. ``secrets``: the values to
    write as ``***`` in what is kept (default: the run's, as the reports redact them: every alias's
    ``api_key_env`` and credential-named variable); outputs and reasons come redacted from the run.
    """
    from .. import __version__

    if result.version != "working tree" or len(result.models) > 1 or result.given_regressions is not None:
        return 0
    if secrets is None:
        from ..project import open_project
        from .runner import run_secrets

        secrets = run_secrets(open_project(project_root))
    run = {"at": _now(), "version": result.version, "mode": result.mode, "promptctl": __version__}
    try:
        counts = {}
        for d in result.datasets:
            dataset, kept = _save_dataset(project_root, d, run, goldens_written, secrets)
            counts[dataset] = kept
        # the datasets this run wrote are counted from what was written, the others read
        count = sum(counts.values()) + sum(
            len([e for e in _read(path) if e.dataset == dataset])
            for dataset, path in _store_files(project_root) if dataset not in counts)
    except OSError as e:
        if notify is None:
            raise
        notify(f"warning: cannot keep the cases pending review in {pending_dir(project_root)}: {e.strerror or e}")
        return 0
    if notify is not None and count:
        notify(pending_note(count))
    return count


def _save_dataset(
    project_root: str | os.PathLike[str], d: Any, run: Mapping[str, Any], goldens_written: bool, secrets: Sequence[str]
) -> tuple[str, int]:
    from ..model import content_hash
    from .provider import redact_data

    def scrub(value: Any) -> Any:
        return redact_data(value, secrets)

    hashes: dict[Any, str] = {}

    def golden_hash(golden: Any) -> str:  # goldens are often None or repeated text: hash each once
        if golden is None or isinstance(golden, str):
            found = hashes.get(golden)
            if found is None:
                found = hashes[golden] = content_hash(golden)
            return found
        return content_hash(golden)

    dataset = d.dataset
    rel = _project_rel(project_root, dataset.path)
    sources: dict[str, str] = {}  # a dataset's cases share a few files: resolve each once
    cases = {c.id: c for c in dataset.cases}
    positions = {c.id: n for n, c in enumerate(dataset.cases)}
    ran: set[str] = set()
    fresh: list[PendingCase] = []
    for r in d.cases:
        if r.output is None or r.status not in ("passed", "failed") or r.id not in cases:
            continue
        ran.add(r.id)
        if goldens_written:
            continue
        case = cases[r.id]
        value = new_golden(case.golden, r.output, r.data)
        if value == case.golden:
            continue
        fresh.append(
            PendingCase(
                dataset=rel,
                dataset_name=dataset.name,
                prompt=dataset.prompt,
                case=case.id,
                source=sources.get(case.source) or sources.setdefault(case.source, _project_rel(project_root, case.source)),
                line=case.line,
                old=r.golden,  # the run's result, redacted already (as its inputs)
                new=value,
                output=r.output,
                status=r.status,
                score=r.score,
                reason=r.reason,
                asserts=tuple(a.to_json() for a in r.asserts),
                description=scrub(case.description),
                tags=tuple(case.tags),
                inputs=dict(r.inputs) if r.inputs is not None else scrub(dict(case.inputs)),
                model=r.model or d.model,
                run=dict(run),
                position=positions[case.id],
                old_hash=golden_hash(case.golden),
            )
        )
    store = _store_file(project_root, rel)
    if not fresh and not store.exists():
        return rel, 0
    if fresh:  # the store holds these entries and no others (but for the run's time): nothing to write
        fresh.sort(key=lambda e: e.position)
        if _stored_fingerprints(store) == [_fingerprint(e) for e in fresh]:
            return rel, len(fresh)
    # the cases that ran are replaced by what they gave now: their old entries are not even parsed
    kept = [replace(e, position=positions[e.case]) for e in _read(store, skip=ran)
            if e.dataset == rel and (e.case in cases or e.origin == "observed")]
    entries = sorted(kept + fresh, key=lambda e: e.position)
    _write(project_root, rel, entries)
    return rel, len(entries)


# -- reviewing ---------------------------------------------------------------------------------


def accept(
    project_root: str | os.PathLike[str],
    entry: PendingCase,
    golden: Any = None,
    actor: str | None = None,
) -> GoldenChange:
    """Write ``golden`` (default: the proposed one, ``entry.new``) as the case's golden, with
    ``reviewed: {by: actor, at: now}`` (actor default: :func:`~promptctl.registry.actor.current_actor`),
    and drop the entry. Raises :class:`~promptctl.errors.StaleReviewError` (nothing written) when the
    case's golden in the file is no longer the one the run saw, or the case is gone."""
    outcome = accept_all(project_root, [entry], goldens=None if golden is None else {entry.key: golden}, actor=actor)
    if outcome.refused:
        _, why = outcome.refused[0]
        raise StaleReviewError(f"{entry.name}: {why}", hint=rerun_hint(entry))
    return outcome.accepted[0][1]


def accept_all(
    project_root: str | os.PathLike[str],
    entries: Sequence[PendingCase],
    *,
    goldens: Mapping[str, Any] | None = None,
    actor: str | None = None,
    at: str | None = None,
) -> Outcome:
    """Accept each of ``entries`` (as :func:`accept`), one write per file; ``goldens`` maps an entry's
    :attr:`~PendingCase.key` to the golden to write instead of the proposed one. A case that cannot be
    accepted is refused, with why, and stays pending; the others are written."""
    from ..project import open_project
    from ..registry.actor import current_actor
    from .goldens import write_goldens

    outcome = Outcome()
    if not entries:
        return outcome
    root = Path(project_root)
    project = open_project(root)
    by_dataset: dict[str, list[PendingCase]] = defaultdict(list)
    for e in entries:
        by_dataset[e.dataset].append(e)
    updates = []
    chosen: list[PendingCase] = []
    additions: dict[str, list[tuple[PendingCase, Any]]] = defaultdict(list)
    for rel, group in by_dataset.items():
        try:
            dataset = project.load_dataset(rel)
        except PromptctlError as err:
            outcome.refused.extend((e, f"cannot read the dataset: {err}") for e in group)
            continue
        cases = {c.id: c for c in dataset.cases}
        for e in group:
            value = goldens[e.key] if goldens is not None and e.key in goldens else e.new
            case = cases.get(e.case)
            if e.origin == "observed":
                if case is not None:
                    outcome.refused.append((e, f"{rel} already has a case {e.case!r}"))
                else:
                    additions[rel].append((e, value))
                continue
            if case is None:
                outcome.refused.append((e, f"{rel} has no case {e.case!r} any more"))
            elif not _unchanged(case.golden, e) and case.golden != value:
                outcome.refused.append((e, f"its golden in {case.source}:{case.line} changed since the run"))
            else:
                updates.append((case, value))
                chosen.append(e)
    if updates or additions:
        reviewed = {"by": actor or current_actor(root), "at": at or _now()}
        if updates:
            changes = write_goldens(updates, reviewed=reviewed)
            outcome.accepted.extend(zip(chosen, changes, strict=True))
            _remove(root, chosen)
        for rel, added in additions.items():
            from .goldens import add_cases

            path = root / rel
            add_cases(path, [(e.case, e.inputs, value) for e, value in added], reviewed=reviewed)
            outcome.accepted.extend((e, GoldenChange(rel, 0, e.case, None, value)) for e, value in added)
            _remove(root, [e for e, _ in added])
    return outcome


def propose(project_root: str | os.PathLike[str], entries: Sequence[PendingCase]) -> int:
    """Add new cases proposed from production (``origin="observed"``) to the pending store, next to
    what is there; an entry whose key is already pending is left as it was. Returns how many were added."""
    by_dataset: dict[str, list[PendingCase]] = defaultdict(list)
    for e in entries:
        by_dataset[e.dataset].append(e)
    added = 0
    for rel, group in by_dataset.items():
        before = _read(_store_file(project_root, rel))
        keys = {e.key for e in before}
        fresh = [e for e in group if e.key not in keys]
        if fresh:
            _write(project_root, rel, [*before, *fresh])
            added += len(fresh)
    return added


def _unchanged(golden: Any, entry: PendingCase) -> bool:
    """Whether ``golden`` (the case's, in the file now) is the one the run saw."""
    if not entry.old_hash:
        return bool(golden == entry.old)
    from ..model import content_hash

    return content_hash(golden) == entry.old_hash


def reject(project_root: str | os.PathLike[str], entry: PendingCase) -> None:
    """Drop ``entry`` from the store; the dataset file is left as it is."""
    _remove(project_root, [entry])


def reject_all(project_root: str | os.PathLike[str], entries: Sequence[PendingCase]) -> int:
    """Drop every one of ``entries``; return how many were pending."""
    return _remove(project_root, entries)


def _remove(project_root: str | os.PathLike[str], entries: Iterable[PendingCase]) -> int:
    by_dataset: dict[str, set[str]] = defaultdict(set)
    for e in entries:
        by_dataset[e.dataset].add(e.case)
    removed = 0
    for rel, ids in by_dataset.items():
        before = _read(_store_file(project_root, rel))
        after = [e for e in before if e.case not in ids]
        if len(after) != len(before):
            removed += len(before) - len(after)
            _write(project_root, rel, after)
    return removed


def rerun_hint(entry: PendingCase) -> str:
    """What to run to propose the case's golden anew."""
    import shlex

    return f"run `promptctl test {shlex.quote(entry.dataset)} -k {shlex.quote(entry.case)}` again, then review it"


# -- showing a change --------------------------------------------------------------------------


def edited_golden(entry: PendingCase, text: str) -> Any:
    """The golden a reviewer typed for ``entry``: JSON data when the proposed golden is JSON data,
    else the text (line endings as a browser sends them, CRLF, made LF). ValueError when empty or not JSON."""
    text = text.replace("\r\n", "\n")
    if not text.strip():
        raise ValueError("the edited golden is empty")
    if isinstance(entry.new, (dict, list)):
        try:
            return json.loads(text)
        except ValueError as e:
            raise ValueError(f"the edited golden is not JSON ({e})") from None
    return text


def diff_lines(entry: PendingCase, context: int = 3) -> list[str]:
    """The unified diff from the golden to the proposed one (``---``/``+++`` header first)."""
    old = golden_text(entry.old).splitlines()
    new = golden_text(entry.new).splitlines()
    return list(difflib.unified_diff(old, new, "golden", "new output", lineterm="", n=context))


def change_summary(entry: PendingCase, width: int = 60) -> str:
    """What changed, in a few words: ``new golden: "…"``, ``"old" → "new"`` or ``-2 +3 lines``."""
    new = golden_text(entry.new)
    if entry.old is None:
        return f"new golden: {_short(new, width)}"
    old = golden_text(entry.old)
    if "\n" not in old and "\n" not in new:
        half = max(10, width // 2)
        same = 0  # a long common beginning is cut, so that what changed shows
        for x, y in zip(old, new, strict=False):
            if x != y:
                break
            same += 1
        start = same - 12 if same > half - 12 else 0
        lead = "…" if start else ""
        return f"{lead}{_short(old[start:], half)} → {lead}{_short(new[start:], half)}"
    minus = plus = 0
    for line in diff_lines(entry, 0)[2:]:
        if line.startswith("-"):
            minus += 1
        elif line.startswith("+"):
            plus += 1
    return f"-{minus} +{plus} lines"


def _short(text: str, width: int) -> str:
    shown = json.dumps(text, ensure_ascii=False)
    return shown if len(shown) <= width else shown[: width - 2] + "…\""
