"""One damaged object does not jam the registry: versions and history list what is good and mark what
is damaged, and `verify --repair --channel` re-anchors a broken chain with a new audited record."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from test_channels import flip, three  # noqa: F401 - the fixture
from test_registry import registry

from promptctl.registry.channels import encode_record, read_records, record_key, scan_records
from promptctl.runtime import Registry

CHANNELS = Path(".promptctl") / "registry" / "channels" / "production"


def promote_all(root: Path, cli, *versions: str) -> None:
    for v in versions:
        assert cli(["promote", v, "production", "--force", "-m", f"to {v}"], cwd=root).code == 0


def listing(root: Path) -> list[str]:
    return sorted(os.listdir(root / CHANNELS))


def test_a_corrupt_bundle_is_listed_as_damaged_and_the_rest_still_shown(three, cli):  # noqa: F811
    promote_all(three, cli, "v3")
    bundle = three / ".promptctl" / "registry" / "bundles" / "v000002.json"
    bundle.write_bytes(bundle.read_bytes().replace(b"points", b"pOints", 1))
    r = cli(["versions"], cwd=three)
    assert r.code == 1
    lines = r.out.splitlines()
    assert [line.split()[0] for line in lines] == ["v3", "v2", "v1"]
    assert "[production]" in lines[0] and "DAMAGED" not in lines[0]
    assert "DAMAGED" in lines[1] and "bundles/v000002.json" in lines[1]
    assert "error: bundles/v000002.json" in r.err
    rows = json.loads(cli(["versions", "--format", "json"], cwd=three).out)
    assert [(row["name"], row["damaged"] is not None) for row in rows] == [("v3", False), ("v2", True), ("v1", False)]
    assert rows[0]["channels"] == ["production"] and rows[2]["digest"].startswith("sha256:")


def test_a_flipped_middle_record_is_marked_in_history_and_repaired(three, cli):  # noqa: F811
    promote_all(three, cli, "v1", "v2", "v3", "v2")
    flip(three / CHANNELS / "000003.json", b'"reason":"to v3"', b'"reason":"to v4"')
    r = cli(["history", "production"], cwd=three)
    assert r.code == 1
    lines = r.out.splitlines()
    # records 3 (altered) and 4 (its link no longer checks) are damaged, 1 and 2 still listed
    assert [line.split()[0] for line in lines] == ["#4", "#3", "#2", "#1"]
    assert [line.split()[1] for line in lines[:2]] == ["DAMAGED", "DAMAGED"]
    assert "hash chain broken" in lines[0] and "(not repaired)" in lines[0]
    assert lines[2].startswith("#2") and "v1 -> v2" in lines[2] and lines[3].startswith("#1")
    assert "verify --repair --channel production" in r.err
    entries = json.loads(cli(["history", "production", "--format", "json"], cwd=three).out)
    assert [(e["seq"], e.get("damaged")) for e in entries] == [(4, "corrupt"), (3, "corrupt"), (2, None), (1, None)]

    # the channel refuses to move until repaired; a repair needs a reason
    assert cli(["promote", "v1", "production"], cwd=three).code == 1
    r = cli(["verify", "--repair", "--channel", "production"], cwd=three)
    assert r.code == 2 and "needs a reason" in r.err
    assert listing(three) == ["000001.json", "000002.json", "000003.json", "000004.json", "HEAD.json"]

    r = cli(["verify", "--repair", "--channel", "production", "-m", "disk fault on record 3"], cwd=three)
    assert r.code == 0, r.err
    assert "production: v2 -> v2 (repair, record 5)" in r.err and "re-anchored on record 2" in r.err
    assert "skipped damaged records 3, 4; re-anchored on record 2, serving v2" in r.err
    assert r.out == "" and "known damage: corrupt: channels/production/000003.json" in r.err
    assert "ok:" in r.err and "2 damaged records skipped by repairs" in r.err
    assert listing(three) == ["000001.json", "000002.json", "000003.json", "000004.json", "000005.json", "HEAD.json"]
    records = read_records(registry(three), "production")
    assert [(x["seq"], x["action"], x["version"]) for x in records] == [(1, "promote", 1), (2, "promote", 2), (5, "repair", 2)]
    repair = records[-1]
    assert repair["reason"] == "disk fault on record 3" and repair["repair"]["anchor"] == 2
    assert [s["seq"] for s in repair["repair"]["skipped"]] == [3, 4]
    from promptctl.schemas import is_valid

    assert is_valid(repair, "channel-record")

    r = cli(["history", "production"], cwd=three)
    assert r.code == 0, r.err
    assert r.out.splitlines()[0].startswith("#5") and "repair" in r.out.splitlines()[0]
    assert "(skipped by repair #5)" in r.out.splitlines()[1]
    # the channel moves again: promote, rollback (to the version before the repair's), release
    assert cli(["promote", "v3", "production", "-m", "again"], cwd=three).code == 0
    r = cli(["rollback", "production", "-m", "bad"], cwd=three)
    assert r.code == 0 and "v3 -> v2 (rollback, record 7" in r.out
    assert cli(["verify"], cwd=three).code == 0
    # a second repair finds nothing to do and writes nothing
    r = cli(["verify", "--repair", "--channel", "production", "-m", "again"], cwd=three)
    assert r.code == 0 and "nothing to repair" in r.err
    assert len(listing(three)) == 8


def test_a_missing_record_and_a_damaged_head(three, cli):  # noqa: F811
    promote_all(three, cli, "v1", "v2", "v3")
    (three / CHANNELS / "000002.json").unlink()
    r = cli(["verify"], cwd=three)
    assert r.code == 1
    assert "missing: channels/production/000002.json: record 2 is missing" in r.out
    assert "unverified: channels/production/000003.json: follows damaged record 2" in r.out
    r = cli(["verify", "--repair", "--channel", "production", "--to", "v3", "-m", "record 2 lost"], cwd=three)
    assert r.code == 0, r.err
    head = read_records(registry(three), "production")[-1]
    assert (head["seq"], head["version"], head["repair"]["skipped"]) == (4, 3, [
        {"seq": 2, "sha256": None}, {"seq": 3, "sha256": head["repair"]["skipped"][1]["sha256"]}])
    # now the head itself is damaged: a torn write of record 5
    promote_all(three, cli, "v1")
    (three / CHANNELS / "000005.json").write_bytes(b'{"format":"promptctl.channel/1","chan')
    r = cli(["history", "production"], cwd=three)
    assert r.code == 1 and r.out.startswith("#5     DAMAGED  not valid JSON")
    assert "(skipped by repair #4)" in r.out  # the earlier damage stays marked as repaired
    r = cli(["verify", "--repair", "--channel", "production", "-m", "torn write"], cwd=three)
    assert r.code == 0, r.err
    assert "v3 -> v3 (repair, record 6)" in r.err and "re-anchored on record 4" in r.err
    assert cli(["show", "production"], cwd=three).out.startswith("v3 ")


def test_a_repair_that_does_not_match_the_damage_is_refused(three, cli):  # noqa: F811
    promote_all(three, cli, "v1", "v2", "v3")
    flip(three / CHANNELS / "000002.json", b'"reason":"to v2"', b'"reason":"to v9"')
    assert cli(["verify", "--repair", "--channel", "production", "-m", "fix"], cwd=three).code == 0
    assert cli(["verify"], cwd=three).code == 0
    # more damage after the repair was written: record 1 now fails too, so the repair no longer matches
    flip(three / CHANNELS / "000001.json", b'"reason":"to v1"', b'"reason":"to v0"')
    scan = scan_records(registry(three), "production")
    assert [(d.seq, d.kind) for d in scan.broken] == [(1, "corrupt"), (2, "corrupt"), (3, "unverified"), (4, "corrupt")]
    assert scan.records == []
    r = cli(["verify"], cwd=three)
    assert r.code == 1 and "repair record does not match the damage before it" in r.out
    # a hand-written repair record that skips the wrong records does not rejoin the chain either
    store = registry(three)
    forged = {**json.loads(store.read(record_key("production", 4))), "seq": 5}
    forged["repair"] = {"anchor": 0, "skipped": [{"seq": 9, "sha256": None}]}
    store.create(record_key("production", 5), encode_record(forged))
    assert cli(["promote", "v1", "production", "--force"], cwd=three).code == 1
    # with no good record left, the version to serve must be named
    r = cli(["verify", "--repair", "--channel", "production", "-m", "fix"], cwd=three)
    assert r.code == 2 and "--to" in r.err
    r = cli(["verify", "--repair", "--channel", "production", "--to", "v2", "-m", "rebuilt"], cwd=three)
    assert r.code == 0, r.err
    head = read_records(store, "production")[-1]
    assert (head["seq"], head["version"], head["held"], head["repair"]["anchor"]) == (6, 2, True, 0)
    assert cli(["verify"], cwd=three).code == 0


def test_the_runtime_serves_across_a_repair(three, cli, tmp_path):  # noqa: F811
    promote_all(three, cli, "v1", "v2")
    reg = Registry(three / ".promptctl" / "registry", channel="production", refresh_s=0, cache_dir=tmp_path / "c")
    assert reg.version == "v2"
    promote_all(three, cli, "v3")
    (three / CHANNELS / "000003.json").write_bytes(b"garbage")
    assert reg.refresh() is False and reg.status()["ok"] is False and reg.version == "v2"
    assert cli(["verify", "--repair", "--channel", "production", "--to", "v1", "-m", "record 3 lost; back to v1"],
               cwd=three).code == 0
    assert reg.refresh() is True and reg.version == "v1" and reg.status()["ok"] is True
    promote_all(three, cli, "v3")
    assert reg.refresh() is True and reg.version == "v3"
    # a new process (first load) follows the repair link too
    fresh = Registry(three / ".promptctl" / "registry", channel="production", refresh_s=0)
    assert fresh.version == "v3"


@pytest.mark.parametrize("args, message", [
    (["verify", "--channel", "production"], "go with --repair"),
    (["verify", "--repair", "--to", "v1", "-m", "x"], "--to needs --channel"),
    (["verify", "--repair", "--channel", "nope", "-m", "x"], "no channel named 'nope'"),
])
def test_repair_usage_errors(three, cli, args, message):  # noqa: F811
    promote_all(three, cli, "v1")
    r = cli(args, cwd=three)
    assert r.code != 0 and message in r.err and "Traceback" not in r.err
