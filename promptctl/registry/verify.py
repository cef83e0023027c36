"""``promptctl verify``: every bundle's digest, form and prompt hashes; every channel's chain and mirror."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import IntegrityError
from .bundle import bundle_key, bundle_prompt, decode_bundle, is_canonical, list_versions, prompt_hash
from .channels import decode_record, encode_record, head_key, list_channels, record_key, scan_records
from .stores import Store


@dataclass
class Problem:
    """One thing wrong in the registry: ``kind`` is corrupt, missing or stale."""

    object: str
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.object}: {self.message}"

    def to_json(self) -> dict[str, str]:
        return {"object": self.object, "kind": self.kind, "message": self.message}


@dataclass
class VerifyReport:
    registry: str
    bundles: int = 0
    channels: int = 0
    records: int = 0
    problems: list[Problem] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    #: damaged records a repair record skips: known, audited, no longer a problem
    acknowledged: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, obj: str, kind: str, message: str) -> None:
        self.problems.append(Problem(obj, kind, message))

    def to_json(self) -> dict[str, Any]:
        return {
            "registry": self.registry,
            "ok": self.ok,
            "bundles": self.bundles,
            "channels": self.channels,
            "records": self.records,
            "problems": [p.to_json() for p in self.problems],
            "repaired": self.repaired,
            "acknowledged": [p.to_json() for p in self.acknowledged],
        }


def schema_problem(data: Any, name: str) -> str | None:
    """How ``data`` breaks schema ``name`` ("breaks the bundle schema at prompts: …"), or None."""
    from ..schemas import is_valid, load_schema

    if is_valid(data, name):
        return None
    from ..jsonschemas import load

    jsonschema = load()
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(load_schema(name)).iter_errors(data))
    where = "/".join(str(p) for p in error.absolute_path) or "$"
    return f"breaks the {name} schema at {where}: {error.message}"


def _check_bundle(store: Store, version: int, report: VerifyReport) -> str | None:
    """Check one bundle; its digest when it is sound."""
    key = bundle_key(version)
    raw = store.read(key)
    if raw is None:
        report.add(key, "missing", "listed but cannot be read")
        return None
    try:
        data = decode_bundle(raw, key=key, version=version)
    except IntegrityError as e:
        report.add(key, "corrupt", e.message)
        return None
    problem = None
    if not is_canonical(raw, data):
        problem = "not in canonical form (edited or damaged)"
    problem = problem or schema_problem(data, "bundle")
    if problem is None:
        for name, entry in data["prompts"].items():
            if prompt_hash(data, bundle_prompt(data, name)) != entry["hash"]:
                problem = f"prompt {name!r} does not match its recorded hash"
                break
    if problem:
        report.add(key, "corrupt", problem)
        return None
    return str(data["digest"])


def _check_channel(store: Store, channel: str, digests: dict[int, str | None], report: VerifyReport,
                   repair: bool) -> None:
    scan = scan_records(store, channel)
    before = len(report.problems)
    report.records += len(scan.records) + sum(d.last - d.seq + 1 for d in scan.damaged)
    for d in scan.damaged:
        if d.repaired_by is None:
            report.add(d.key, d.kind, d.message)
        else:
            report.acknowledged.append(Problem(d.key, d.kind, f"{d.message}; skipped by repair record {d.repaired_by}"))
    for record in scan.records:
        key = record_key(channel, record["seq"])
        problem = schema_problem(record, "channel-record")
        version = record["version"]
        if problem is None and version not in digests:
            report.add(key, "missing", f"points at v{version}, and {bundle_key(version)} does not exist")
        elif problem is None and digests[version] is not None and digests[version] != record["digest"]:
            problem = f"points at v{version} with a digest that is not v{version}'s"
        if problem:
            report.add(key, "corrupt", problem)
    top = scan.records[-1] if scan.records and not scan.broken else None
    last = scan.top
    key = head_key(channel)
    raw = store.read(key)
    mirror_problem: tuple[str, str] | None = None
    if raw is None:
        mirror_problem = ("missing", "HEAD.json is missing: HTTP readers cannot find the head")
    else:
        try:
            mirror = decode_record(raw, key=key, channel=channel)
        except IntegrityError as e:
            mirror_problem = ("corrupt", e.message)
        else:
            if mirror["seq"] > last:
                mirror_problem = ("corrupt", f"names record {mirror['seq']}, but the highest record is {last}")
            elif mirror["seq"] < last:
                mirror_problem = ("stale", f"mirrors record {mirror['seq']}, but the head is record {last}")
            elif top is not None and mirror != top:
                mirror_problem = ("corrupt", f"disagrees with record {last}: one of them is damaged")
    if mirror_problem is None:
        return
    chain_sound = len(report.problems) == before and top is not None
    if repair and chain_sound and mirror_problem[0] in ("missing", "stale"):
        assert top is not None
        store.replace(key, encode_record(top))
        report.repaired.append(f"{key}: rewritten from record {top['seq']}")
        return
    report.add(key, *mirror_problem)


def verify_registry(store: Store, *, repair: bool = False) -> VerifyReport:
    """Check the whole registry; ``repair`` rewrites missing or stale HEAD.json mirrors of sound chains.

    Nothing else is ever rewritten: a corrupt bundle or record is reported, and stays as evidence.
    """
    report = VerifyReport(store.url)
    versions = list_versions(store)
    digests: dict[int, str | None] = {}
    for v in versions:
        report.bundles += 1
        digests[v] = _check_bundle(store, v, report)
    for v in range(1, (versions[-1] if versions else 0) + 1):
        if v not in digests:
            report.add(bundle_key(v), "missing", f"v{v} is missing (v{versions[-1]} exists)")
    for channel in list_channels(store):
        report.channels += 1
        _check_channel(store, channel, digests, report, repair)
    return report
