"""`promptctl recordings prune [--check]` and the stable order of recordings, over real HTTP."""

from __future__ import annotations

import json

import pytest
from conftest import local_project
from llm_server import LLMServer


@pytest.fixture(scope="module")
def server():
    s = LLMServer(latency=0.01).start()
    yield s
    s.stop()


def rows(words: list[str]) -> str:
    return "\n".join(f'  - {{id: c{i}, inputs: {{q: "{w}"}}}}' for i, w in enumerate(words))


@pytest.fixture
def project(tmp_path, server, cli, monkeypatch):
    monkeypatch.setenv("LOCAL_KEY", "k")
    root = local_project(tmp_path / "p", server.url, {
        "prompts/qb.prompt.yaml": 'inputs: {q: string}\nmessages:\n  - role: user\n    content: "b: {{ q }}"\n',
        "evals/qa.eval.yaml": "prompt: qa\ncases:\n" + rows([f"word {i}" for i in range(12)]) + "\n",
        "evals/qb.eval.yaml": "prompt: qb\ncases:\n" + rows(["x", "y"]) + "\n",
    })
    r = cli(["test"], cwd=root)
    assert r.code == 0, r.err
    return root


def keys(path) -> list[str]:
    return [json.loads(x)["key"] for x in path.read_text().splitlines()]


def test_a_tidy_project_has_nothing_to_prune(project, cli):
    r = cli(["recordings", "prune", "--check"], cwd=project)
    assert r.code == 0 and "0 recordings no case uses" in r.err and "kept 14" in r.err


def test_check_lists_the_unused_and_prune_drops_them(project, cli):
    rec = project / ".promptctl/recordings"
    (project / "evals/qa.eval.yaml").write_text("prompt: qa\ncases:\n" + rows([f"word {i}" for i in range(10)]) + "\n")
    (project / "evals/qb.eval.yaml").unlink()
    (project / "prompts/qb.prompt.yaml").unlink()
    before = {p.name: p.read_bytes() for p in rec.iterdir()}
    r = cli(["recordings", "prune", "--check"], cwd=project)
    assert r.code == 1, r.err
    assert ".promptctl/recordings/qa.jsonl: 2 unused" in r.err and ".promptctl/recordings/qb.jsonl: 2 unused" in r.err
    assert "4 recordings no case uses, in 2 files (kept 10)" in r.err
    assert {p.name: p.read_bytes() for p in rec.iterdir()} == before  # --check changes nothing
    j = cli(["recordings", "prune", "--check", "--format", "json"], cwd=project)
    assert j.code == 1 and json.loads(j.out) == {"unused": {"qa.jsonl": 2, "qb.jsonl": 2}, "kept": 10, "pruned": False}

    r = cli(["recordings", "prune"], cwd=project)
    assert r.code == 0 and "pruned 4 recordings from 2 files (kept 10)" in r.err
    assert not (rec / "qb.jsonl").exists() and len(keys(rec / "qa.jsonl")) == 10
    assert keys(rec / "qa.jsonl") == sorted(keys(rec / "qa.jsonl"))
    assert cli(["test", "--mode", "replay"], cwd=project).code == 0  # everything still needed is there
    assert cli(["recordings", "prune", "--check"], cwd=project).code == 0


def test_a_case_without_a_recording_is_named_not_pruned_over(project, cli):
    (project / "evals/qb.eval.yaml").write_text("prompt: qb\ncases:\n" + rows(["x", "new"]) + "\n")
    r = cli(["recordings", "prune"], cwd=project)
    assert r.code == 0 and "pruned 1 recording from 1 file" in r.err and "1 case has no recording" in r.err


def test_recording_again_keeps_the_order_of_the_file(project, cli):
    rec = project / ".promptctl/recordings/qa.jsonl"
    first = keys(rec)
    assert first == sorted(first)  # key order, not the order the answers arrived in
    for _ in range(2):
        assert cli(["test", "--mode", "refresh", "-j", "8"], cwd=project).code == 0
        assert keys(rec) == first
    assert cli(["recordings", "prune", "--check"], cwd=project).code == 0
