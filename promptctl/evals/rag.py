"""The retrieval (RAG) assertions, as promptfoo runs them (its ports of RAGAS's grader prompts):

=====================  ======================================================================
context-faithfulness   the output's claims are supported by the context: the grader writes the
                       output's statements, then a Yes/No verdict for each against the context;
                       score = supported / statements
context-recall         the reference answer ``value`` can be attributed to the context: the grader
                       marks each of its sentences [Attributed] or [Not Attributed]; score = share
                       attributed
context-relevance      the context holds what the query needs: the grader extracts the sentences of
                       the context the query requires; score = extracted / sentences of the context
answer-relevance       the output answers the query: the grader writes the question the output
                       answers; score = similarity of that question to the query (embeddings when
                       ``test.embedding_model`` is set, else word counts)
=====================  ======================================================================

The context is the case's ``context`` input (a text, or a list of texts joined by blank lines), or
what ``contextTransform`` (a Python expression over ``output``, ``inputs`` and ``data``, like
``transform``) returns; ``context-recall`` falls back to the question. The query is the case's ``query``
input, else the last user message. Each passes when its score reaches ``threshold`` (default 0.5;
0.7 for answer-relevance), as in promptfoo 0.122 (0.121 defaulted to 0, so that they always passed).
Every grader call is recorded like any other.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..text import plural
from .assertions import (
    AssertionSetupError,
    Judge,
    Outcome,
    Subject,
    _required,
    _show,
    _text,
    _threshold,
    cosine,
    run_over_output,
    text_similarity,
)

DEFAULT_CONTEXT = 0.5
DEFAULT_ANSWER_RELEVANCE = 0.7

CONTEXT_RECALL = """Given a context, and an answer, analyze each sentence in the answer and classify if the sentence can be attributed to the given context or not.
Think in steps and reason before coming to conclusion.

context: Albert Einstein (14 March 1879 – 18 April 1955) was a German-born theoretical physicist,widely held to be one of the greatest and most influential scientists of all time. Best known for developing the theory of relativity, he also made important contributions to quantum mechanics, and was thus a central figure in the revolutionary reshaping of the scientific understanding of nature that modern physics accomplished in the first decades of the twentieth century. His mass–energy equivalence formula E = mc2, which arises from relativity theory, has been called "the world's most famous equation". He received the 1921 Nobel Prize in Physics "for his services to theoretical physics, and especially for his discovery of the law of the photoelectric effect", a pivotal step in the development of quantum theory. His work is also known for its influence on the philosophy of science. In a 1999 poll of 130 leading physicists worldwide by the British journal Physics World, Einstein was ranked the greatest physicist of all time. His intellectual achievements and originality have made Einstein synonymous with genius.
answer: Albert Einstein born in 14 March 1879 was  German-born theoretical physicist, widely held to be one of the greatest and most influential scientists of all time. He received the 1921 Nobel Prize in Physics "for his services to theoretical physics. He published 4 papers in 1905.  Einstein moved to Switzerland in 1895
classification
1. Albert Einstein born in 14 March 1879 was  German-born theoretical physicist, widely held to be one of the greatest and most influential scientists of all time. The date of birth of Einstein is mentioned clearly in the context. So [Attributed]
2. He received the 1921 Nobel Prize in Physics "for his services to theoretical physics. The exact sentence is present in the given context. So [Attributed]
3. He published 4 papers in 1905. There is no mention about papers he wrote in given the context. So [Not Attributed]
4. Einstein moved to Switzerland in 1895. There is not supporting evidence for this in the given the context. So [Not Attributed]

context:{context}
answer:{ground_truth}
classification:
"""

CONTEXT_RELEVANCE = """Please extract relevant sentences from the provided context that is absolutely required answer the following query. If no relevant sentences are found, or if you believe the query cannot be answered from the given context, return the phrase "Insufficient Information".  While extracting candidate sentences you're not allowed to make any changes to sentences from given context.

query: {query}
context: {context}
candidate sentences:
"""
INSUFFICIENT = "Insufficient Information"

FAITHFULNESS_STATEMENTS = """Given a question and answer, create one or more statements from each sentence in the given answer.
question: Who was  Albert Einstein and what is he best known for?
answer: He was a German-born theoretical physicist, widely acknowledged to be one of the greatest and most influential physicists of all time. He was best known for developing the theory of relativity, he also made important contributions to the development of the theory of quantum mechanics.
statements:
Albert Einstein was born in Germany.
Albert Einstein was best known for his theory of relativity.
question: Cadmium Chloride is slightly soluble in this chemical, it is also called what?
answer: alcohol
statements:
Cadmium Chloride is slightly soluble in alcohol.
question: Were Shahul and Jithin of the same nationality?
answer: They were from different countries.
statements:
Shahul and Jithin were from different countries.
question:{question}
answer: {answer}
statements:
"""

FAITHFULNESS_VERDICTS = """Prompt: Natural language inference
Consider the given context and following statements, then determine whether they are supported by the information present in the context.Provide a brief explanation for each statement before arriving at the verdict (Yes/No). Provide a final verdict for each statement in order at the end in the given format. Do not deviate from the specified format.

Context:
John is a student at XYZ University. He is pursuing a degree in Computer Science. He is enrolled in several courses this semester, including Data Structures, Algorithms, and Database Management. John is a diligent student and spends a significant amount of time studying and completing assignments. He often stays late in the library to work on his projects.
statements:
1. John is majoring in Biology.
2. John is taking a course on Artificial Intelligence.
3. John is a dedicated student.
4. John has a part-time job.
5. John is interested in computer programming.

Answer:
1. John is majoring in Biology.
Explanation: John's major is explicitly mentioned as Computer Science. There is no information suggesting he is majoring in Biology.  Verdict: No.
2. John is taking a course on Artificial Intelligence.
Explanation: The context mentions the courses John is currently enrolled in, and Artificial Intelligence is not mentioned. Therefore, it cannot be deduced that John is taking a course on AI. Verdict: No.
3. John is a dedicated student.
Explanation: The prompt states that he spends a significant amount of time studying and completing assignments. Additionally, it mentions that he often stays late in the library to work on his projects, which implies dedication. Verdict: Yes.
4. John has a part-time job.
Explanation: There is no information given in the context about John having a part-time job. Therefore, it cannot be deduced that John has a part-time job.  Verdict: No.
5. John is interested in computer programming.
Explanation: The context states that John is pursuing a degree in Computer Science, which implies an interest in computer programming. Verdict: Yes.
Final verdict for each statement in order: No. No. Yes. No. Yes.
context:
{context}
statements:
{statements}
Answer:
"""
FINAL_VERDICT = "final verdict for each statement in order:"

ANSWER_QUESTION = """Generate question for the given answer.
Answer:
The PSLV-C56 mission is scheduled to be launched on Sunday, 30 July 2023 at 06:30 IST / 01:00 UTC. It will be launched from the Satish Dhawan Space Centre, Sriharikota, Andhra Pradesh, India
Question: When is the scheduled launch date and time for the PSLV-C56 mission, and where will it be launched from?

Answer:{answer}
Question:"""


def _ask(prompt: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": prompt}]


def _lines(text: str) -> list[str]:
    """promptfoo's ``splitIntoSentences``: the non-empty lines."""
    return [line for line in text.split("\n") if line.strip()]


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_BARE_NUMBER = re.compile(r"^\s*\d+[.)]?\s*$")


def _sentences(text: str) -> list[str]:
    """Lines, each cut at sentence ends; bare list markers (``1.``) dropped."""
    out = []
    for line in _lines(text):
        out += [s.strip() for s in _SENTENCE_END.split(line) if s.strip() and not _BARE_NUMBER.match(s)]
    return out


def context_of(spec: Mapping[str, Any], s: Subject, fallback: str | None = None) -> str | list[str]:
    """The context an assertion judges against (see the module's text); a clear error without one."""
    value: Any = None
    inputs = s.inputs or {}
    if inputs.get("context"):
        value = inputs["context"]
    elif fallback:
        value = fallback
    source = spec.get("contextTransform")
    if source:  # `context` in its scope is the context so far (the input), as promptfoo's contextTransform sees it
        value = run_over_output(str(source), s, "contextTransform", context=value)
    if isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value):
        return list(value)
    if isinstance(value, str) and value.strip():
        return value
    if value is None or value == "" or value == []:
        raise AssertionSetupError(
            f"{spec.get('type')} needs a context: a `context` input on the case (a text, or a list of texts) "
            "or a `contextTransform` that takes it from the output")
    raise AssertionSetupError(f"the context must be a text or a list of non-empty texts, not {_show(value)}")


def _joined(context: str | list[str]) -> str:
    return "\n\n".join(context) if isinstance(context, list) else context


def _query(s: Subject) -> str:
    query = (s.inputs or {}).get("query")
    return _text(query) if query not in (None, "") else s.question


def _need_grader(judge: Judge) -> None:
    if judge.grade is None:
        raise AssertionSetupError("no grader model available")


def _scored(name: str, score: float, limit: float) -> Outcome:
    ok = score >= limit - 1e-9
    return ok, score, f"{name} {score:.2f} {'>=' if ok else '<'} {limit:g}"


async def _context_recall(spec: Mapping[str, Any], s: Subject, judge: Judge, inverse: bool) -> Outcome:
    truth = _text(_required(spec, "context-recall"))
    context = context_of(spec, s, fallback=s.question)
    limit = _threshold(spec, DEFAULT_CONTEXT, "context-recall")
    _need_grader(judge)
    answer = await judge.grade(_ask(CONTEXT_RECALL.format(context=_joined(context), ground_truth=truth)))  # type: ignore[misc]
    marked = [line for line in _lines(answer) if "[attributed]" in line.lower() or "[not attributed]" in line.lower()]
    if not marked:
        raise AssertionSetupError(f"the grader marked no sentence [Attributed] or [Not Attributed]: {_show(answer)}")
    attributed = sum(1 for line in marked if "[not attributed]" not in line.lower())
    ok, score, reason = _scored("context recall", attributed / len(marked), limit)
    return ok, score, f"{reason} ({attributed} of {plural(len(marked), 'sentence')} attributed)"


async def _context_relevance(spec: Mapping[str, Any], s: Subject, judge: Judge, inverse: bool) -> Outcome:
    context = context_of(spec, s)
    limit = _threshold(spec, DEFAULT_CONTEXT, "context-relevance")
    _need_grader(judge)
    answer = await judge.grade(_ask(CONTEXT_RELEVANCE.format(query=_query(s), context=_joined(context))))  # type: ignore[misc]
    units = [c for c in context if c.strip()] if isinstance(context, list) else _sentences(context)
    if INSUFFICIENT.lower() in answer.lower():
        extracted = 0
    else:
        extracted = min(len(dict.fromkeys(_sentences(answer))), len(units))
    ok, score, reason = _scored("context relevance", extracted / len(units) if units else 0.0, limit)
    return ok, score, f"{reason} ({extracted} of {plural(len(units), 'sentence')} of the context needed)"


async def _context_faithfulness(spec: Mapping[str, Any], s: Subject, judge: Judge, inverse: bool) -> Outcome:
    context = context_of(spec, s)
    limit = _threshold(spec, DEFAULT_CONTEXT, "context-faithfulness")
    _need_grader(judge)
    stated = await judge.grade(_ask(FAITHFULNESS_STATEMENTS.format(question=_query(s), answer=s.output)))  # type: ignore[misc]
    statements = _lines(stated)
    if not statements:
        raise AssertionSetupError(f"the grader wrote no statements for the output: {_show(stated)}")
    nli = await judge.grade(_ask(FAITHFULNESS_VERDICTS.format(context=_joined(context), statements="\n".join(statements))))  # type: ignore[misc]
    text = nli.lower().strip()
    if FINAL_VERDICT in text:
        parts = [p for p in text[text.index(FINAL_VERDICT) + len(FINAL_VERDICT):].split(".") if p.strip()]
        verdicts = [bool(re.search(r"\byes\b", p)) for p in parts if re.search(r"\b(?:yes|no)\b", p)]
    else:
        verdicts = [m == "yes" for m in re.findall(r"verdict:\s*(yes|no)", text)]
    if not verdicts:
        raise AssertionSetupError(f"the grader gave no Yes/No verdicts: {_show(nli)}")
    # a statement without a verdict counts as unsupported (promptfoo 0.121.19 on)
    supported = sum(verdicts[: len(statements)])
    ok, score, reason = _scored("faithfulness", max(0.0, min(1.0, supported / len(statements))), limit)
    return ok, score, f"{reason} ({supported} of {plural(len(statements), 'statement')} supported by the context)"


async def _answer_relevance(spec: Mapping[str, Any], s: Subject, judge: Judge, inverse: bool) -> Outcome:
    query = _query(s)
    if not query.strip():
        raise AssertionSetupError("answer-relevance needs a query: a `query` input, or a user message")
    limit = _threshold(spec, DEFAULT_ANSWER_RELEVANCE, "answer-relevance")
    _need_grader(judge)
    question = (await judge.grade(_ask(ANSWER_QUESTION.format(answer=s.output)))).strip()  # type: ignore[misc]
    if not question:
        raise AssertionSetupError("the grader wrote no question for the output")
    if judge.embed is not None:
        vectors = await judge.embed([query, question])
        similarity, how = cosine(vectors[0], vectors[1]), "embedding similarity"
    else:
        similarity, how = text_similarity(query, question), "similarity (word counts)"
    ok, score, reason = _scored("answer relevance", similarity, limit)
    return ok, score, f"{reason} ({how} of the query to the question the output answers: {_show(question)})"


CHECKS = {
    "context-faithfulness": _context_faithfulness,
    "context-recall": _context_recall,
    "context-relevance": _context_relevance,
    "answer-relevance": _answer_relevance,
}
