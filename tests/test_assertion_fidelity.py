"""Assertion verdicts as promptfoo gives them, for the cases where promptctl used to differ.

Each row: the output, the assertion, the expected pass and score (None: the assertion is refused,
so the case errors instead of passing), and where the expectation comes from in promptfoo's
behaviour (its assertion handlers, as documented at promptfoo.dev/docs/configuration/expected-outputs).
"""

from __future__ import annotations

import asyncio
import json

import pytest

from promptctl.evals.assertions import AssertionSetupError, Subject, evaluate, js_number

ROWS = [
    # -- values promptfoo refuses: an always-true assertion is a silent bug in a golden set
    ("anything", {"type": "contains", "value": ""}, None, "contains: value must be a non-empty string"),
    ("anything", {"type": "icontains", "value": ""}, None, "icontains: the same"),
    ("anything", {"type": "starts-with", "value": ""}, None, "starts-with: the same"),
    ("anything", {"type": "regex", "value": ""}, None, "regex: the same"),
    ("anything", {"type": "not-contains", "value": ""}, None, "refused, not inverted into a failure"),
    ("anything", {"type": "contains-any", "value": ["a", ""]}, None, "an empty item matches everything"),
    # -- numbers as text, written as JavaScript writes them
    ("version 1 is out", {"type": "contains", "value": 1.0}, (True, 1.0), "String(1.0) is '1'"),
    ("tolerance 1e-7", {"type": "contains", "value": 1e-7}, (True, 1.0), "String(1e-7) is '1e-7', not '1e-07'"),
    ("42.0", {"type": "equals", "value": 42}, (False, 0.0), "equals compares text: '42.0' is not '42'"),
    ("42", {"type": "equals", "value": 42}, (True, 1.0), "'42' is String(42)"),
    ("true", {"type": "equals", "value": True}, (True, 1.0), "String(true) is 'true'"),
    # -- objects and arrays compare as JSON, strictly parsed
    ('{"a": 1}', {"type": "equals", "value": {"a": 1}}, (True, 1.0), "deep equality of JSON.parse(output)"),
    ('{"a": 1.0}', {"type": "equals", "value": {"a": 1}}, (True, 1.0), "1.0 and 1 are one JSON number"),
    ('{"a": true}', {"type": "equals", "value": {"a": 1}}, (False, 0.0), "true is not 1 in JSON"),
    ('```json\n{"a": 1}\n```', {"type": "equals", "value": {"a": 1}}, (False, 0.0), "a fenced block is not JSON"),
    ("[1, 2]", {"type": "equals", "value": [1, 2]}, (True, 1.0), "arrays too"),
    # -- lists given as text are one CSV line
    ("hello, world!", {"type": "contains-any", "value": '"hello, world",universe'}, (True, 1.0), "quoted CSV item"),
    ("hello there", {"type": "contains-any", "value": '"hello, world",universe'}, (False, 0.0),
     "'hello' alone is not an item"),
    ("a universe", {"type": "contains-all", "value": '"hello, world",universe'}, (False, 0.0), "both items needed"),
    # -- the case-insensitive list forms
    ("We Will REFUND", {"type": "icontains-any", "value": ["refund", "replace"]}, (True, 1.0), "icontains-any"),
    ("order SHIPPED", {"type": "icontains-all", "value": "Order, shipped"}, (True, 1.0), "icontains-all"),
    ("order lost", {"type": "icontains-all", "value": "Order, shipped"}, (False, 0.0), "icontains-all"),
    ("order lost", {"type": "not-icontains-any", "value": ["REFUND"]}, (True, 1.0), "not- form"),
]


@pytest.mark.parametrize(("output", "spec", "expected", "why"), ROWS, ids=[r[3] for r in ROWS])
def test_the_verdict_is_promptfoos(output, spec, expected, why):
    (result,) = asyncio.run(evaluate([spec], Subject(output=output), None))
    if expected is None:
        assert not result.passed and result.score == 0.0, why
        assert "empty" in result.reason and "matches every output" in result.reason, result.reason
    else:
        assert (result.passed, result.score) == expected, (why, result.reason)


@pytest.mark.parametrize(("x", "text"), [
    (1.0, "1"), (1e-7, "1e-7"), (1.5e-7, "1.5e-7"), (0.000001, "0.000001"), (0.1, "0.1"), (-2.5, "-2.5"),
    (1e16, "10000000000000000"), (1e21, "1e+21"), (10**22, "1e+22"), (5e-324, "5e-324"), (100.0, "100"),
    (float("nan"), "NaN"), (float("-inf"), "-Infinity"), (0.0, "0"), (12345678901234567890.0, "12345678901234567000"),
])
def test_numbers_are_written_as_javascript_writes_them(x, text):
    assert js_number(x) == text


def test_an_empty_value_is_a_setup_error_not_a_verdict():
    assert issubclass(AssertionSetupError, Exception)
    (result,) = asyncio.run(evaluate([{"type": "contains", "value": ""}], Subject(output="x"), None))
    assert result.reason == "an empty `value` matches every output; give the text to look for"


def test_lint_reports_an_empty_value_where_it_is(tmp_path, cli):
    from conftest import write_tree

    root = write_tree(tmp_path / "p", {
        "promptctl.yaml": "promptctl: 1\ndefaults: {model: openai/gpt-4o-mini}\n",
        "prompts/qa.prompt.yaml": 'inputs: {q: string}\nmessages:\n  - role: user\n    content: "{{ q }}"\n',
        "evals/qa.eval.yaml": (
            "prompt: qa\n"
            "defaults:\n  assert: [{type: not-starts-with, value: ''}]\n"
            "cases:\n"
            "  - id: a\n    inputs: {q: hi}\n    assert:\n"
            "      - {type: contains, value: ''}\n"
            "      - {type: contains-any, value: 'a,,b'}\n"
            "      - {type: icontains-all, value: [x, '']}\n"
            "      - {type: contains, value: ok}\n"
        ),
    })
    r = cli(["lint", "--format", "json"], cwd=root)
    assert r.code == 1
    import json

    found = sorted((f["line"], f["message"].split("`")[1]) for f in json.loads(r.out) if f["code"] == "PC508")
    assert found == [(3, "not-starts-with"), (8, "contains"), (9, "contains-any"), (10, "icontains-all")]


@pytest.mark.parametrize(("pattern", "output", "passes"), [
    (r"(?<year>\d{4})-\k<year>", "2024-2024", True),  # JavaScript's named groups and back-references
    (r"(?<year>\d{4})-\k<year>", "2024-2025", False),
    (r"done$", "done\n", False),  # `$` is the end of the text, as in JavaScript (Python's also matches before \n)
    (r"done$", "done", True),
    (r"(?m)^done$", "done\nnext", True),  # with Python's (?m), `$` ends each line
    (r"(?<=a)b", "ab", True),  # lookbehinds stay lookbehinds
    (r"(?<!a)b", "ab", False),
    (r"\$5", "costs $5", True),
    (r"[$]", "$", True),
])
def test_regex_reads_javascript_spellings(pattern, output, passes):
    (result,) = asyncio.run(evaluate([{"type": "regex", "value": pattern}], Subject(output=output), None))
    assert result.passed is passes, result.reason


def test_assertion_values_are_rendered_with_the_case_inputs(tmp_path, server_project):
    root, cli = server_project
    r = cli(["test", "--format", "json"], cwd=root)
    report = json.loads(r.out)
    cases = {c["id"]: c for d in report["datasets"] for c in d["cases"]}
    assert cases["ann"]["status"] == "passed", cases["ann"]["reason"]  # contains "{{ who }}" → "Ann"
    assert cases["bob"]["status"] == "failed" and 'does not contain "Zed"' in cases["bob"]["reason"]
    assert cases["bad"]["status"] == "error" and "the value of contains assertion" in cases["bad"]["reason"]
    assert "nope" in cases["bad"]["reason"]
    assert cases["escape"]["status"] == "error" and "unsafe" in cases["escape"]["reason"]


@pytest.fixture
def server_project(tmp_path, cli, monkeypatch):
    from conftest import local_project
    from llm_server import LLMServer

    server = LLMServer().start()
    monkeypatch.setenv("LOCAL_KEY", "k")
    root = local_project(tmp_path / "p", server.url, {
        "evals/qa.eval.yaml": (
            "prompt: qa\n"
            "cases:\n"
            "  - {id: ann, inputs: {q: 'hello Ann', who: Ann}, assert: [{type: contains, value: '{{ who }}'}]}\n"
            "  - {id: bob, inputs: {q: 'hello Bob', who: Zed}, assert: [{type: contains, value: '{{ who }}'}]}\n"
            "  - {id: bad, inputs: {q: 'hi'}, assert: [{type: contains, value: '{{ nope }}'}]}\n"
            "  - {id: escape, inputs: {q: 'hi'}, assert: [{type: contains, value: '{{ q.__class__.__mro__ }}'}]}\n"
        ),
    })
    # the prompt takes `q` only; `who` rides along as an extra input, as promptfoo's vars do
    (root / "prompts/qa.prompt.yaml").write_text(
        'inputs: {q: string, who: {type: string, default: ""}}\nmessages:\n  - role: user\n    content: "{{ q }}"\n')
    yield root, cli
    server.stop()


class Grader:
    """A grader model that answers with a fixed text."""

    def __init__(self, answer: str):
        self.answer = answer

    async def grade(self, messages):
        return self.answer


@pytest.mark.parametrize(("answer", "spec", "expected"), [
    ('{"pass": "false", "score": 0.2, "reason": "rude"}', {}, (False, 0.2)),  # the string "false" is false
    ('{"pass": "no", "reason": "rude"}', {}, (False, 0.0)),
    ('{"pass": "yes", "reason": "fine"}', {}, (True, 1.0)),
    ('{pass: true, score: 0.9, reason: "bare keys"}', {}, (True, 0.9)),  # unquoted keys are read
    ('{"score": 0.8, "reason": "no pass given"}', {}, (True, 0.8)),  # pass read from score (>= 0.5)
    ('{"score": 0.3, "reason": "no pass given"}', {}, (False, 0.3)),
    ('{"score": 0.6}', {"threshold": 0.7}, (False, 0.6)),  # ... or from the threshold
    ('{"pass": true, "score": "NaN"}', {}, None),  # not a number: an error, never a pass
    ('{"reason": "nothing"}', {}, None),
])
def test_llm_rubric_reads_the_grader_as_promptfoo_does(answer, spec, expected):
    from promptctl.evals.assertions import Judge

    judge = Judge(grade=Grader(answer).grade)
    (result,) = asyncio.run(evaluate([{"type": "llm-rubric", "value": "is polite", **spec}], Subject(output="x"), judge))
    if expected is None:
        assert not result.passed and result.score == 0.0, result.reason
    else:
        assert (result.passed, round(result.score, 4)) == expected, result.reason


@pytest.mark.parametrize(("answer", "passes"), [
    ('{"category": "A", "reason": "a subset"}', True),  # the shape promptfoo's grader prompt asks for
    ('{"category": "D", "reason": "they disagree"}', False),
    ("(C) the same details", True),
    ('{"category": ""}', None),
])
def test_factuality_reads_a_category_object(answer, passes):
    from promptctl.evals.assertions import Judge

    judge = Judge(grade=Grader(answer).grade)
    (result,) = asyncio.run(evaluate([{"type": "factuality", "value": "Paris"}], Subject(output="Paris"), judge))
    if passes is None:
        assert not result.passed and "names no category" in result.reason
    else:
        assert result.passed is passes, result.reason


@pytest.mark.parametrize("code", ["float('nan')", "{'pass': True, 'score': float('nan')}", "float('inf')"])
def test_a_python_assertion_returning_nan_fails_with_the_reason(code):
    (result,) = asyncio.run(evaluate([{"type": "python", "value": code}], Subject(output="x"), None))
    assert not result.passed and result.score == 0.0 and "the score is" in result.reason


@pytest.mark.parametrize(("output", "spec", "passes"), [
    ("NaN", {"type": "is-json"}, False),  # not JSON, though Python's json reads it
    ('{"a": Infinity}', {"type": "is-json"}, False),
    ('see {"a": NaN} here', {"type": "contains-json"}, False),
    ('{"a": 1}', {"type": "is-json", "value": "type: object\nrequired: [a]\n"}, True),  # a schema as YAML text
    ('{"b": 1}', {"type": "is-json", "value": "type: object\nrequired: [a]\n"}, False),
    ('x {"b": 1} y', {"type": "contains-json", "value": '{"required": ["a"]}'}, False),  # or as JSON text
    ('{"mail": "ann@example.com"}', {"type": "is-json", "value": {"properties": {"mail": {"format": "email"}}}}, True),
    ('{"mail": "nope"}', {"type": "is-json", "value": {"properties": {"mail": {"format": "email"}}}}, False),
    ('{"d": "2024-13-01"}', {"type": "is-json", "value": {"properties": {"d": {"format": "date"}}}}, False),
    ('{"t": "2024-01-31 10:00"}', {"type": "is-json", "value": {"properties": {"t": {"format": "date-time"}}}}, False),
    ('{"t": "2024-01-31T10:00:00Z"}', {"type": "is-json", "value": {"properties": {"t": {"format": "date-time"}}}}, True),
    ('{"u": "not a uri"}', {"type": "is-json", "value": {"properties": {"u": {"format": "uri"}}}}, False),
    ('{"id": "1234"}', {"type": "is-json", "value": {"properties": {"id": {"format": "uuid"}}}}, False),
    ('{"ip": "999.1.1.1"}', {"type": "is-json", "value": {"properties": {"ip": {"format": "ipv4"}}}}, False),
    ("here: [1, 2]", {"type": "contains-json"}, True),  # arrays count (documented difference)
    ("here: [1, 2]", {"type": "contains-json", "value": {"type": "object"}}, False),
])
def test_json_checks_read_json_and_formats_as_promptfoo_does(output, spec, passes):
    (result,) = asyncio.run(evaluate([spec], Subject(output=output), None))
    assert result.passed is passes, result.reason


def test_a_schema_value_that_is_not_a_schema_is_refused():
    (result,) = asyncio.run(evaluate([{"type": "is-json", "value": "- a list"}], Subject(output="{}"), None))
    assert not result.passed and "must be a JSON Schema" in result.reason


@pytest.mark.parametrize(("code", "output", "passes", "score"), [
    # promptfoo's own python-assert example shape: a body that returns its verdict
    ("words = output.split()\nif len(words) > 3:\n    return {'pass': False, 'score': 0.2, 'reason': 'long'}\nreturn True",
     "one two", True, 1.0),
    ("words = output.split()\nif len(words) > 3:\n    return {'pass': False, 'score': 0.2, 'reason': 'long'}\nreturn True",
     "one two three four", False, 0.2),
    ("return 'refund' in output.lower()", "A Refund", True, 1.0),  # one line that returns
    ("return len(data['items']) / 4", '{"items": [1, 2]}', True, 0.5),  # data and the other names are there
])
def test_multi_line_python_bodies_return_their_verdict(code, output, passes, score):
    (result,) = asyncio.run(evaluate([{"type": "python", "value": code}], Subject(output=output), None))
    assert (result.passed, round(result.score, 4)) == (passes, score), result.reason


def test_a_broken_python_body_names_its_line():
    (result,) = asyncio.run(evaluate([{"type": "python", "value": "x = 1\nreturn (x +"}], Subject(output=""), None))
    assert not result.passed and "invalid Python function body" in result.reason and "line 2" in result.reason


def test_a_case_threshold_passes_on_the_weighted_score(tmp_path, cli, monkeypatch):
    from conftest import local_project
    from llm_server import LLMServer

    server = LLMServer().start()
    try:
        monkeypatch.setenv("LOCAL_KEY", "k")
        two = "[{type: contains, value: hello}, {type: contains, value: absent}]"  # one passes, one fails: 0.5
        root = local_project(tmp_path / "p", server.url, {
            "evals/qa.eval.yaml": (
                "prompt: qa\ncases:\n"
                f"  - {{id: half, inputs: {{q: hello}}, threshold: 0.5, assert: {two}}}\n"
                f"  - {{id: strict, inputs: {{q: hello}}, threshold: 0.9, assert: {two}}}\n"
                f"  - {{id: none, inputs: {{q: hello}}, assert: {two}}}\n"
                "  - file: data/rows.jsonl\n"
            ),
            "evals/data/rows.jsonl": '{"id": "row", "inputs": {"q": "hello"}, "threshold": 0.5, '
                                     '"assert": [{"type": "contains", "value": "hello"}, {"type": "contains", "value": "x"}]}\n',
        })
        r = cli(["test", "--format", "json"], cwd=root)
        cases = {c["id"]: c for d in json.loads(r.out)["datasets"] for c in d["cases"]}
        assert cases["half"]["status"] == "passed" and cases["half"]["score"] == 0.5
        assert cases["row"]["status"] == "passed"
        assert cases["strict"]["status"] == "failed" and cases["strict"]["reason"].startswith("score 0.50 < threshold 0.9")
        assert cases["none"]["status"] == "failed"  # without a threshold every assertion must pass

        (root / "evals/qa.eval.yaml").write_text("prompt: qa\ncases:\n  - {id: a, inputs: {q: hi}, threshold: 2}\n")
        r = cli(["test"], cwd=root)
        assert r.code == 2 and "evals/qa.eval.yaml:3:" in r.err and "threshold" in r.err
    finally:
        server.stop()


# -- robustness: evaluate() never raises ------------------------------------------------------------


@pytest.mark.parametrize(("spec", "reason"), [
    ("contains", "an assertion is a mapping with a `type`"),
    ({"type": "contains", "value": "a", "weight": None}, "weight must be a number, not "),
    ({"type": "contains", "value": "a", "weight": "heavy"}, 'weight must be a number, not "heavy"'),
    ({"type": "similar", "value": []}, "similar needs a text, or a list of at least one text"),
])
def test_evaluate_never_raises_on_a_malformed_assertion(spec, reason):
    import asyncio

    from promptctl.evals.assertions import Subject, evaluate

    (result,) = asyncio.run(evaluate([spec], Subject(output="a")))
    assert not result.passed and result.score == 0.0 and reason in result.reason


# -- assert-set and transform (promptfoo's) ----------------------------------------------------------


def _one(spec, output="Your refund is on its way", **kw):
    import asyncio

    from promptctl.evals.assertions import Subject, evaluate

    (result,) = asyncio.run(evaluate([spec], Subject(output=output, **kw)))
    return result


@pytest.mark.parametrize(("spec", "passed", "score", "reason"), [
    ({"type": "assert-set", "assert": [{"type": "contains", "value": "refund"}, {"type": "icontains", "value": "WAY"}]},
     True, 1.0, "2/2 passed, score 1.00"),
    ({"type": "assert-set", "assert": [{"type": "contains", "value": "refund"}, {"type": "contains", "value": "sorry"}]},
     False, 0.5, "1/2 passed, score 0.50: contains: output does not contain"),
    ({"type": "assert-set", "threshold": 0.5, "assert": [{"type": "contains", "value": "refund"}, {"type": "contains", "value": "sorry"}]},
     True, 0.5, "1/2 passed, score 0.50"),
    ({"type": "assert-set", "assert": [{"type": "contains", "value": "refund", "weight": 3}, {"type": "contains", "value": "x"}]},
     False, 0.75, "1/2 passed, score 0.75"),
    ({"type": "assert-set", "assert": [{"type": "assert-set", "assert": [{"type": "starts-with", "value": "Your"}]}]},
     True, 1.0, "1/1 passed"),
    ({"type": "assert-set", "assert": []}, False, 0.0, "assert-set needs `assert`"),
    ({"type": "contains", "value": "REFUND", "transform": "output.upper()"}, True, 1.0, 'output contains "REFUND"'),
    ({"type": "equals", "value": "6", "transform": "len(output.split())"}, True, 1.0, ""),
    ({"type": "equals", "value": "refund", "transform": "words = output.split()\nreturn words[1]"}, True, 1.0, ""),
    ({"type": "contains", "value": "x", "transform": "1/0"}, False, 0.0, "transform of the contains assertion raised ZeroDivisionError"),
    ({"type": "contains", "value": "x", "transform": "output["}, False, 0.0, "invalid Python expression"),
])
def test_assert_set_and_assertion_transform(spec, passed, score, reason):
    r = _one(spec)
    assert (r.passed, round(r.score, 4)) == (passed, score) and r.reason.startswith(reason), r


def test_a_set_counts_in_the_case_with_its_own_weight():
    from promptctl.evals.assertions import AssertionResult, verdict

    results = [AssertionResult("assert-set", False, 0.5, "", weight=2.0), AssertionResult("contains", True, 1.0, "")]
    assert verdict(results, 0.6) == (True, pytest.approx(2 / 3), "")


@pytest.mark.parametrize(("value", "passed", "score"), [
    ("0.3", False, 0.3),                                  # promptfoo: the score is kept, the verdict inverted
    ("{'pass': True, 'score': 0.8}", False, 0.8),
    ("False", True, 1.0),                                 # a bare boolean: the inverted verdict's worth
    ("True", False, 0.0),
])
def test_not_python_keeps_the_score_it_returned(value, passed, score):
    r = _one({"type": "not-python", "value": value})
    assert (r.passed, r.score) == (passed, score), r


@pytest.mark.parametrize(("weights", "scores", "threshold", "expected"), [
    # promptfoo's AssertionsResult: weight 0 is a metric only, in neither the sum nor the total weight
    ([2, 1, 0], [0.0, 1.0, 1.0], None, (False, 1 / 3)),
    ([1, 0], [1.0, 0.0], None, (True, 1.0)),      # a failing weight-0 assertion never fails the case
    ([0, 0], [1.0, 0.0], None, (True, 0.0)),      # every weight 0: the score is 0 ...
    ([0, 0], [1.0, 1.0], 0.5, (False, 0.0)),      # ... so a threshold above 0 fails the case
    ([0], [1.0], 0.0, (True, 0.0)),
    ([], [], None, (True, 1.0)),                   # no assertions at all
])
def test_weight_zero_scores_as_promptfoo_scores_it(weights, scores, threshold, expected):
    from promptctl.evals.assertions import AssertionResult, verdict

    results = [AssertionResult("contains", s == 1.0, s, "", weight=float(w)) for w, s in zip(weights, scores, strict=True)]
    passed, score, _ = verdict(results, threshold)
    assert (passed, score) == (expected[0], pytest.approx(expected[1]))
