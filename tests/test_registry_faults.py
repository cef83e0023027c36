"""The registry under hostile or unlucky input: rollback targets, file modes, deep JSON, forged actors."""

from __future__ import annotations

import json
import os

import pytest
from test_runtime import example, publish_change, registry_dir  # noqa: F401 - the fixture


def test_rollback_returns_to_a_version_that_was_good_again(example, cli):  # noqa: F811
    root = example.root
    publish_change(example, cli, "bullet points", "short points")  # v2
    assert cli(["promote", "v2", "production"], cwd=root).code == 0
    assert cli(["rollback", "production", "-m", "bad"], cwd=root).code == 0  # -> v1, held
    assert cli(["release", "production", "-m", "fixed"], cwd=root).code == 0
    assert cli(["promote", "v2", "production"], cwd=root).code == 0  # v2 is good again, and served
    publish_change(example, cli, "short points", "tiny points")  # v3
    assert cli(["promote", "v3", "production"], cwd=root).code == 0
    r = cli(["rollback", "production", "-m", "v3 is bad"], cwd=root)
    assert r.code == 0, r.err
    assert "v3 -> v2" in r.out + r.err


def test_registry_objects_get_the_umask_mode(git_repo, git_env, cli):
    from promptctl.scaffold import init_project

    init_project(git_repo.root)
    git_repo.commit("example")
    old = os.umask(0o022)
    try:
        assert cli(["publish", "-m", "first", "--channel", "production"], cwd=git_repo.root).code == 0
    finally:
        os.umask(old)
    reg = registry_dir(git_repo)
    objects = [reg / "bundles" / "v000001.json", reg / "channels/production/000001.json",
               reg / "channels/production/HEAD.json"]
    assert [p.stat().st_mode & 0o777 for p in objects] == [0o644, 0o644, 0o644]


DEEP = b"[" * 200_000 + b"]" * 200_000


@pytest.mark.parametrize("target", ["bundle", "record", "head"])
def test_deeply_nested_registry_objects_are_clear_errors_not_crashes(example, cli, target):  # noqa: F811
    reg = registry_dir(example)
    path = {"bundle": reg / "bundles/v000001.json", "record": reg / "channels/production/000001.json",
            "head": reg / "channels/production/HEAD.json"}[target]
    path.chmod(0o644)
    path.write_bytes(DEEP)
    commands = [["verify"], ["render", "summarize", "--ref", "production", "-i", "text=x"]]
    if target == "bundle":
        commands += [["render", "summarize", "--ref", "v1", "-i", "text=x"]]
    if target != "bundle":
        commands += [["history", "production"]]
    for args in commands:
        r = cli(args, cwd=example.root)
        assert r.code in (1, 2), (args, r.code, r.err)
        assert "Traceback" not in r.err and path.name in r.err + r.out, (args, r.err)


def test_a_version_number_of_thousands_of_digits_is_a_usage_error(example, cli):  # noqa: F811
    r = cli(["render", "summarize", "--ref", "v" + "9" * 5000, "-i", "text=x"], cwd=example.root)
    assert r.code == 2 and "Traceback" not in r.err


def test_a_forged_actor_cannot_add_lines_to_history(example, cli, monkeypatch):  # noqa: F811
    publish_change(example, cli, "bullet points", "short points")
    monkeypatch.setenv("PROMPTCTL_ACTOR", "mallory\n#99    2026-01-01 00:00:00  promote   v9  \x1b[2Kroot")
    assert cli(["promote", "v2", "production", "-m", "x"], cwd=example.root).code == 0
    out = cli(["history", "production"], cwd=example.root).out
    assert len(out.strip().splitlines()) == 2  # two records, two lines
    assert "#99" not in out.splitlines()[0][:5] and "\x1b" not in out and "\\n" in out
    record = json.loads((registry_dir(example) / "channels/production/000002.json").read_bytes())
    assert "\n" not in record["actor"] and "\x1b" not in record["actor"]
