"""Guards: a prompt's `guards:` run by `promptctl test` on every case (over real HTTP to the local test
server) and by the runtime's Prompt.check / Prompt.parse (from a published bundle and from the
working tree), with the same assertion code; lint checks them; the new deterministic types."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import GitRepo, local_project, write_tree

from promptctl.evals.assertions import Subject, check
from promptctl.guards import GuardResult
from promptctl.runtime import GuardError, Registry
from promptctl.scaffold import init_project

REPLY = "prompts/support/reply.prompt.yaml"
GUARDS = """\
guards:
  - {type: not-icontains, value: "as an ai"}
  - {type: not-is-refusal}
  - {type: word-count, value: {max: 40}}
  - {type: finish-reason, value: stop, weight: 0}
"""


# -- the new deterministic types -------------------------------------------------------------------

@pytest.mark.parametrize(("spec", "output", "passed", "reason"), [
    ({"type": "word-count", "value": 3}, "one two  three", True, "3 words"),
    ({"type": "word-count", "value": 3}, "one two", False, "2 words, expected 3"),
    ({"type": "word-count", "value": "2"}, "one two", True, "2 words"),
    ({"type": "word-count", "value": {"min": 2, "max": 4}}, "a b c", True, "3 words, between 2 and 4"),
    ({"type": "word-count", "value": {"max": 2}}, "a b c", False, "3 words, not at most 2"),
    ({"type": "not-word-count", "value": {"min": 5}}, "a b c", True, "3 words, not at least 5"),
    ({"type": "word-count", "value": {"min": 4, "max": 2}}, "a", False, "word-count's min (4) is above its max (2)"),
    ({"type": "word-count", "value": {"low": 1}}, "a", False, "word-count needs a number, or {min, max}"),
    ({"type": "word-count", "value": True}, "a", False, "word-count needs a number"),
    ({"type": "is-refusal"}, "I'm sorry, but I can't help with that.", True, "the output is a refusal"),
    ({"type": "is-refusal"}, "I\u2019m unable to share that.", True, "the output is a refusal"),
    ({"type": "is-refusal"}, "As an AI language model, I have no opinions.", True, "the output is a refusal"),
    ({"type": "is-refusal"}, "Sure: your refund is on its way.", False, "the output is not a refusal"),
    ({"type": "is-refusal"}, "   ", True, "empty output, counted as a refusal"),
    ({"type": "not-is-refusal"}, "Sure: your refund is on its way.", True, "the output is not a refusal"),
    ({"type": "not-is-refusal"}, "", False, "empty output, counted as a refusal"),
    ({"type": "is-xml"}, "<reply><text>hi</text></reply>", True, "output is XML"),
    ({"type": "is-xml", "value": "reply.text, reply.meta"}, "<reply><text>hi</text></reply>", False, "XML without reply.meta"),
    ({"type": "is-xml", "value": {"requiredElements": ["reply.text"]}}, "<reply><text/></reply>", True, "output is XML with every"),
    ({"type": "is-xml"}, "<reply><text>hi</reply>", False, "output is not XML (mismatched tag"),
    ({"type": "is-xml"}, '<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>', False, "output is not XML (a document type or entity"),
    ({"type": "is-xml", "value": 3}, "<a/>", False, "is-xml's value names elements"),
    ({"type": "contains-xml"}, "Sure! <answer><city>Paris</city></answer> Anything else?", True, "output is XML"),
    ({"type": "contains-xml", "value": "answer.city"}, "x <answer><town/></answer>", False, "XML without answer.city"),
    ({"type": "contains-xml"}, "if a < b then b > a", False, "no XML element in the output"),
    ({"type": "not-contains-xml"}, "plain text", True, "no XML element in the output"),
    ({"type": "finish-reason", "value": "stop"}, "x", True, "finish reason 'stop'"),
    ({"type": "finish-reason", "value": "length"}, "x", False, "finish reason 'stop', expected 'length'"),
    ({"type": "not-finish-reason", "value": "length"}, "x", True, "finish reason 'stop', expected 'length'"),
])
def test_new_types(spec, output, passed, reason):
    r = check(spec, Subject(output=output, finish_reason="stop"))
    # promptfoo scores an empty output 0 both ways: is-refusal passes with 0, not-is-refusal fails with 0
    score = 0.0 if spec["type"].endswith("is-refusal") and not output.strip() else float(passed)
    assert (r.passed, r.score) == (passed, score) and r.reason.startswith(reason), r


def test_finish_reason_unknown_fails_saying_so():
    r = check({"type": "finish-reason", "value": "stop"}, Subject(output="x"))
    assert not r.passed and "finish reason is unknown" in r.reason


def test_check_refuses_types_that_are_not_guards():
    r = check({"type": "llm-rubric", "value": "polite"}, Subject(output="x"))
    assert not r.passed and "cannot be checked here" in r.reason


# -- the runtime -------------------------------------------------------------------------------------


@pytest.fixture
def published(git_repo: GitRepo, git_env, cli) -> GitRepo:
    """The example project with guards on support/reply, published as v1 to production."""
    init_project(git_repo.root)
    path = git_repo.root / REPLY
    path.write_text(path.read_text().replace("samples:\n", GUARDS + "samples:\n", 1))
    git_repo.commit("example with guards")
    r = cli(["publish", "-m", "guards", "--channel", "production"], cwd=git_repo.root)
    assert r.code == 0, r.err
    return git_repo


def test_bundles_carry_guards_and_the_runtime_checks_them(published):
    with Registry(str(published.root / ".promptctl/registry"), channel="production", refresh_s=0) as reg:
        p = reg.get("support/reply")
        assert [g["type"] for g in p.guards] == ["not-icontains", "not-is-refusal", "word-count", "finish-reason"]
        good = p.check('{"reply": "Your refund is on its way."}')
        assert isinstance(good, GuardResult) and good.ok and bool(good) and good.failures == ()
        assert good.data == {"reply": "Your refund is on its way."}
        assert p.parse('```json\n{"reply": "ok"}\n```') == {"reply": "ok"}

        bad = p.check('{"reply": "As an AI, I cannot help."}')
        assert not bad and [f.type for f in bad.failures] == ["not-icontains", "not-is-refusal"]
        with pytest.raises(GuardError) as e:
            p.parse('{"reply": "As an AI, I cannot help."}')
        assert e.value.failures == bad.failures and e.value.output == '{"reply": "As an AI, I cannot help."}'
        assert str(e.value).startswith("the answer of support/reply@v1:") and "failed 2 guards" in str(e.value)

        not_json = p.check("I'm sorry, no.")
        assert [f.type for f in not_json.failures] == ["output-json", "not-is-refusal"]
        wrong_shape = p.check('{"answer": "hi"}')
        assert [f.type for f in wrong_shape.failures] == ["output-schema"]
        assert "'reply' is a required property" in wrong_shape.failures[0].reason

        # a chat completion response as it comes back (an OpenAI/litellm dict): its text and finish reason
        response = {"choices": [{"message": {"role": "assistant", "content": '{"reply": "hi"}'}, "finish_reason": "length"}]}
        result = p.check(response)
        assert result.ok  # the finish-reason guard has weight 0: reported, not counted
        assert [(r.type, r.passed) for r in result.results if r.type == "finish-reason"] == [("finish-reason", False)]
        assert p.parse(response) == {"reply": "hi"}
        with pytest.raises(TypeError, match="string or a chat completion"):
            p.check(42)


def test_the_working_tree_runtime_checks_guards_too(tmp_path):
    root = write_tree(tmp_path / "p", {
        "promptctl.yaml": "promptctl: 1\ndefaults: {model: openai/gpt-4o-mini}\n",
        "prompts/short.prompt.yaml": "messages:\n  - {role: user, content: hi}\n"
                                     "guards:\n  - {type: word-count, value: {max: 3}}\n  - {type: regex, value: '^[A-Z]'}\n",
    })
    p = Registry.from_project(root).get("short")
    assert p.parse("Hello there") == "Hello there"
    failures = p.check("hello there my friend").failures
    assert [str(f) for f in failures] == ["word-count: 4 words, not at most 3", "regex: /^[A-Z]/ does not match the output"]


def test_checking_guards_loads_no_library_beyond_the_standard_one_and_jinja2():
    code = (
        "import sys\n"
        "from promptctl.templates import Renderer\n"
        "from promptctl.runtime import Prompt\n"
        "from promptctl.model import Prompt as Data\n"
        "data = Data(name='short', source='x', messages=(), guards=({'type': 'not-is-refusal'}, {'type': 'contains-json'}))\n"
        "p = Prompt(data, Renderer(lambda name: None), {}, 'v1')\n"
        "print(p.check('here: {\"a\": 1}').ok)\n"
        "bad = sorted(m for m in ('typer', 'rich', 'click', 'yaml', 'git', 'jsonschema', 'fastjsonschema', 'litellm', "
        "'httpx', 'asyncio') if m in sys.modules)\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "True" and out[1] == ""


# -- promptctl test and lint ---------------------------------------------------------------------------


def test_promptctl_test_applies_a_prompts_guards_to_every_case(tmp_path, server, cli, monkeypatch):
    server.reset()
    monkeypatch.setenv("LOCAL_KEY", "sk-test")
    server.answers.update({"hello": "Hello! How can I help?", "secret": "I'm sorry, I can't share that."})
    root = local_project(tmp_path / "p", server.url, {
        "evals/qa.eval.yaml": """\
            prompt: qa
            threshold: 0.5
            cases:
              - {id: hello, inputs: {q: hello}, assert: [{type: icontains, value: help}]}
              - {id: secret, inputs: {q: secret}}
            """,
    })
    path = root / "prompts/qa.prompt.yaml"
    path.write_text(path.read_text() + "guards:\n  - {type: not-is-refusal}\n  - {type: finish-reason, value: stop}\n")
    r = cli(["test", "--format", "json", "-o", "run.json"], cwd=root)
    assert r.code == 0, r.err
    assert "qa/secret failed: not-is-refusal: the output is a refusal" in r.err
    import json

    cases = {c["id"]: c for c in json.loads((root / "run.json").read_text())["datasets"][0]["cases"]}
    assert [(a["type"], a.get("description"), a["pass"]) for a in cases["hello"]["asserts"]] == [
        ("not-is-refusal", "guard", True), ("finish-reason", "guard", True), ("icontains", None, True)]
    assert cases["secret"]["status"] == "failed"
    r = cli(["test", "--mode", "replay"], cwd=root)  # the finish reason is recorded, so replays check it too
    assert r.code == 0 and "finish reason is unknown" not in r.err


def test_lint_checks_guards_like_assertions(tmp_path, cli):
    root = write_tree(tmp_path / "p", {
        "promptctl.yaml": "promptctl: 1\ndefaults: {model: openai/gpt-4o-mini}\n",
        "prompts/g.prompt.yaml": """\
            messages:
              - {role: user, content: hi}
            guards:
              - {type: llm-rubric, value: polite}
              - {type: contans, value: x}
              - {type: contains, value: ""}
              - {type: word-count, value: {max: 3}, extra: 1}
              - {type: not-is-refusal}
            """,
    })
    r = cli(["lint"], cwd=root)
    assert r.code == 1
    lines = r.out.splitlines()
    assert any(line.startswith("prompts/g.prompt.yaml:4:12: PC503 `llm-rubric` cannot be a guard") for line in lines), r.out
    assert any(line.startswith("prompts/g.prompt.yaml:5:12: PC503 unknown guard type 'contans'; did you mean 'contains'?")
               for line in lines), r.out
    assert any(line.startswith("prompts/g.prompt.yaml:6:") and "PC508" in line for line in lines), r.out
    assert any(line.startswith("prompts/g.prompt.yaml:7:") and "PC102" in line and "extra" in line for line in lines), r.out
    assert len([line for line in lines if ": PC" in line and "PC506" not in line]) == 4, r.out


@pytest.mark.parametrize(("schema", "value", "ok"), [
    ({"type": "object", "required": ["a"], "properties": {"a": {"type": "integer", "default": 3}}}, {"a": 1}, True),
    ({"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}}, {"a": 1.0}, True),  # 2020-12: 1.0 is an integer
    ({"type": "object", "required": ["a"]}, {}, False),
    ({"type": "integer"}, True, False),
    ({"type": "string", "pattern": "^a"}, "ba", False),
    ({"type": "string", "format": "email"}, "not an email", False),  # format: jsonschema's checkers, never the fast path
    ({"prefixItems": [{"type": "string"}], "items": False}, ["a", "b"], False),  # 2020-12 keywords: jsonschema
    ({"type": "object", "properties": {"b": {"default": 1}}}, {}, True),
])
def test_schema_checks_give_jsonschemas_verdict_fast_path_or_not(schema, value, ok):
    import copy

    from promptctl.evals.assertions import schema_problem

    before = copy.deepcopy(value)
    for _ in range(2):  # the second time through the cached validators
        assert (schema_problem(value, schema) is None) is ok
    assert value == before  # defaults are never filled in
