"""Channels on a local registry: promote, rollback, release, history, races, damage and the HEAD.json mirror."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import GIT_ENV
from test_registry import PROJECT, make_project, race, registry

from promptctl.errors import ConflictError
from promptctl.registry.channels import (
    append_record,
    decode_record,
    head_key,
    read_records,
    record_hash,
    record_key,
)
from promptctl.registry.resolve import RegistryHandle
from promptctl.registry.stores import LocalStore


@pytest.fixture
def three(git_repo, git_env, cli) -> Path:
    """A project with v1, v2 and v3 published."""
    root = make_project(git_repo)
    assert cli(["publish"], cwd=root).code == 0
    for word in ("points", "items"):
        git_repo.commit(word, {"prompts/summarize.prompt.yaml": PROJECT["prompts/summarize.prompt.yaml"].replace("bullets", word)})
        assert cli(["publish"], cwd=root).code == 0
    return root


def heads(root: Path, channel: str) -> list[tuple[int, str, int, bool]]:
    return [(r["seq"], r["action"], r["version"], r["held"]) for r in read_records(registry(root), channel)]


def test_promote_writes_chained_records_and_mirrors_the_head(three, cli):
    r = cli(["promote", "v1", "production", "-m", "first"], cwd=three)
    assert (r.code, r.out) == (0, "production: (new) -> v1 (promote, record 1)\n")
    assert cli(["promote", "v2", "production"], cwd=three).out == "production: v1 -> v2 (promote, record 2)\n"
    r = cli(["promote", "v2", "production"], cwd=three)
    assert (r.code, r.out) == (0, "production: v2 (unchanged)\n") and "already serves v2" in r.err
    store = registry(three)
    records = read_records(store, "production")
    assert [(x["seq"], x["version"], x["reason"]) for x in records] == [(1, 1, "first"), (2, 2, None)]
    assert records[0]["prev"] is None and records[1]["prev"] == record_hash(records[0])
    assert records[1]["actor"] == "Ann Author <ann@example.com>"
    assert records[1]["digest"] == json.loads(store.read("bundles/v000002.json"))["digest"]
    assert store.read(head_key("production")) == store.read(record_key("production", 2))
    from promptctl.schemas import is_valid

    assert all(is_valid(x, "channel-record") for x in records)
    # promote a channel's version to another channel
    assert cli(["promote", "production", "staging"], cwd=three).out == "staging: (new) -> v2 (promote, record 1)\n"


def test_rollback_hold_and_release(three, cli):
    for v in ("v1", "v2", "v3"):
        assert cli(["promote", v, "production"], cwd=three).code == 0
    r = cli(["rollback", "production", "-m", "wrong language"], cwd=three)
    assert r.code == 0 and r.out == "production: v3 -> v2 (rollback, record 4, on hold)\n"
    assert "promote refuses until `promptctl release production`" in r.err
    r = cli(["promote", "v3", "production"], cwd=three)
    assert r.code == 2 and "channel 'production' is on hold (rollback to v2 by Ann Author" in r.err
    assert "wrong language" in r.err and "promptctl release production" in r.err
    assert heads(three, "production")[-1] == (4, "rollback", 2, True)
    # a second rollback goes further back, never to the version a rollback moved away from
    assert cli(["rollback", "production"], cwd=three).out == "production: v2 -> v1 (rollback, record 5, on hold)\n"
    r = cli(["rollback", "production", "--to", "v3", "--format", "json"], cwd=three)
    assert json.loads(r.out)["version"] == 3 and json.loads(r.out)["held"] is True
    r = cli(["promote", "v1", "production", "--force"], cwd=three)
    assert r.code == 0 and "stays on hold" in r.err
    r = cli(["release", "production", "-m", "fixed"], cwd=three)
    assert r.out == "production: released, serving v1 (record 8)\n"
    r = cli(["release", "production"], cwd=three)
    assert r.code == 0 and "not on hold" in r.err
    assert cli(["promote", "v3", "production"], cwd=three).code == 0
    assert heads(three, "production") == [
        (1, "promote", 1, False), (2, "promote", 2, False), (3, "promote", 3, False), (4, "rollback", 2, True),
        (5, "rollback", 1, True), (6, "rollback", 3, True), (7, "promote", 1, True), (8, "release", 1, False),
        (9, "promote", 3, False),
    ]
    r = cli(["history", "production"], cwd=three)
    lines = r.out.splitlines()
    assert r.code == 0 and len(lines) == 9
    assert lines[0].startswith("#9 ") and "promote" in lines[0] and "v1 -> v3" in lines[0]
    assert "release" in lines[1] and '"fixed"' in lines[1]
    assert "rollback" in lines[5] and "v3 -> v2" in lines[5] and "held" in lines[5] and '"wrong language"' in lines[5]
    records = json.loads(cli(["history", "production", "-n", "2", "--format", "json"], cwd=three).out)
    assert [x["seq"] for x in records] == [9, 8]


def test_rollback_needs_an_earlier_version(three, cli):
    assert cli(["promote", "v1", "production"], cwd=three).code == 0
    r = cli(["rollback", "production"], cwd=three)
    assert r.code == 2 and "no earlier version" in r.err and "--to vN" in r.err
    r = cli(["rollback", "nochannel"], cwd=three)
    assert r.code == 2 and "no channel named 'nochannel'" in r.err


@pytest.mark.parametrize("name", ["v3", "bad/name", "-x", "HEAD"])
def test_channel_names_that_read_as_something_else_are_refused(three, cli, name):
    r = cli(["promote", "v1", name], cwd=three)
    assert r.code == 2 and ("channel" in r.err or "no such option" in r.err)


def test_a_stale_writer_gets_a_conflict_and_writes_nothing(three, cli):
    assert cli(["promote", "v1", "production"], cwd=three).code == 0
    store = registry(three)
    seen = read_records(store, "production")
    assert cli(["promote", "v2", "production"], cwd=three).code == 0  # someone else moves it meanwhile
    digest = json.loads(store.read("bundles/v000003.json"))["digest"]
    with pytest.raises(ConflictError) as e:
        append_record(store, "production", seen, version=3, digest=digest, action="promote", actor="me", reason=None,
                      held=False)
    assert "record 2 was written by someone else" in str(e.value) and "run the command again" in str(e.value)
    assert e.value.exit_code == 1
    assert [x["version"] for x in read_records(store, "production")] == [1, 2]


MOVER = """\
import json, os, sys, time
from promptctl.errors import ConflictError
from promptctl.registry.channels import append_record, read_records
from promptctl.registry.bundle import read_bundle
from promptctl.registry.stores import open_store
store = open_store(sys.argv[1])
retry = sys.argv[2] == "retry"
me, gate = sys.argv[3], sys.argv[4]
version = int(me[1:]) % 3 + 1
digest = read_bundle(store, version)["digest"]
records = read_records(store, "production")
open(os.path.join(gate, me), "w").close()
while not os.path.exists(os.path.join(gate, "go")):
    time.sleep(0.001)
conflicts = 0
while True:
    try:
        record = append_record(store, "production", records, version=version, digest=digest, action="promote",
                               actor=me, reason=None, held=False)
        print(json.dumps({"me": me, "seq": record["seq"], "conflicts": conflicts}))
        break
    except ConflictError:
        conflicts += 1
        if not retry:
            print(json.dumps({"me": me, "conflict": True}))
            break
        records = read_records(store, "production")
"""


def check_mover_race(store, outs: list[str], *, retry: bool, before: int) -> None:
    from promptctl.registry.verify import verify_registry

    results = [json.loads(o) for o in outs]
    records = read_records(store, "production")  # the chain verifies (raises otherwise)
    landed = sorted(r["seq"] for r in results if "seq" in r)
    if retry:  # nothing lost: every writer's move landed, each in its own record
        assert landed == list(range(before + 1, before + 9))
        assert {x["actor"] for x in records[before:]} == {f"p{i}" for i in range(8)}
    else:  # all raced for the same seq: exactly one wins, the others report a conflict
        assert landed == [before + 1] and sum(1 for r in results if r.get("conflict")) == 7
    assert len(records) == before + len(landed)
    assert decode_record(store.read(head_key("production")), key="HEAD", channel="production") == records[-1]
    report = verify_registry(store)
    assert report.ok, report.problems


@pytest.mark.parametrize("mode", ["once", "retry"])
def test_eight_processes_moving_one_channel(three, cli, tmp_path, mode):
    assert cli(["promote", "v1", "production"], cwd=three).code == 0
    url = str(three / ".promptctl" / "registry")
    outs = race(tmp_path, MOVER, [url, mode])
    check_mover_race(registry(three), outs, retry=mode == "retry", before=1)


def test_eight_promote_commands_at_once_land_or_report_a_conflict(three, cli):
    assert cli(["promote", "v1", "production"], cwd=three).code == 0
    procs = [subprocess.Popen([sys.executable, "-m", "promptctl", "promote", f"v{i % 3 + 1}", "production", "--force",
                               "-m", f"p{i}"], cwd=three, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, **GIT_ENV}) for i in range(8)]
    landed = 0
    for p in procs:
        out, err = p.communicate(timeout=60)
        if p.returncode == 0:
            landed += "record" in out
        else:
            assert p.returncode == 1 and "moved while this command ran" in err and "Traceback" not in err, err
    records = read_records(registry(three), "production")
    assert len(records) == 1 + landed
    assert cli(["verify"], cwd=three).code == 0


def flip(path: Path, old: bytes, new: bytes) -> None:
    raw = path.read_bytes()
    assert raw.count(old) == 1
    path.write_bytes(raw.replace(old, new))


def test_a_flipped_byte_in_a_record_is_found_and_refused(three, cli):
    for v, why in (("v1", "one"), ("v2", "two"), ("v3", "three")):
        assert cli(["promote", v, "production", "-m", why], cwd=three).code == 0
    folder = three / ".promptctl" / "registry" / "channels" / "production"
    flip(folder / "000002.json", b'"reason":"two"', b'"reason":"twO"')
    r = cli(["verify"], cwd=three)
    assert r.code == 1
    # either end of the broken link may be the altered one: neither is trusted
    assert r.out == ("corrupt: channels/production/000002.json: hash chain broken: record 3 does not link to it "
                     "(record 2 or 3 was altered)\n"
                     "corrupt: channels/production/000003.json: hash chain broken: prev does not match record 2 "
                     "(record 2 or this one was altered)\n")
    for args in (["history", "production"], ["show", "production"], ["promote", "v1", "production"],
                 ["rollback", "production"], ["render", "summarize", "--ref", "production"], ["versions"]):
        r = cli(args, cwd=three)
        assert r.code == 1 and "channels/production/000002.json: hash chain broken" in r.err, (args, r.err)
        assert "verify --repair --channel production" in r.err
    assert len(os.listdir(folder)) == 4  # nothing was written


def test_a_flipped_byte_in_the_newest_record_is_found(three, cli):
    for v in ("v1", "v2"):
        assert cli(["promote", v, "production", "-m", "ok"], cwd=three).code == 0
    folder = three / ".promptctl" / "registry" / "channels" / "production"
    flip(folder / "000002.json", b'"version":2', b'"version":3')
    r = cli(["verify"], cwd=three)
    assert r.code == 1
    assert "corrupt: channels/production/000002.json: points at v3 with a digest that is not v3's" in r.out
    assert "corrupt: channels/production/HEAD.json: disagrees with record 2" in r.out
    r = cli(["history", "production"], cwd=three)
    assert r.code == 1 and "HEAD.json and record 2 disagree" in r.err
    # a damaged JSON text is named too
    (folder / "000001.json").write_bytes(b"{not json")
    r = cli(["verify", "--format", "json"], cwd=three)
    problems = json.loads(r.out)["problems"]
    assert {"object": "channels/production/000001.json", "kind": "corrupt"}.items() <= problems[0].items()


def test_a_stale_mirror_is_reported_and_repaired(three, cli):
    assert cli(["promote", "v1", "production"], cwd=three).code == 0
    store = registry(three)
    records = read_records(store, "production")
    # a writer that stopped between its record and the mirror: record 2 exists, HEAD.json still says 1
    digest = json.loads(store.read("bundles/v000002.json"))["digest"]
    record = {**records[0], "seq": 2, "version": 2, "digest": digest, "prev": record_hash(records[0])}
    from promptctl.registry.channels import encode_record

    store.create(record_key("production", 2), encode_record(record))
    assert read_records(store, "production")[-1]["version"] == 2  # readers that list use the records
    assert cli(["show", "production"], cwd=three).out.startswith("v2 ")
    r = cli(["verify"], cwd=three)
    assert r.code == 1 and r.out == ("stale: channels/production/HEAD.json: mirrors record 1, "
                                     "but the head is record 2\n")
    r = cli(["verify", "--repair"], cwd=three)
    assert r.code == 0 and "repaired channels/production/HEAD.json: rewritten from record 2" in r.err
    assert cli(["verify"], cwd=three).code == 0
    (three / ".promptctl" / "registry" / "channels" / "production" / "HEAD.json").unlink()
    r = cli(["verify"], cwd=three)
    assert r.code == 1 and "missing: channels/production/HEAD.json" in r.out
    assert cli(["promote", "v3", "production"], cwd=three).code == 0  # the next move rewrites it
    assert cli(["verify"], cwd=three).code == 0


def test_actor_comes_from_the_environment(monkeypatch, tmp_path):
    from promptctl.registry.actor import current_actor

    for key in ("PROMPTCTL_ACTOR", "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GITHUB_ACTOR", "GITLAB_USER_LOGIN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GITHUB_ACTOR", "octocat")
    assert current_actor(tmp_path) == "octocat (github)"
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Ann")
    assert current_actor(tmp_path) == "Ann"
    monkeypatch.setenv("PROMPTCTL_ACTOR", "release-bot")
    assert current_actor(tmp_path) == "release-bot"


def test_ops_work_on_any_store(tmp_path, git_repo, git_env, cli):
    """The channel operations take a handle on a bare store (no project), as --registry gives."""
    from promptctl.registry import ops

    root = make_project(git_repo)
    assert cli(["publish", "--force"], cwd=root).code == 0 and cli(["publish", "--force"], cwd=root).code == 0
    handle = RegistryHandle(LocalStore(root / ".promptctl" / "registry"))
    assert ops.promote(handle, "v1", "canary", actor="a").written
    assert ops.promote(handle, "v2", "canary", actor="a").record["seq"] == 2
    assert ops.rollback(handle, "canary", actor="a").record["version"] == 1
    assert [r["action"] for r in ops.history(handle, "canary").records()] == ["rollback", "promote", "promote"]
