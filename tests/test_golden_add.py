"""`promptctl golden add`: observed production calls become pending new cases (deduplicated by inputs),
`promptctl review` accepts them into the dataset, and `promptctl test` runs them (over real HTTP)."""

from __future__ import annotations

import json

import pytest
from conftest import local_project

from promptctl.evals import pending
from promptctl.observe import Observer
from promptctl.project import open_project
from promptctl.runtime import Registry

ACTOR = "Rita Reviewer <rita@example.com>"
DATASET = """\
    # the qa goldens
    prompt: qa
    threshold: 0.5
    cases:
      - id: known
        inputs: {q: "hello"}
        golden: hi there
    """


@pytest.fixture
def root(tmp_path, server, monkeypatch):
    server.reset()
    monkeypatch.setenv("LOCAL_KEY", "sk-test")
    monkeypatch.setenv("PROMPTCTL_ACTOR", ACTOR)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    root = local_project(tmp_path / "p", server.url, {"evals/qa.eval.yaml": DATASET})
    path = root / "prompts/qa.prompt.yaml"
    path.write_text(path.read_text() + "guards:\n  - {type: not-is-refusal}\nobserve: {inputs: true}\n")
    return root


def observe(root, answers):
    obs = Observer(root / "logs" / "obs.jsonl")
    p = Registry.from_project(root, observe=obs).get("qa")
    for q, a in answers:
        p.observe(a, inputs={"q": q}, latency_ms=100)
    assert obs.flush(5)
    return root / "logs"


def test_golden_add_review_accept_then_test(root, server, cli):
    logs = observe(root, [
        ("hello", "I'm sorry, I can't."),        # same inputs as the `known` case: not proposed again
        ("where is my order?", "I'm sorry, I cannot help with that."),
        ("where is my order?", "I'm sorry, I cannot help."),  # the same inputs twice: proposed once
        ("refund?", "Refunds take 5 days."),     # passes its guards
        ("password?", "Sorry, no."),
    ])
    r = cli(["golden", "add", "--from", str(logs), "--prompt", "qa", "--failed"], cwd=root)
    assert r.code == 0, r.err
    assert "2 new cases pending review for evals/qa.eval.yaml (from 5 observations of the prompt)" in r.err
    assert "2 had the inputs of a case already there or pending" in r.err
    assert "1 passed their guards" in r.err
    entries = pending.load_pending(root)
    assert [dict(e.inputs) for e in entries] == [{"q": "where is my order?"}, {"q": "password?"}]
    assert all(e.origin == "observed" and e.old is None and e.status == "failed" for e in entries)
    assert entries[0].new == "I'm sorry, I cannot help with that." and "not-is-refusal" in entries[0].reason

    listed = cli(["review", "--list"], cwd=root)
    assert "evals/qa.eval.yaml (new case)" in listed.out and "new golden:" in listed.out
    # nothing reaches the dataset before a review
    assert "where is my order" not in (root / "evals/qa.eval.yaml").read_text()
    again = cli(["golden", "add", "--from", str(logs), "--prompt", "qa", "--failed"], cwd=root)
    assert "0 new cases" in again.err and len(pending.load_pending(root)) == 2  # already pending

    first = entries[0]
    assert cli(["review", "--reject-all", "-k", entries[1].case], cwd=root).code == 0
    r = cli(["review", "--accept-all"], cwd=root)
    assert r.code == 0 and f"accepted qa/{first.case}: added as a new case to evals/qa.eval.yaml" in r.err
    text = (root / "evals/qa.eval.yaml").read_text()
    assert text.startswith("# the qa goldens\n") and "  - id: known\n" in text
    cases = {c.id: c for c in open_project(root).load_dataset("evals/qa.eval.yaml").cases}
    added = cases[first.case]
    assert dict(added.inputs) == {"q": "where is my order?"} and added.golden == "I'm sorry, I cannot help with that."
    assert added.reviewed["by"] == ACTOR
    assert cli(["lint"], cwd=root).code == 0

    # the reviewed case now runs with the others (and a better answer fails the old golden's guards no more)
    server.answers.update({"hello": "hi there", "where is my order?": "It ships tomorrow."})
    r = cli(["test", "--format", "json", "-o", "run.json"], cwd=root)
    assert r.code == 0, r.err
    ran = {c["id"]: c for c in json.loads((root / "run.json").read_text())["datasets"][0]["cases"]}
    assert set(ran) == {"known", first.case} and ran[first.case]["status"] == "passed"


def test_sample_seed_and_choosing_the_dataset(root, cli):
    logs = observe(root, [(f"question {i}", "I'm sorry, no.") for i in range(10)])
    (root / "evals/second.eval.yaml").write_text("prompt: qa\ncases:\n  - {id: one, inputs: {q: one}}\n")
    r = cli(["golden", "add", "--from", str(logs), "--prompt", "qa"], cwd=root)
    assert r.code == 2 and "has 2 datasets: say which with --dataset" in r.err
    r = cli(["golden", "add", "--from", str(logs), "--prompt", "qa", "--dataset", "second", "--sample", "3",
             "--seed", "4", "--format", "json"], cwd=root)
    assert r.code == 0, r.err
    first = json.loads(r.out)
    assert first["dataset"] == "evals/second.eval.yaml" and len(first["proposed"]) == 3 and first["sampled_out"] == 7
    assert cli(["review", "--reject-all"], cwd=root).code == 0
    again = json.loads(cli(["golden", "add", "--from", str(logs), "--prompt", "qa", "--dataset", "second",
                            "--sample", "3", "--seed", "4", "--format", "json"], cwd=root).out)
    assert again["proposed"] == first["proposed"]  # the same seed picks the same cases


def test_observations_without_inputs_say_how_to_keep_them(root, cli):
    path = root / "prompts/qa.prompt.yaml"
    path.write_text(path.read_text().replace("observe: {inputs: true}\n", ""))
    logs = observe(root, [("x", "I'm sorry, no.")])
    r = cli(["golden", "add", "--from", str(logs), "--prompt", "qa"], cwd=root)
    assert r.code == 0 and "0 new cases" in r.err and "observe: {inputs: true}" in r.err
    assert cli(["golden", "add", "--from", str(logs), "--prompt", "nope"], cwd=root).code == 2
    assert cli(["golden", "add", "--from", str(root / "missing"), "--prompt", "qa"], cwd=root).code == 2
