"""bleu and rouge-n (promptfoo's formulas), the tool-call checks and the RAG family, on their own.

The figures are worked out by hand from promptfoo's definitions (see promptctl/evals/textmetrics.py);
the end-to-end tool-call run over HTTP is in test_eval_http.py.
"""

from __future__ import annotations

import asyncio
import json
import math

import pytest

from promptctl.evals.assertions import Judge, Subject, evaluate
from promptctl.evals.textmetrics import bleu, rouge_1, treebank_tokens
from promptctl.evals.toolcalls import tool_names


def one(spec, output="", judge=None, **kw):
    (result,) = asyncio.run(evaluate([spec], Subject(output=output, **kw), judge))
    return result


# -- bleu ----------------------------------------------------------------------------------------


def test_bleu_figures():
    # 5/6 unigrams, 3/5 bigrams, 1/4 trigrams, no 4-gram (read as 1e-7); same length, no brevity penalty
    expected = math.exp(0.25 * (math.log(5 / 6) + math.log(3 / 5) + math.log(1 / 4) + math.log(1e-7)))
    assert bleu("the cat is on the mat", ["the cat sat on the mat"]) == pytest.approx(expected)
    assert bleu("The Cat is on the mat", ["a dog", "the cat is on the mat"]) == 1.0  # the best reference, any case
    assert bleu("the good dog", ["the good dog"]) == 1.0  # orders longer than the output are skipped
    assert bleu("the cat", ["the cat sat on the mat"]) == pytest.approx(math.exp(1 - 6 / 2))  # brevity penalty


def test_bleu_assertion():
    r = one({"type": "bleu", "value": "the cat sat on the mat", "threshold": 0.9}, "the cat sat on the mat")
    assert r.passed and r.score == 1.0 and r.reason == "BLEU 1.0000 >= 0.9"
    r = one({"type": "bleu", "value": ["x y z", "the cat sat on the mat"]}, "the cat is on the mat")
    assert not r.passed and r.reason.startswith("BLEU 0.0106 < 0.5")  # default threshold 0.5
    n = one({"type": "not-bleu", "value": "the cat sat on the mat"}, "the cat is on the mat")
    assert n.passed and n.score == pytest.approx(1 - 0.010573712634405643)
    assert "non-empty" in one({"type": "bleu", "value": ""}, "x").reason
    assert not one({"type": "bleu", "value": "a b"}, "").passed


# -- rouge-n -------------------------------------------------------------------------------------


def test_rouge_is_js_rouges_unigram_f_measure_ignoring_case():
    # figures from promptfoo 0.121.20 with js-rouge 3.2.3 (benchmarks/promptfoo_parity.py)
    # Treebank tokens: the reference has 7 (the final period is one), the output 6, all 6 shared
    assert rouge_1("the cat sat on the mat", "The cat sat on the mat.") == pytest.approx(12 / 13)
    # only "the", twice on each side: P 2/9, R 2/7
    assert rouge_1("The quick brown fox jumps over the lazy dog", "The cat sat on the mat.") == pytest.approx(0.25)
    # each sentence's final period is its own token
    assert rouge_1("Paris. Lyon.", "paris . lyon .") == 1.0
    assert treebank_tokens('"I can\'t," she said (quietly)... Don\'t go!') == [
        "``", "I", "ca", "n't", ",", "''", "she", "said", "(", "quietly", ")", "...", "Do", "n't", "go", "!"]
    r = one({"type": "rouge-n", "value": "The cat sat on the mat."}, "the cat sat on the mat")
    assert r.passed and r.reason == "ROUGE-N 0.9231 >= 0.75"
    assert "one reference text" in one({"type": "rouge-n", "value": ["a", "b"]}, "a").reason


# -- tool calls ------------------------------------------------------------------------------------

WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def call(name, arguments='{"city": "Paris"}'):
    return {"id": "c", "type": "function", "function": {"name": name, "arguments": arguments}}


@pytest.mark.parametrize(("calls", "tools", "passed", "reason"), [
    ((call("get_weather"),), (WEATHER,), True, "valid tool calls: get_weather"),
    ((call("get_time"),), (WEATHER,), False, "called 'get_time', but the prompt has no tool of that name"),
    ((call("get_weather", "{city: Paris"),), (WEATHER,), False, "the arguments of 'get_weather' are not JSON"),
    ((call("get_weather", "{}"),), (WEATHER,), False, "the call to 'get_weather' does not match its parameters"),
    ((call("get_weather"),), (), False, "the prompt has no `tools:`"),
    ((), (WEATHER,), False, "the answer is not a list of tool calls"),
])
def test_is_valid_openai_tools_call(calls, tools, passed, reason):
    r = one({"type": "is-valid-openai-tools-call"}, "", tool_calls=calls, tools=tools)
    assert r.passed is passed and r.reason.startswith(reason), r.reason
    assert one({"type": "not-is-valid-openai-tools-call"}, "", tool_calls=calls, tools=tools).passed is not passed


def test_tool_calls_can_come_from_the_output_text():
    """A hand-written golden or a transform can give the calls as JSON text: a list, or {tool_calls}."""
    text = json.dumps({"content": None, "tool_calls": [call("get_weather")]})
    assert one({"type": "is-valid-openai-tools-call"}, text, tools=(WEATHER,)).passed
    assert one({"type": "tool-call-f1", "value": "get_weather"}, json.dumps([call("get_weather")])).passed


def test_tool_call_f1_over_names():
    calls = (call("a"), call("c"))
    r = one({"type": "tool-call-f1", "value": "a, b"}, "", tool_calls=calls)
    assert not r.passed and r.score == 0.5  # precision 1/2, recall 1/2; the default threshold is 1
    assert r.reason == "tool-call F1 0.500 (precision 0.500, recall 0.500); expected a, b, called a, c"
    assert one({"type": "tool-call-f1", "value": ["a", "b"], "threshold": 0.5}, "", tool_calls=calls).passed
    n = one({"type": "not-tool-call-f1", "value": "a, b"}, "", tool_calls=calls)
    assert n.passed and n.score == 0.5  # promptfoo keeps the F1 as the score of the not- form
    assert "expected tool names" in one({"type": "tool-call-f1", "value": {"a": 1}}, "").reason
    assert "at least one" in one({"type": "tool-call-f1", "value": " , "}, "").reason


def test_tool_names_read_every_providers_shape():
    assert tool_names([{"type": "tool_use", "name": "a"}, {"functionCall": {"name": "b"}}, {"name": "c"}]) == {"a", "b", "c"}
    assert tool_names({"type": "function_call", "name": "d"}) == {"d"}
    assert tool_names('thinking...\n{"tool_calls": [{"function": {"name": "e"}}]}') == {"e"}
    assert tool_names("no calls here") == set()


# -- RAG ---------------------------------------------------------------------------------------------


class Grader:
    """Answers each RAG grader prompt with a canned text, keeping what it was asked."""

    def __init__(self, answers):
        self.answers, self.asked = answers, []

    async def grade(self, messages):
        text = messages[-1]["content"]
        self.asked.append(text)
        for marker, answer in self.answers.items():
            if marker in text:
                return answer
        raise AssertionError(f"unexpected grader prompt: {text[:80]}")


CONTEXT = "Refunds take 5 days. Orders ship in 2 days. Support is open on weekdays."


def test_context_recall_is_the_share_of_attributed_sentences():
    g = Grader({"can be attributed": "1. Refunds take 5 days. So [Attributed]\n2. They are free. So [Not Attributed]\nnoise"})
    r = one({"type": "context-recall", "value": "Refunds take 5 days. They are free."}, "x", Judge(grade=g.grade),
            inputs={"context": [CONTEXT, "Second chunk."]})
    assert r.passed and r.score == 0.5 and r.reason == "context recall 0.50 >= 0.5 (1 of 2 sentences attributed)"
    assert f"context:{CONTEXT}\n\nSecond chunk.\nanswer:Refunds take 5 days. They are free.\nclassification:\n" in g.asked[0]


def test_context_relevance_counts_the_sentences_the_query_needs():
    g = Grader({"candidate sentences": "Refunds take 5 days.\n"})
    r = one({"type": "context-relevance", "threshold": 0.3}, "x", Judge(grade=g.grade),
            inputs={"context": CONTEXT, "query": "How long do refunds take?"})
    assert r.passed and r.score == pytest.approx(1 / 3) and "1 of 3 sentences" in r.reason
    assert "query: How long do refunds take?\ncontext: " + CONTEXT in g.asked[0]
    g = Grader({"candidate sentences": "Insufficient Information"})
    assert one({"type": "context-relevance"}, "x", Judge(grade=g.grade), inputs={"context": CONTEXT}).score == 0.0


def test_context_faithfulness_two_calls_and_missing_verdicts():
    g = Grader({"create one or more statements": "Refunds take 5 days.\nRefunds are free.",
                "Natural language inference": "...\nFinal verdict for each statement in order: Yes. No."})
    r = one({"type": "context-faithfulness"}, "Refunds take 5 days and are free.", Judge(grade=g.grade),
            inputs={"context": CONTEXT, "query": "refunds?"}, question="ignored: the query input comes first")
    assert r.passed and r.score == 0.5 and "1 of 2 statements supported" in r.reason
    assert "statements:\nRefunds take 5 days.\nRefunds are free.\nAnswer:\n" in g.asked[1]
    assert "question:refunds?\nanswer: Refunds take 5 days and are free.\nstatements:\n" in g.asked[0]
    g = Grader({"create one or more statements": "A.\nB.", "Natural language inference": "Final verdict for each statement in order: Yes."})
    assert one({"type": "context-faithfulness"}, "A. B.", Judge(grade=g.grade), inputs={"context": CONTEXT}).score == 0.5
    g = Grader({"create one or more statements": "A.", "Natural language inference": "I cannot tell."})
    r = one({"type": "context-faithfulness"}, "A.", Judge(grade=g.grade), inputs={"context": CONTEXT})
    assert not r.passed and "no Yes/No verdicts" in r.reason


def test_context_comes_from_the_input_or_a_transform_and_is_required():
    g = Grader({"candidate sentences": "Orders ship in 2 days."})
    r = one({"type": "context-relevance", "contextTransform": "data['sources']"}, '{"sources": ["Orders ship in 2 days."]}',
            Judge(grade=g.grade), inputs={"query": "shipping?"})
    assert r.passed and r.score == 1.0 and "context: Orders ship in 2 days.\n" in g.asked[0]
    r = one({"type": "context-relevance"}, "x", Judge(grade=g.grade))
    assert not r.passed and "needs a context: a `context` input" in r.reason
    r = one({"type": "context-relevance", "contextTransform": "42"}, "x", Judge(grade=g.grade))
    assert "must be a text or a list of non-empty texts" in r.reason
    r = one({"type": "context-faithfulness"}, "x", Judge(), inputs={"context": CONTEXT})
    assert not r.passed and r.reason == "no grader model available"


def test_answer_relevance_compares_the_query_with_the_question_the_output_answers():
    g = Grader({"Generate question for the given answer": "How long do refunds take?"})
    r = one({"type": "answer-relevance"}, "Refunds take 5 days.", Judge(grade=g.grade),
            inputs={"query": "How long do refunds take?"})
    assert r.passed and r.score == pytest.approx(1.0) and "How long do refunds take?" in r.reason
    assert g.asked[0].endswith("Answer:Refunds take 5 days.\nQuestion:")

    async def embed(texts):
        return [[1.0, 0.0], [0.6, 0.8]]

    r = one({"type": "answer-relevance"}, "x", Judge(grade=g.grade, embed=embed), question="refunds?")
    assert not r.passed and r.score == pytest.approx(0.6) and "embedding similarity" in r.reason  # default 0.7
    assert one({"type": "not-answer-relevance"}, "x", Judge(grade=g.grade, embed=embed), question="q").passed


def test_not_similar_passes_at_the_threshold_itself_as_in_promptfoo():
    async def embed(texts):
        return [[1.0, 0.0], [0.6, 0.8]]  # cosine 0.6

    judge = Judge(embed=embed)
    assert not one({"type": "similar", "value": "x", "threshold": 0.61}, "y", judge).passed
    assert one({"type": "similar", "value": "x", "threshold": 0.6}, "y", judge).passed
    r = one({"type": "not-similar", "value": "x", "threshold": 0.6}, "y", judge)
    assert r.passed and r.reason == "embedding similarity 0.60 <= 0.6" and r.score == pytest.approx(0.4)
    assert not one({"type": "not-similar", "value": "x", "threshold": 0.59}, "y", judge).passed


# -- SQL -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("output", "value", "reason"), [
    ("SELECT id, name FROM users WHERE id = 1", None, None),
    ("WITH a AS (SELECT 1 AS x) SELECT x FROM a; UPDATE t SET x = 1", None, None),
    ("SELECT * FROM users WHERE", None, "it is not valid MySQL SQL ("),
    ("the answer is 42", None, "it is not valid MySQL SQL ("),
    ("x = 1", None, "it is not a MySQL SQL statement"),
    ("SELECT id name FROM users", None, "a comma seems missing between id and name"),
    ("SELECT `id FROM users", None, "it has an odd number of backticks"),
    ("SELECT * FROM generate_series(1, 3)", None, "generate_series is not a MySQL function"),
    ("SELECT * FROM generate_series(1, 3)", {"databaseType": "PostgresQL"}, None),
    ("SELECT id FROM users JOIN orders ON users.id = orders.uid", {"allowedTables": ["select::null::users"]},
     "it uses tables that are not allowed: orders (allowed: users)"),
    ("SELECT id, email FROM users", {"allowedColumns": ["id", "name"]}, "it uses columns that are not allowed: email"),
])
def test_is_sql(output, value, reason):
    spec = {"type": "is-sql", **({"value": value} if value is not None else {})}
    r = one(spec, output)
    assert r.passed is (reason is None), r.reason
    if reason:
        assert r.reason.startswith(reason), r.reason
        assert one({**spec, "type": "not-is-sql"}, output).passed


def test_contains_sql_reads_fenced_blocks_and_bad_values_are_clear():
    text = "First try:\n```sql\nSELEC oops\n```\nBetter:\n~~~\nSELECT id FROM users\n~~~\n"
    assert one({"type": "contains-sql"}, text).passed
    r = one({"type": "contains-sql"}, "```sql\nSELECT FROM\n```")
    assert not r.passed and r.reason.startswith("no valid SQL in the output: it is not valid MySQL SQL")
    assert "unknown databaseType 'Oracle9'" in one({"type": "is-sql", "value": {"databaseType": "Oracle9"}}, "SELECT 1").reason
    assert "is a mapping {databaseType" in one({"type": "is-sql", "value": "postgres"}, "SELECT 1").reason


def test_is_sql_without_sqlglot_says_what_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "sqlglot", None)  # as if not installed: `import sqlglot` raises ImportError
    r = one({"type": "is-sql"}, "SELECT 1")
    assert not r.passed and r.reason == "is-sql and contains-sql need sqlglot (pip install 'promptctl[sql]')"
