"""`promptctl test --shard I/N` and `promptctl report merge`: every case in exactly one shard, and the
merged verdict equal to the unsharded one. Recorded once over real HTTP, then replayed per shard."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import local_project
from llm_server import LLMServer

from promptctl.evals.shards import shard_of


@pytest.fixture(scope="module")
def server():
    s = LLMServer().start()
    yield s
    s.stop()


def dataset(prompt_threshold: float, words: list[str]) -> str:
    rows = "\n".join(f'  - {{id: c{i}, inputs: {{q: "{w} {i}"}}}}' for i, w in enumerate(words))
    return f"prompt: qa\nthreshold: {prompt_threshold}\ndefaults:\n  assert: [{{type: contains, value: ok}}]\ncases:\n{rows}\n"


@pytest.fixture
def project(tmp_path, server, cli, monkeypatch):
    """Two datasets: qa (25 of 30 pass, threshold 0.8: met) and qb (9 of 10 pass, threshold 1: missed)."""
    monkeypatch.setenv("LOCAL_KEY", "k")
    root = local_project(tmp_path / "p", server.url, {
        "evals/qa.eval.yaml": dataset(0.8, ["ok"] * 25 + ["no"] * 5),
        "evals/qb.eval.yaml": dataset(1.0, ["ok"] * 9 + ["no"]),
    })
    r = cli(["test", "--mode", "auto", "--format", "json"], cwd=root)
    assert r.code == 1 and json.loads(r.out)["summary"]["cases"] == 40, r.err
    return root


def run_shards(cli, root: Path, n: int) -> list[Path]:
    paths = []
    for i in range(1, n + 1):
        out = root / f"shard-{i}-of-{n}.json"
        r = cli(["test", "--mode", "replay", "--shard", f"{i}/{n}", "--format", "json", "-o", str(out)], cwd=root)
        assert r.code == 0, r.err  # a share never judges a threshold
        assert f"shard {i}/{n} ok" in r.err
        paths.append(out)
    return paths


def ids(report: dict) -> dict[str, list[str]]:
    return {d["name"]: [c["id"] for c in d["cases"]] for d in report["datasets"]}


def test_every_case_lands_in_exactly_one_shard_and_always_the_same(project, cli):
    reports = [json.loads(p.read_text()) for p in run_shards(cli, project, 4)]
    assert all(r["shard"]["count"] == 4 for r in reports)
    for name, total in (("qa", 30), ("qb", 10)):
        seen = [case for r in reports for case in ids(r).get(name, [])]
        assert sorted(seen) == sorted(f"c{i}" for i in range(total))  # all, none twice
    again = [json.loads(p.read_text()) for p in run_shards(cli, project, 4)]
    assert [ids(r) for r in again] == [ids(r) for r in reports]
    # by identity: a case's shard does not depend on the other cases
    assert shard_of("evals/qa.eval.yaml", "c3", 4) == next(
        i + 1 for i, r in enumerate(reports) if "c3" in ids(r).get("qa", []))


@pytest.mark.parametrize("n", [1, 3, 7])
def test_the_merged_verdict_equals_the_unsharded_one(project, cli, n):
    whole = cli(["test", "--mode", "replay", "--format", "json"], cwd=project)
    merged = cli(["report", "merge", *map(str, run_shards(cli, project, n)), "--format", "json"], cwd=project)
    assert merged.code == whole.code == 1  # qb misses its threshold, in both
    a, b = json.loads(merged.out), json.loads(whole.out)
    assert a["ok"] is b["ok"] is False and a["shard"] is None
    drop = ("duration_s",)
    assert {k: v for k, v in a["summary"].items() if k not in drop} == {k: v for k, v in b["summary"].items() if k not in drop}
    shape = lambda r: [(d["name"], d["pass_rate"], d["ok"], d["cost_usd"], d["latency_ms"]) for d in r["datasets"]]  # noqa: E731
    assert shape(a) == shape(b) and ids(a) == ids(b)  # same figures, cases in the dataset's order
    assert "1 dataset under threshold" in merged.err


def test_merged_reports_come_in_every_format(project, cli, tmp_path):
    shards = list(map(str, run_shards(cli, project, 2)))
    junit = tmp_path / "evals.xml"
    r = cli(["report", "merge", *shards, "--format", "junit", "-o", str(junit)], cwd=project)
    assert r.code == 1
    cases = [c for c in ET.parse(junit).getroot().iter("testcase") if c.get("classname") in ("promptctl.qa", "promptctl.qb")]
    assert len([c for c in cases if c.get("name", "").startswith("c")]) == 40
    md = cli(["report", "merge", *shards, "--format", "markdown"], cwd=project)
    assert md.code == 1 and "| ✅ | qa |" in md.out and "| ❌ | qb |" in md.out and "25/30" in md.out
    one = cli(["report", shards[0], "--format", "markdown"], cwd=project)  # one report, shown again
    assert one.code == 2 and "missing shard 2/2" in one.err


def test_a_shard_may_hold_no_case(project, cli, tmp_path):
    paths = run_shards(cli, project, 60)  # 40 cases: some shards are empty
    empty = [p for p in paths if not json.loads(p.read_text())["datasets"]]
    assert empty
    merged = cli(["report", "merge", *map(str, paths), "--format", "json"], cwd=project)
    assert merged.code == 1 and json.loads(merged.out)["summary"]["cases"] == 40


def test_merge_refuses_what_is_not_one_whole_run(project, cli, tmp_path):
    s = list(map(str, run_shards(cli, project, 3)))
    cases = [
        ([s[0], s[2]], "missing shard 2/3"),
        ([s[0], s[1], s[2], s[1]], "shard 2/3 is in both"),
        ([s[0], *map(str, run_shards(cli, project, 2))], "cut differently"),
    ]
    whole = tmp_path / "whole.json"
    cli(["test", "--mode", "replay", "--format", "json", "-o", str(whole)], cwd=project)
    cases.append(([str(whole), str(whole)], "is in both"))
    cases.append(([str(whole), s[0], s[1], s[2]], "is not a shard's report"))
    other = json.loads(whole.read_text())
    other["version"] = "v9"
    (tmp_path / "v9.json").write_text(json.dumps(other))
    cases.append(([str(whole), str(tmp_path / "v9.json")], "different versions"))
    for args, message in cases:
        r = cli(["report", "merge", *args], cwd=project)
        assert r.code == 2 and message in r.err, (args, r.err)
    bad = tmp_path / "bad.json"
    bad.write_text('{"promptctl": "0.1.0",\n  "datasets": [}\n')
    r = cli(["report", "merge", str(bad)], cwd=project)
    assert r.code == 2 and f"{bad}:2:" in r.err
    (tmp_path / "junit.json").write_text("[1, 2]")
    r = cli(["report", "merge", str(tmp_path / "junit.json")], cwd=project)
    assert r.code == 2 and "not a promptctl test report" in r.err
    r = cli(["report", "merge", str(tmp_path / "nope.json")], cwd=project)
    assert r.code == 2 and "no such report" in r.err


@pytest.mark.parametrize("spec", ["0/4", "5/4", "x", "1/0", "1/4/2"])
def test_a_bad_shard_is_a_usage_error(project, cli, spec):
    r = cli(["test", "--mode", "replay", "--shard", spec], cwd=project)
    assert r.code == 2 and "--shard" in r.err
