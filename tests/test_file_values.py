"""`file://` assertion values, as promptfoo writes them: a JSON Schema file, a text file, a YAML list, a
Python check (`file://checks.py:fn`, `file://checks.py` = get_assert); read from the version under test;
a path that leaves the project, or a missing file, fails the case saying so."""

from __future__ import annotations

import json

import pytest
from conftest import GitRepo, local_project


@pytest.fixture
def root(tmp_path, server, monkeypatch):
    server.reset()
    monkeypatch.setenv("LOCAL_KEY", "sk-test")
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    server.answers.update({"refund?": '{"reply": "Your refund is on its way."}', "hi": "hello there"})
    return local_project(tmp_path / "p", server.url, {
        "evals/schemas/reply.json": '{"type": "object", "required": ["reply"], "properties": {"reply": {"type": "string"}}}',
        "evals/schemas/strict.yaml": "type: object\nrequired: [answer]\n",
        "evals/expected.txt": "refund",
        "evals/words.yaml": "[parcel, refund]\n",
        "evals/checks.py": (
            "def has_refund(output, context):\n"
            "    return {'pass': 'refund' in output, 'score': 1.0 if 'refund' in output else 0.0, 'reason': 'looked'}\n"
            "def get_assert(output, context):\n"
            "    return context['vars']['q'] == 'refund?'\n"
        ),
        "evals/qa.eval.yaml": """\
            prompt: qa
            threshold: 0.1
            cases:
              - id: files
                inputs: {q: "refund?"}
                assert:
                  - {type: is-json, value: "file://schemas/reply.json"}
                  - {type: not-is-json, value: "file://schemas/strict.yaml"}
                  - {type: contains, value: "file://expected.txt"}
                  - {type: contains-any, value: "file://words.yaml"}
                  - {type: python, value: "file://checks.py:has_refund"}
                  - {type: python, value: "file://checks.py"}
              - id: escape
                inputs: {q: hi}
                assert: [{type: contains, value: "file://../../outside.txt"}]
              - id: missing
                inputs: {q: hi}
                assert: [{type: contains, value: "file://nope.txt"}]
              - id: no-function
                inputs: {q: hi}
                assert: [{type: python, value: "file://checks.py:absent"}]
            """,
    })


def _cases(root):
    return {c["id"]: c for c in json.loads((root / "run.json").read_text())["datasets"][0]["cases"]}


def test_file_values(root, cli):
    (root.parent / "outside.txt").write_text("hello")
    r = cli(["test", "--format", "json", "-o", "run.json"], cwd=root)
    assert r.code == 0, r.err
    cases = _cases(root)
    files = cases["files"]
    assert files["status"] == "passed", files
    assert [a["type"] for a in files["asserts"]] == ["is-json", "not-is-json", "contains", "contains-any", "python", "python"]
    assert files["asserts"][4]["reason"] == "looked"
    assert cases["escape"]["status"] == "failed" and "leaves the project" in cases["escape"]["reason"]
    assert cases["missing"]["status"] == "failed" and "file://nope.txt: no such file (evals/nope.txt" in cases["missing"]["reason"]
    assert cases["no-function"]["status"] == "failed" and "has no function 'absent'" in cases["no-function"]["reason"]


def test_file_values_come_from_the_version_under_test(tmp_path, server, monkeypatch, cli, git_env):
    server.reset()
    monkeypatch.setenv("LOCAL_KEY", "sk-test")
    server.answers.update({"q": "alpha"})
    repo = GitRepo(tmp_path / "repo")
    local_project(repo.root, server.url, {
        "evals/expected.txt": "alpha",
        "evals/qa.eval.yaml": "prompt: qa\ncases:\n  - {id: a, inputs: {q: q}, assert: [{type: contains, value: 'file://expected.txt'}]}\n",
    })
    repo.commit("alpha")
    (repo.root / "evals/expected.txt").write_text("beta")
    assert cli(["test", "--format", "json", "-o", "run.json"], cwd=repo.root).code == 1  # the working tree: beta
    r = cli(["test", "--ref", "HEAD", "--format", "json", "-o", "run.json"], cwd=repo.root)
    assert r.code == 0, r.err  # HEAD's file says alpha


def test_lint_reports_unreadable_file_values_where_they_are_written(root, cli):
    (root / "evals/data").mkdir()
    (root / "evals/data/more.jsonl").write_text(
        '{"id": "j", "inputs": {"q": "hi"}, "assert": [{"type": "contains", "value": "file://here.txt"}]}\n'
        '{"id": "k", "inputs": {"q": "hi"}, "assert": [{"type": "contains", "value": "file://../expected.txt"}]}\n')
    text = (root / "evals/qa.eval.yaml").read_text()
    (root / "evals/qa.eval.yaml").write_text(text + "  - file: data/more.jsonl\n")
    r = cli(["lint"], cwd=root)
    assert r.code == 1
    found = sorted(line.split(": PC509 ")[0] for line in r.out.splitlines() if "PC509" in line)
    assert found == ["evals/data/more.jsonl:1:1", "evals/qa.eval.yaml:15:21", "evals/qa.eval.yaml:18:21"], r.out
    assert "file://../../outside.txt leaves the project" in r.out and "file://nope.txt: no such file" in r.out
    assert "file://here.txt: no such file (evals/data/here.txt" in r.out  # relative to the JSONL file's folder
    assert "no-function" not in r.out  # a missing function is found when the check runs, not by lint


def test_case_and_default_transforms_and_assert_sets_through_promptctl_test(tmp_path, server, monkeypatch, cli):
    server.reset()
    monkeypatch.setenv("LOCAL_KEY", "sk-test")
    server.answers.update({"a": '```json\n{"answer": "Paris", "confidence": 0.9}\n```', "b": "  padded  "})
    root = local_project(tmp_path / "t", server.url, {
        "evals/words.txt": "Paris",
        "evals/qa.eval.yaml": """\
            prompt: qa
            defaults:
              transform: output.strip()
            cases:
              - id: json
                inputs: {q: a}
                transform: |
                  data = json.loads(output.strip().removeprefix("```json").removesuffix("```"))
                  return data["answer"]
                assert:
                  - {type: equals, value: Paris}
                  - type: assert-set
                    threshold: 0.5
                    weight: 2
                    assert:
                      - {type: contains, value: "file://words.txt"}
                      - {type: contains, value: "{{ q }}nothing"}
              - id: default
                inputs: {q: b}
                assert: [{type: equals, value: padded}]
              - id: broken
                inputs: {q: b}
                transform: "output["
                assert: [{type: equals, value: padded}]
            """,
    })
    r = cli(["test", "--format", "json", "-o", "run.json"], cwd=root)
    cases = _cases(root)
    assert cases["json"]["status"] == "passed", cases["json"]
    set_result = cases["json"]["asserts"][1]
    assert set_result["type"] == "assert-set" and set_result["score"] == 0.5 and set_result["weight"] == 2.0
    assert cases["default"]["status"] == "passed"
    assert cases["broken"]["status"] == "failed" and "transform: invalid Python expression" in cases["broken"]["reason"]
    assert r.code == 1  # the broken case fails the dataset's threshold (1.0)
    assert cli(["lint"], cwd=root).code == 0
    bad = root / "evals/qa.eval.yaml"
    bad.write_text(bad.read_text().replace("- {type: contains, value: \"file://words.txt\"}", "- {type: contans, value: x}"))
    r = cli(["lint"], cwd=root)
    assert r.code == 1 and "unknown assertion type 'contans'; did you mean 'contains'?" in r.out
