"""Assertions: every type passing and failing, its not- form, weights, thresholds and the verdict."""

from __future__ import annotations

import asyncio
import json

import pytest
from conftest import write_tree

from promptctl.evals.assertions import (
    BASE_TYPES,
    AssertionResult,
    Judge,
    Subject,
    evaluate,
    find_json,
    levenshtein,
    parse_json_output,
    text_similarity,
    verdict,
)


def check(spec, output="", judge=None, **kw):
    subject = Subject(output=output, **kw)
    (result,) = asyncio.run(evaluate([spec], subject, judge))
    return result


WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}

# Each type: (assertion, an output that passes, an output that fails, extra Subject fields).
CASES = {
    "equals": ({"type": "equals", "value": "Paris"}, "Paris", "paris", {}),
    "contains": ({"type": "contains", "value": "refund"}, "your refund is on its way", "your Refund", {}),
    "icontains": ({"type": "icontains", "value": "REFUND"}, "a refund", "a return", {}),
    "contains-any": ({"type": "contains-any", "value": ["replace", "refund"]}, "we will refund", "sorry", {}),
    "contains-all": ({"type": "contains-all", "value": ["order", "123"]}, "order 123", "order 124", {}),
    "icontains-any": ({"type": "icontains-any", "value": "Replace, REFUND"}, "we will Refund", "sorry", {}),
    "icontains-all": ({"type": "icontains-all", "value": ["ORDER", "Shipped"]}, "order shipped", "order lost", {}),
    "starts-with": ({"type": "starts-with", "value": "- "}, "- one", "one", {}),
    "regex": ({"type": "regex", "value": r"order \d+"}, "order 42 shipped", "order x", {}),
    "is-json": ({"type": "is-json"}, '{"a": 1}', "a: 1", {}),
    "contains-json": ({"type": "contains-json"}, 'here: {"a": [1, 2]} done', "no json {here", {}),
    "json-schema": (
        {"type": "json-schema", "value": {"type": "object", "required": ["reply"]}},
        '{"reply": "hi"}',
        '{"answer": "hi"}',
        {},
    ),
    "levenshtein": ({"type": "levenshtein", "value": "kitten", "threshold": 3}, "sitting", "sitting down", {}),
    "similar": (
        {"type": "similar", "threshold": 0.7},
        "the refund for order 123 is on its way",
        "please reset your password",
        {"golden": "your refund for order 123 is on its way"},
    ),
    "word-count": ({"type": "word-count", "value": {"max": 3}}, "one two", "one two three four", {}),
    "is-refusal": ({"type": "is-refusal"}, "I'm sorry, I can't do that.", "Here you go.", {}),
    "finish-reason": ({"type": "finish-reason", "value": "stop"}, "x", "x", {}),
    "is-xml": ({"type": "is-xml", "value": "order.id"}, "<order><id>1</id></order>", "<order><ref>1</ref></order>", {}),
    "contains-xml": ({"type": "contains-xml"}, "Here: <a><b/></a> done", "a < b and c > d", {}),
    "latency": ({"type": "latency", "threshold": 500}, "x", "x", {}),
    "cost": ({"type": "cost", "threshold": 0.01}, "x", "x", {}),
    "python": ({"type": "python", "value": "len(output) < 10 and 'ok' in output"}, "ok", "not fine at all", {}),
    "llm-rubric": ({"type": "llm-rubric", "value": "is polite"}, "thank you kindly", "go away", {}),
    "factuality": ({"type": "factuality", "value": "Paris is the capital of France"}, "Paris", "Lyon", {}),
    "model-graded-closedqa": ({"type": "model-graded-closedqa", "value": "names a city in France"}, "Paris", "Berlin", {}),
    "g-eval": ({"type": "g-eval", "value": "names a city in France"}, "Paris", "Berlin", {}),
    "bleu": ({"type": "bleu", "value": "the cat sat on the mat"}, "the cat sat on the mat", "a dog ran off", {}),
    "rouge-n": ({"type": "rouge-n", "value": "The cat sat on the mat."}, "the cat sat on the mat", "dogs run fast", {}),
    "is-valid-openai-tools-call": ({"type": "is-valid-openai-tools-call"}, "", "", {"tools": (WEATHER,)}),
    "tool-call-f1": ({"type": "tool-call-f1", "value": "get_weather"}, "", "", {"tools": (WEATHER,)}),
    "context-faithfulness": ({"type": "context-faithfulness"}, "Paris is the capital of France.", "Lyon is the capital.",
                             {"inputs": {"context": "Paris is the capital of France.", "query": "What is the capital of France?"}}),
    "context-recall": ({"type": "context-recall", "value": "Paris is the capital of France."}, "x", "x", {}),
    "context-relevance": ({"type": "context-relevance"}, "x", "x", {}),
    "is-sql": ({"type": "is-sql"}, "SELECT id, name FROM users WHERE id = 1", "SELECT FROM WHERE", {}),
    "contains-sql": ({"type": "contains-sql"}, "Here:\n```sql\nSELECT 1\n```", "Here is no query at all.", {}),
    "answer-relevance": ({"type": "answer-relevance"}, "Paris is the capital of France.", "Dogs bark at night.",
                         {"inputs": {"query": "What is the capital of France?"}}),
}
SLOW = {"latency": 120.0, "cost": 0.001}  # the passing subject's measure
FAST = {"latency": 900.0, "cost": 0.5}  # the failing one's


class FakeGrader:
    """A grader that passes outputs with 'thank' (rubric) or 'Paris' (factuality), and records requests."""

    def __init__(self):
        self.requests = []

    async def grade(self, messages):
        self.requests.append(messages)
        text = messages[-1]["content"]
        if "<Rubric>" in text:
            ok = "thank" in text
            return json.dumps({"reason": "looks polite" if ok else "rude", "pass": ok, "score": 0.9 if ok else 0.1})
        if "list three to five concise steps" in text:  # g-eval, first call
            return '{"steps": ["Find the city", "Check its country"]}'
        if "Evaluation steps:" in text:  # g-eval, second call
            return '{"score": 9, "reason": "a French city"}' if "Answer: Paris" in text else '{"score": 2, "reason": "German"}'
        if "can be attributed to the given context" in text:  # context-recall
            ok = "Paris" in text.split("context:")[-1].split("answer:")[0]
            return f"1. Paris is the capital of France. So [{'Attributed' if ok else 'Not Attributed'}]"
        if "candidate sentences:" in text:  # context-relevance
            return "Paris is the capital of France." if "context: Paris" in text else "Insufficient Information"
        if "create one or more statements" in text:  # context-faithfulness, first call: the statements
            return text.rsplit("answer: ", 1)[1].split("\nstatements:")[0]
        if "Natural language inference" in text:  # second call: a verdict per statement
            ok = "statements:\nParis" in text
            return f"1. ... Verdict: {'Yes' if ok else 'No'}.\nFinal verdict for each statement in order: {'Yes' if ok else 'No'}."
        if "Generate question for the given answer" in text:  # answer-relevance
            return "What is the capital of France?" if "Answer:Paris" in text else "When do dogs bark?"
        if "[Criterion]:" in text:  # closedqa: reasoning, then the letter on its own line (twice)
            return "The city is in France.\nY\nY" if "[Submission]: Paris" in text else "Berlin is in Germany.\nN\nN"
        return "(C) same details" if "[Submission]: Paris" in text else "(D) they disagree"


def subject_extra(kind, passing):
    measure = (SLOW if passing else FAST).get(kind)
    if kind == "latency":
        return {"latency_ms": measure}
    if kind == "cost":
        return {"cost_usd": measure}
    if kind == "finish-reason":
        return {"finish_reason": "stop" if passing else "length"}
    if kind == "is-valid-openai-tools-call":  # the failing call misses a required argument
        args = '{"city": "Paris"}' if passing else '{"town": "Paris"}'
        return {"tool_calls": ({"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": args}},)}
    if kind == "tool-call-f1":
        name = "get_weather" if passing else "get_time"
        return {"tool_calls": ({"id": "c1", "type": "function", "function": {"name": name, "arguments": "{}"}},)}
    if kind in ("context-recall", "context-relevance"):  # what they judge is the context, not the output
        context = "Paris is the capital of France." if passing else "Berlin has many museums."
        return {"inputs": {"context": context, "query": "What is the capital of France?"}}
    return {}


def test_every_base_type_is_covered():
    assert set(CASES) == set(BASE_TYPES)


@pytest.mark.parametrize("kind", sorted(CASES))
def test_each_type_passes_and_fails_and_its_not_form_inverts(kind):
    spec, good, bad, extra = CASES[kind]
    judge = Judge(grade=FakeGrader().grade)
    ok = check(spec, good, judge, **extra, **subject_extra(kind, True))
    ko = check(spec, bad, judge, **extra, **subject_extra(kind, False))
    assert ok.passed, ok.reason
    assert not ko.passed, ko.reason
    assert ok.score > ko.score
    assert ko.reason
    inverse = {**spec, "type": f"not-{kind}"}
    nok = check(inverse, good, judge, **extra, **subject_extra(kind, True))
    nko = check(inverse, bad, judge, **extra, **subject_extra(kind, False))
    assert not nok.passed, nok.reason
    assert nko.passed, nko.reason
    assert nok.type == f"not-{kind}"


def test_comparisons_default_to_the_golden():
    assert check({"type": "equals"}, "42", golden="42").passed
    assert not check({"type": "equals"}, "41", golden="42").passed
    assert check({"type": "levenshtein"}, "hello wrld", golden="hello world").passed  # default threshold 5
    assert not check({"type": "levenshtein"}, "goodbye, cruel world", golden="hello world").passed
    r = check({"type": "equals"}, "x")
    assert not r.passed and "golden" in r.reason


def test_equals_compares_json_values_as_json():
    assert check({"type": "equals", "value": {"a": 1, "b": [1, 2]}}, '{"b": [1, 2], "a": 1}').passed
    assert check({"type": "equals"}, '{"reply":"hi"}', golden='{"reply": "hi"}').passed
    assert not check({"type": "equals", "value": {"a": 1}}, '{"a": 2}').passed


def test_similar_thresholds_default_and_lists():
    golden = "refunds are possible within thirty days"
    assert check({"type": "similar"}, "refunds are possible within thirty days!", golden=golden).passed
    r = check({"type": "similar"}, "completely unrelated words here", golden=golden)
    assert not r.passed and "< 0.75" in r.reason
    # a list of references: the best one counts
    assert check({"type": "similar", "value": ["nope nothing", "hello there world"]}, "hello world there").passed


def test_similar_uses_embeddings_when_a_model_is_configured():
    calls = []

    async def embed(texts):
        calls.append(texts)
        return [[1.0, 0.0] if "yes" in t else [0.0, 1.0] for t in texts]

    judge = Judge(embed=embed)
    assert check({"type": "similar", "value": "yes indeed"}, "yes", judge).passed
    r = check({"type": "similar", "value": "yes indeed"}, "no", judge)
    assert not r.passed and "embedding similarity 0.00" in r.reason
    assert calls == [["yes", "yes indeed"], ["no", "yes indeed"]]


def test_text_similarity_is_the_documented_word_count_cosine():
    assert text_similarity("a b", "b a") == pytest.approx(1.0)
    assert text_similarity("a a b", "a b") == pytest.approx(3 / (5**0.5 * 2**0.5))
    assert text_similarity("Hello, World", "hello world") == pytest.approx(1.0)
    assert text_similarity("x", "y") == 0.0
    assert levenshtein("kitten", "sitting") == 3


def test_latency_and_cost_need_a_threshold_and_a_measure():
    r = check({"type": "latency"}, "x", latency_ms=5)
    assert not r.passed and "threshold" in r.reason
    r = check({"type": "cost", "threshold": 1}, "x", cost_usd=None)
    assert not r.passed and "unknown" in r.reason
    # an assertion that cannot be evaluated fails, even in its not- form
    assert not check({"type": "not-cost", "threshold": 1}, "x", cost_usd=None).passed


def test_contains_any_and_all_accept_a_comma_separated_string():
    assert check({"type": "contains-any", "value": "cat, dog"}, "a dog").passed
    assert not check({"type": "contains-all", "value": "cat, dog"}, "a dog").passed


def test_json_assertions_with_schemas():
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    assert check({"type": "is-json", "value": schema}, '{"n": 1}').passed
    r = check({"type": "is-json", "value": schema}, '{"n": "one"}')
    assert not r.passed and "n:" in r.reason
    assert check({"type": "contains-json", "value": schema}, 'a {"x": 1} b {"n": 2}').passed
    assert not check({"type": "contains-json", "value": schema}, 'a {"x": 1}').passed
    # json-schema defaults to the prompt's output schema
    assert check({"type": "json-schema"}, '{"n": 3}', output_schema=schema).passed
    assert not check({"type": "json-schema"}, '{"m": 3}', output_schema=schema).passed
    r = check({"type": "json-schema"}, '{"m": 3}')
    assert not r.passed and "output.schema" in r.reason
    r = check({"type": "json-schema", "value": {"type": "nonsense"}}, "{}")
    assert not r.passed and "invalid JSON Schema" in r.reason


def test_json_helpers():
    assert parse_json_output('```json\n{"a": 1}\n```') == {"a": 1}
    assert find_json('x [1, 2] y {"b": {"c": 1}} z') == [[1, 2], {"b": {"c": 1}}]


def test_regex_errors_fail_the_assertion():
    r = check({"type": "regex", "value": "("}, "x")
    assert not r.passed and "invalid regular expression" in r.reason


def test_python_expressions_and_results():
    assert check({"type": "python", "value": "context['vars']['n'] == 2"}, "x", inputs={"n": 2}).passed
    assert check({"type": "python", "value": "data['a'] == 1"}, '{"a": 1}').passed  # parses on demand
    r = check({"type": "python", "value": "0.4", "threshold": 0.5}, "x")
    assert not r.passed and r.score == pytest.approx(0.4)
    assert check({"type": "python", "value": "0.6", "threshold": 0.5}, "x").passed
    assert check({"type": "python", "value": "0.1"}, "x").passed  # no threshold: > 0 passes
    r = check({"type": "python", "value": "{'pass': False, 'score': 0.2, 'reason': 'too short'}"}, "x")
    assert not r.passed and r.reason == "too short"
    r = check({"type": "python", "value": "1/0"}, "x")
    assert not r.passed and "ZeroDivisionError" in r.reason
    r = check({"type": "python", "value": "def f(:"}, "x")
    assert not r.passed and "invalid Python" in r.reason


def test_python_module_function_runs_repository_code(tmp_path):
    write_tree(tmp_path, {"checks/evalfns.py": """\
        def short(output, context):
            return {"pass": len(output) <= context["vars"]["limit"], "score": 1.0, "reason": f"{len(output)} chars"}
        """})
    spec = {"type": "python", "value": "checks.evalfns:short"}
    assert check(spec, "abc", inputs={"limit": 5}, root=tmp_path).passed
    r = check(spec, "abcdefgh", inputs={"limit": 5}, root=tmp_path)
    assert not r.passed and r.reason == "8 chars"
    r = check({"type": "python", "value": "checks.evalfns:missing"}, "x", root=tmp_path)
    assert not r.passed and "missing" in r.reason


def test_llm_rubric_threshold_and_grader_requests():
    grader = FakeGrader()
    judge = Judge(grade=grader.grade)
    assert check({"type": "llm-rubric", "value": "is polite"}, "thank you", judge).passed
    r = check({"type": "llm-rubric", "value": "is polite", "threshold": 0.95}, "thank you", judge)
    assert not r.passed and "threshold 0.95" in r.reason
    assert "<Rubric>\nis polite\n</Rubric>" in grader.requests[0][-1]["content"]
    # no grader at all, or a grader answering nonsense, fails the assertion with the reason
    assert "no grader" in check({"type": "llm-rubric", "value": "x"}, "y").reason

    async def nonsense(messages):
        return "I think it is fine"

    r = check({"type": "llm-rubric", "value": "x"}, "y", Judge(grade=nonsense))
    assert not r.passed and "not a JSON object" in r.reason


def test_factuality_uses_the_golden_and_the_question():
    grader = FakeGrader()
    r = check({"type": "factuality"}, "Paris", Judge(grade=grader.grade), golden="Paris.", question="Capital of France?")
    assert r.passed and r.reason.startswith("grader: (C)")
    content = grader.requests[0][-1]["content"]
    assert "[Question]: Capital of France?" in content and "[Expert]: Paris." in content


def test_verdict_weights_and_report_only_assertions():
    a = AssertionResult("contains", True, 1.0, "", weight=3)
    b = AssertionResult("similar", False, 0.5, "too far", weight=1)
    passed, score, reason = verdict([a, b])
    assert not passed and score == pytest.approx((3 + 0.5) / 4) and reason == "similar: too far"
    # weight 0: reported, not counted
    c = AssertionResult("similar", False, 0.0, "ignored", weight=0)
    passed, score, reason = verdict([a, c])
    assert passed and score == 1.0 and reason == ""
    assert verdict([]) == (True, 1.0, "")


def test_weight_flows_from_the_spec():
    r = check({"type": "contains", "value": "a", "weight": 2.5, "metric": "m", "description": "d"}, "a")
    assert (r.weight, r.metric, r.description) == (2.5, "m", "d")
    assert r.to_json()["metric"] == "m"


def test_model_graded_assertions_run_concurrently():
    started = []

    async def slow_grade(messages):
        started.append(1)
        await asyncio.sleep(0.05)
        assert len(started) == 2, "the second grader call should start while the first waits"
        return '{"pass": true, "score": 1, "reason": "ok"}'

    subject = Subject(output="x")
    specs = [{"type": "llm-rubric", "value": "a"}, {"type": "llm-rubric", "value": "b"}]
    results = asyncio.run(evaluate(specs, subject, Judge(grade=slow_grade)))
    assert [r.passed for r in results] == [True, True]


@pytest.mark.parametrize(("answer", "passed", "reason"), [
    ("Reasoning: it meets it.\nY\nY", True, "grader: Y (Reasoning: it meets it.)"),
    ("It does not.\n**N**", False, "grader: N (It does not.)"),
    ("no verdict here", None, "ends with neither Y nor N"),
])
def test_model_graded_closedqa_reads_the_last_letter(answer, passed, reason):
    async def grade(messages):
        assert "[Criterion]: is short" in messages[-1]["content"] and "[Task]: what?" in messages[-1]["content"]
        return answer

    result = check({"type": "model-graded-closedqa", "value": "is short"}, "ok", Judge(grade=grade), question="what?")
    assert result.reason.startswith(reason) or reason in result.reason, result
    assert result.passed is bool(passed)


@pytest.mark.parametrize(("answers", "spec", "passed", "score", "reason"), [
    (['{"steps": ["a", "b"]}', '{"score": 8, "reason": "good"}'], {"type": "g-eval", "value": "clear"}, True, 0.8,
     "g-eval score 0.80 >= 0.7: good"),
    (['{"steps": ["a"]}', '{"score": 6}'], {"type": "g-eval", "value": "clear"}, False, 0.6, "g-eval score 0.60 < 0.7"),
    (['{"steps": ["a"]}', '{"score": 6}'], {"type": "g-eval", "value": "clear", "threshold": 0.5}, True, 0.6, ""),
    (['{"steps": ["a"]}', '{"score": 9}', '{"steps": ["b"]}', '{"score": 5}'], {"type": "g-eval", "value": ["clear", "short"]},
     True, 0.7, "g-eval score 0.70 >= 0.7"),
    (["no steps"], {"type": "g-eval", "value": "clear"}, False, 0.0, "the grader gave no evaluation steps"),
    (['{"steps": ["a"]}', '{"score": 42}'], {"type": "g-eval", "value": "clear"}, False, 0.0, "is not between 0 and 10"),
    (['{"steps": ["a"]}', '{"score": NaN}'], {"type": "g-eval", "value": "clear"}, False, 0.0, "the grader's answer has no score"),
])
def test_g_eval_writes_steps_then_scores_by_them(answers, spec, passed, score, reason):
    calls = []

    async def grade(messages):
        calls.append(messages[-1]["content"])
        return answers[len(calls) - 1]

    result = check(spec, "ok", Judge(grade=grade), question="what?")
    assert (result.passed, round(result.score, 4)) == (passed, score) and reason in result.reason, result
    if len(calls) > 1:
        assert "Evaluation steps:\n1. a" in calls[1] and "Input: what?" in calls[1] and "Answer: ok" in calls[1]
