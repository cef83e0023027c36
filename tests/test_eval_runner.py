"""The eval runner with a fake completion function: modes, retries, fallbacks, budget, concurrency,
baseline, comparison, JSON outputs, reports and golden updates. (HTTP and litellm: test_eval_http.py.)"""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

import pytest
from conftest import write_tree

from promptctl.errors import NotFoundError, ProviderError, UsageError
from promptctl.evals import reports
from promptctl.evals.goldens import update_goldens
from promptctl.evals.provider import Completion, Endpoint, RetryPolicy, backoff_delay, call_with_policy
from promptctl.evals.runner import RunOptions, Services, percentile, run_tests, select_datasets
from promptctl.project import open_project

PROMPT = """\
    model: main
    fallbacks: [backup, spare]
    inputs: {q: string}
    messages:
      - role: system
        content: Answer briefly.
      - role: user
        content: "{{ q }}"
    """
DATASET = """\
    # the golden answers: reviewed by hand
    prompt: qa
    threshold: 0.5
    cases:
      - id: capital   # the easy one
        inputs: {q: "capital of France?"}
        golden: Paris
        assert:
          - {type: icontains, value: paris}
      - id: sum
        inputs: {q: "2+2?"}
        assert:
          - {type: contains, value: "4"}
    """
CONFIG = """\
    promptctl: 1
    models:
      main: openai/main-model
      backup: openai/backup-model
      spare: openai/spare-model
    test: {retries: 2, concurrency: 4}
    """


@pytest.fixture
def proj(tmp_path) -> Path:
    return write_tree(tmp_path / "p", {"promptctl.yaml": CONFIG, "prompts/qa.prompt.yaml": PROMPT, "evals/qa.eval.yaml": DATASET})


class FakeModel:
    """A completion function: answers from ``answers`` (by last user message) or echoes; ``faults``
    per model are raised in order; counts calls and the most calls in flight at once."""

    def __init__(self, answers=None, delay=0.0, cost=0.001):
        self.answers = {"capital of France?": "Paris.", "2+2?": "4", **(answers or {})}
        self.faults = defaultdict(list)
        self.calls = []
        self.delay = delay
        self.cost = cost
        self.in_flight = 0
        self.most = 0
        self.entries = []  # calls in flight as each call starts

    async def __call__(self, request, timeout):
        self.calls.append(request.endpoint.model)
        self.in_flight += 1
        self.entries.append(self.in_flight)
        self.most = max(self.most, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            queue = self.faults[request.endpoint.model]
            if queue:
                fault = queue.pop(0)
                if fault == "hang":
                    await asyncio.sleep(3600)
                raise fault
            last = request.messages[-1]["content"]
            text = self.answers.get(last, f"echo: {last}")
            if callable(text):
                text = text(request)
            return Completion(text=text, model=request.endpoint.model, usage={"prompt_tokens": 5, "completion_tokens": 2,
                              "total_tokens": 7}, cost_usd=self.cost, latency_ms=25.0)
        finally:
            self.in_flight -= 1


def run(root, fake, sleeps=None, *, estimate=None, targets=(), **opts):
    project = open_project(root)
    services = Services(complete=fake, sleep=_sleeper(sleeps), estimate=estimate)
    return run_tests(project, select_datasets(project, list(targets)), RunOptions(**opts), services=services)


def _sleeper(record):
    async def sleep(seconds):
        if record is not None:
            record.append(seconds)

    return sleep


def statuses(result):
    return {c.id: c.status for c in result.cases}


# -- modes -------------------------------------------------------------------------------------


def test_auto_records_then_replays_without_calling(proj):
    fake = FakeModel()
    r = run(proj, fake)
    assert statuses(r) == {"capital": "passed", "sum": "passed"} and r.exit_code == 0
    assert len(fake.calls) == 2 and r.live_calls == 2 and r.recorded == 2
    lines = (proj / ".promptctl/recordings/qa.jsonl").read_text().splitlines()
    assert len(lines) == 2
    record = json.loads(lines[0])
    assert record["request"]["model"] == "openai/main-model" and record["response"]["usage"]["total_tokens"] == 7
    assert record["response"]["cost_usd"] == 0.001 and record["response"]["latency_ms"] == 25.0

    again = FakeModel()
    r = run(proj, again)
    assert again.calls == [] and r.replayed == 2 and r.live_calls == 0
    case = r.cases[0]
    assert case.recorded and case.latency_ms == 25.0 and case.cost_usd == 0.001 and case.tokens == 7


def test_replay_never_calls_and_a_miss_names_the_case_to_record(proj):
    fake = FakeModel()
    r = run(proj, fake, mode="replay")
    assert fake.calls == []
    assert statuses(r) == {"capital": "error", "sum": "error"} and r.exit_code == 1
    reason = r.cases[0].reason
    assert "no recording" in reason and "promptctl test --mode auto qa --filter capital" in reason


def test_refresh_calls_again_and_keeps_one_record_per_request(proj):
    run(proj, FakeModel())
    fresh = FakeModel(answers={"2+2?": "four (4)"})
    r = run(proj, fresh, mode="refresh")
    assert len(fresh.calls) == 2 and r.recorded == 2
    lines = (proj / ".promptctl/recordings/qa.jsonl").read_text().splitlines()
    assert len(lines) == 2  # compacted after the run
    assert run(proj, FakeModel(), mode="replay").cases[1].output == "four (4)"


def test_off_calls_and_records_nothing(proj):
    fake = FakeModel()
    r = run(proj, fake, mode="off")
    assert len(fake.calls) == 2 and r.recorded == 0
    assert not (proj / ".promptctl/recordings").exists()


def test_an_unknown_mode_is_a_usage_error(proj):
    with pytest.raises(UsageError):
        run(proj, FakeModel(), mode="sometimes")


# -- retries, backoff, fallbacks ---------------------------------------------------------------


def test_retries_honour_retry_after_then_back_off_with_jitter(proj):
    fake = FakeModel()
    fake.faults["openai/main-model"] = [
        ProviderError("HTTP 429 rate limit", kind="rate_limit", status=429, retryable=True, retry_after=2.5),
        ProviderError("HTTP 500 server", kind="server", status=500, retryable=True),
    ]
    sleeps = []
    r = run(proj, fake, sleeps, targets=["qa"], filter="capital")
    assert statuses(r) == {"capital": "passed"}
    assert fake.calls == ["openai/main-model"] * 3
    assert sleeps[0] == 2.5  # the server's Retry-After
    assert 0.5 <= sleeps[1] <= 1.0  # base 0.5 s doubled, with jitter in its upper half


def test_backoff_grows_exponentially_and_is_capped():
    import random

    policy = RetryPolicy(base_delay=0.5, max_delay=4.0, max_retry_after=10)
    rng = random.Random(1)
    for attempt, (low, high) in enumerate([(0.25, 0.5), (0.5, 1.0), (1.0, 2.0), (2.0, 4.0), (2.0, 4.0)]):
        d = backoff_delay(attempt, policy, None, rng)
        assert low <= d <= high, (attempt, d)
    assert backoff_delay(0, policy, 99.0, rng) == 10  # a Retry-After beyond reason is capped


@pytest.mark.parametrize(
    "kind,status",
    [("bad_request", 400), ("auth", 401), ("auth", 403), ("not_found", 404), ("context_window", 400)],
)
def test_no_retry_on_client_errors_but_the_fallbacks_are_tried(proj, kind, status):
    fake = FakeModel()
    for model in ("openai/main-model", "openai/backup-model", "openai/spare-model"):
        fake.faults[model] = [ProviderError(f"HTTP {status} nope", kind=kind, status=status)]
    sleeps = []
    r = run(proj, fake, sleeps, filter="capital")
    assert fake.calls == ["openai/main-model", "openai/backup-model", "openai/spare-model"]
    assert sleeps == []
    case = r.cases[0]
    assert case.status == "error" and "every model failed" in case.reason and "main: HTTP" in case.reason


def test_retries_run_out_then_the_next_fallback_answers(proj):
    fake = FakeModel()
    fake.faults["openai/main-model"] = [ProviderError("HTTP 500", kind="server", status=500, retryable=True)] * 3
    fake.faults["openai/backup-model"] = [ProviderError("HTTP 401 bad key", kind="auth", status=401)]
    r = run(proj, fake, [], filter="capital")
    assert fake.calls == ["openai/main-model"] * 3 + ["openai/backup-model", "openai/spare-model"]
    assert r.cases[0].status == "passed" and r.cases[0].model == "openai/spare-model"
    # recorded under the request for the prompt's own model: a replay needs no fallback
    again = FakeModel()
    assert run(proj, again, mode="replay", filter="capital").cases[0].status == "passed" and again.calls == []


def test_a_call_that_hangs_is_cut_by_the_timeout(proj):
    fake = FakeModel()
    fake.faults["openai/main-model"] = ["hang"]
    r = run(proj, fake, [], filter="capital", timeout_s=0.02, retries=1)
    assert r.cases[0].status == "passed"  # the retry answered
    assert fake.calls[:2] == ["openai/main-model", "openai/main-model"]


def test_call_with_policy_reports_every_model_and_attempt():
    async def always_500(endpoint):
        raise ProviderError("HTTP 500 boom", kind="server", status=500, retryable=True)

    async def nosleep(_):
        pass

    eps = [Endpoint("a", "m/a"), Endpoint("b", "m/b")]
    with pytest.raises(ProviderError) as info:
        asyncio.run(call_with_policy(always_500, eps, RetryPolicy(retries=1), sleep=nosleep))
    assert str(info.value) == "every model failed: a: HTTP 500 boom (after 2 attempts); b: HTTP 500 boom (after 2 attempts)"


def test_a_broken_completion_function_fails_the_case_not_the_run(proj):
    async def broken(request, timeout):
        raise RuntimeError("oops")

    r = run(proj, broken, [])
    assert statuses(r) == {"capital": "error", "sum": "error"} and "oops" in r.cases[0].reason


# -- concurrency, dedupe, budget ----------------------------------------------------------------


def many_cases(root, n, *, same=False):
    rows = "\n".join(
        json.dumps({"id": f"c{i}", "inputs": {"q": "same" if same else f"question {i}"}}) for i in range(n)
    )
    write_tree(root, {"evals/data/many.jsonl": rows + "\n", "evals/many.eval.yaml": """\
        prompt: qa
        threshold: 0.5
        cases:
          - file: data/many.jsonl
        """})


def test_concurrency_is_bounded(proj):
    many_cases(proj, 12)
    fake = FakeModel(delay=0.01)
    r = run(proj, fake, targets=["many"], concurrency=3)
    assert len(r.cases) == 12 and fake.most == 3
    assert fake.entries[:2] == [1, 1]  # the first call to a model goes alone (it warms litellm's client)


def test_identical_requests_share_one_call(proj):
    many_cases(proj, 5, same=True)
    fake = FakeModel(delay=0.01)
    r = run(proj, fake, targets=["many"], mode="off")
    assert len(fake.calls) == 1 and all(c.output == "echo: same" for c in r.cases)


def test_the_budget_stops_before_the_estimate_would_exceed_it(proj):
    many_cases(proj, 10)
    fake = FakeModel(cost=0.01)
    estimates = []

    def estimate(request, output_tokens):
        estimates.append(output_tokens)
        return 0.009

    r = run(proj, fake, targets=["many"], concurrency=1, max_cost_usd=0.035, estimate=estimate)
    assert len(fake.calls) == 3  # 0.01 + 0.01 + 0.01, then 0.03 + ~0.01 > 0.035
    assert r.budget_stopped and r.exit_code == 1 and r.spent_usd == pytest.approx(0.03)
    assert [c.status for c in r.cases].count("skipped") == 7
    assert "budget" in r.cases[-1].reason
    assert estimates[0] == 256 and estimates[1] == 3  # no answer seen yet, then the answers' length
    text = reports.format_text(r)
    assert "budget reached" in text and "3 of 10 cases ran" in text
    # what was recorded before the stop replays for free, so a re-run spends only on the rest
    again = FakeModel(cost=0.01)
    r = run(proj, again, targets=["many"], concurrency=1, max_cost_usd=1, estimate=estimate)
    assert len(again.calls) == 7 and not r.budget_stopped


# -- outputs and assertions in a run -----------------------------------------------------------


def test_json_outputs_are_parsed_and_checked_against_the_output_schema(proj):
    write_tree(proj, {"prompts/js.prompt.yaml": """\
        model: main
        inputs: {q: string}
        messages: [{role: user, content: "{{ q }}"}]
        output: {format: json, schema: {type: object, required: [answer]}}
        """, "evals/js.eval.yaml": """\
        prompt: js
        cases:
          - {id: good, inputs: {q: good}, assert: [{type: python, value: "data['answer'] == 42"}]}
          - {id: not-json, inputs: {q: text}}
          - {id: wrong-shape, inputs: {q: shape}}
        """})
    fake = FakeModel(answers={"good": '```json\n{"answer": 42}\n```', "text": "forty-two", "shape": '{"other": 1}'})
    r = run(proj, fake, targets=["js"])
    by = {c.id: c for c in r.cases}
    assert by["good"].status == "passed" and by["good"].data == {"answer": 42}
    assert by["not-json"].status == "failed" and "not valid JSON" in by["not-json"].reason
    assert by["wrong-shape"].status == "failed" and "output.schema" in by["wrong-shape"].reason
    # the output schema is part of the request (and of its recording key)
    record = json.loads((proj / ".promptctl/recordings/js.jsonl").read_text().splitlines()[0])
    assert record["request"]["response_format"]["json_schema"]["schema"] == {"type": "object", "required": ["answer"]}


def test_render_errors_and_unknown_prompts_fail_their_cases_and_the_run_goes_on(proj):
    write_tree(proj, {"evals/broken.eval.yaml": """\
        prompt: qa
        cases:
          - {id: missing-input, inputs: {}}
          - {id: fine, inputs: {q: "2+2?"}}
        """, "evals/ghost.eval.yaml": """\
        prompt: nobody
        cases: [{id: a}]
        """})
    r = run(proj, FakeModel(), targets=["broken", "ghost"])
    assert statuses(r) == {"missing-input": "error", "fine": "passed", "a": "error"}
    assert "missing required input 'q'" in r.cases[0].reason
    assert "no prompt named 'nobody'" in r.cases[2].reason


def test_graders_are_recorded_and_replayed(proj):
    write_tree(proj, {"evals/graded.eval.yaml": """\
        prompt: qa
        cases:
          - id: polite
            inputs: {q: "hello"}
            assert: [{type: llm-rubric, value: is friendly}, {type: factuality, value: "Hello to you"}]
        """, "promptctl.yaml": CONFIG.replace("test: {retries: 2, concurrency: 4}", "test: {grader: backup}")})

    def grade(request):
        if "<Rubric>" in request.messages[-1]["content"]:
            return '{"pass": true, "score": 1, "reason": "friendly"}'
        return "(A) consistent"

    fake = FakeModel(answers={"hello": "Hello to you too!"})
    original = fake.__call__

    async def complete(request, timeout):
        if request.endpoint.model == "openai/backup-model":
            fake.calls.append("grader")
            return Completion(text=grade(request), model="g", usage={}, cost_usd=None, latency_ms=1)
        return await original(request, timeout)

    r = run(proj, complete, targets=["graded"])
    assert r.cases[0].status == "passed", r.cases[0].reason
    assert fake.calls.count("grader") == 2
    graders = (proj / ".promptctl/recordings/_graders.jsonl").read_text().splitlines()
    assert len(graders) == 2 and all(json.loads(g)["request"]["model"] == "openai/backup-model" for g in graders)
    fake.calls.clear()
    r = run(proj, complete, targets=["graded"], mode="replay")
    assert r.cases[0].status == "passed" and fake.calls == []


# -- selecting ---------------------------------------------------------------------------------


def test_datasets_are_selected_by_path_name_or_prompt(proj, monkeypatch):
    many_cases(proj, 2)
    project = open_project(proj)
    names = lambda targets, cwd=proj: [d.name for d in select_datasets(project, targets, cwd=cwd)]  # noqa: E731
    assert names([]) == ["many", "qa"]
    assert names(["qa"]) == ["qa"]  # a dataset name first
    assert names(["many"]) == ["many"]
    assert names(["evals/qa.eval.yaml"]) == ["qa"]
    assert names(["qa.eval.yaml"], cwd=proj / "evals") == ["qa"]
    assert names(["evals"]) == ["many", "qa"]
    with pytest.raises(NotFoundError) as info:
        names(["mnay"])
    assert "many" in str(info.value)
    write_tree(proj, {"prompts/sub/p2.prompt.yaml": PROMPT, "evals/x.eval.yaml": "prompt: sub/p2\ncases: [{id: a}]\n",
                      "evals/y.eval.yaml": "prompt: sub/p2\ncases: [{id: a}]\n"})
    project = open_project(proj)  # noqa: F841 - read by names
    assert names(["sub/p2"]) == ["x", "y"]  # a prompt name: every dataset of the prompt


def test_filter_selects_cases_by_id_description_or_tag(proj):
    fake = FakeModel()
    r = run(proj, fake, filter="CAPITAL")
    assert [c.id for c in r.cases] == ["capital"]
    with pytest.raises(UsageError):
        run(proj, fake, filter="nothing-matches")


# -- comparing models, and a baseline ----------------------------------------------------------


def test_model_comparison_names_the_cheapest_model_meeting_every_threshold(proj):
    fake = FakeModel()

    async def complete(request, timeout):
        c = await fake(request, timeout)
        if request.endpoint.model == "openai/cheap":
            c.text, c.cost_usd = "no idea", 0.0001  # fails both cases: under the 0.5 threshold
        elif request.endpoint.model == "openai/pricey":
            c.cost_usd = 0.05
        return c

    r = run(proj, complete, models=("openai/cheap", "openai/mid", "openai/pricey"))
    by = {m.model: m for m in r.comparison()}
    assert by["openai/cheap"].pass_rate == 0 and not by["openai/cheap"].meets_thresholds
    assert by["openai/mid"].meets_thresholds and by["openai/pricey"].meets_thresholds
    assert r.cheapest() == "openai/mid" and r.exit_code == 0
    assert set(fake.calls) == {"openai/cheap", "openai/mid", "openai/pricey"}  # no fallbacks when comparing
    text = reports.format_text(r)
    assert "cheapest model meeting every threshold: openai/mid" in text
    md = reports.format_markdown(r)
    assert "**openai/mid**" in md


def test_a_model_without_a_price_that_meets_every_threshold_is_named_not_left_out(proj):
    fake = FakeModel()

    async def complete(request, timeout):
        c = await fake(request, timeout)
        c.cost_usd = None if request.endpoint.model == "openai/local-llama" else 0.01
        return c

    r = run(proj, complete, models=("openai/mid", "openai/local-llama"))
    assert r.cheapest() == "openai/mid" and r.unpriced_passing() == ["openai/local-llama"]
    line = ("cheapest model meeting every threshold: openai/mid; openai/local-llama also met every threshold, "
            "its cost unknown (no price)")
    assert line in reports.format_text(r)
    assert "**openai/mid**" in reports.format_markdown(r) and "openai/local-llama also met" in reports.format_markdown(r)
    comparison = json.loads(reports.format_json(r))["comparison"]
    assert comparison["cheapest"] == "openai/mid" and comparison["cost_unknown"] == ["openai/local-llama"]
    # only the unpriced model meets the thresholds: the run passes, and says its cost is unknown
    r.datasets = [d for d in r.datasets if d.model == "openai/local-llama"]
    r.models = ("openai/local-llama", "openai/gone")  # a model that ran nothing meets no threshold
    assert r.cheapest() is None and r.exit_code == 0
    assert "openai/local-llama met every threshold, its cost unknown (no price): which is cheapest cannot be said" in \
        reports.format_text(r)


def test_baseline_regressions_are_listed_and_fail_the_run(git_repo):
    git_repo.commit("v1", {"promptctl.yaml": CONFIG, "prompts/qa.prompt.yaml": PROMPT, "evals/qa.eval.yaml": DATASET})
    git_repo.write({"prompts/qa.prompt.yaml": PROMPT.replace("Answer briefly.", "Answer in French.")})

    def answer(request):
        return "Paris." if "briefly" in request.messages[0]["content"] else "C'est la capitale."

    fake = FakeModel(answers={"capital of France?": answer})
    project = open_project(git_repo.root)
    base = open_project(git_repo.root, ref="HEAD")
    r = run_tests(project, select_datasets(project, []), RunOptions(), baseline=base,
                  services=Services(complete=fake, sleep=_sleeper(None)))
    assert [(g.dataset, g.case) for g in r.regressions] == [("qa", "capital")]
    assert r.exit_code == 1
    assert all(d.ok for d in r.datasets)  # 1 of 2 passes: over the 0.5 threshold, yet the regression fails it
    data = r.to_json()
    assert data["baseline"]["regressions"][0]["case"] == "capital" and data["baseline"]["version"].startswith("HEAD")
    assert "passed there, fails now" in reports.format_text(r)
    assert reports.baseline_note(r) is None
    # in replay mode without the baseline's answers recorded, the gap is reported, not hidden
    (git_repo.root / ".promptctl/recordings/qa.jsonl").unlink()
    again = run_tests(project, select_datasets(project, []), RunOptions(mode="replay"), baseline=base)
    assert again.regressions == []
    assert "2 cases could not run on HEAD" in reports.format_text(again)
    assert "cannot count as regressions" in reports.format_markdown(again)


# -- reports -----------------------------------------------------------------------------------


def test_reports_json_junit_markdown(proj):
    fake = FakeModel(answers={"2+2?": "five"})
    r = run(proj, fake)
    data = json.loads(reports.format_json(r))
    assert data["ok"] is True and data["summary"]["passed"] == 1 and data["summary"]["failed"] == 1
    ds = data["datasets"][0]
    assert ds["pass_rate"] == 0.5 and ds["threshold"] == 0.5 and ds["latency_ms"] == {"p50": 25.0, "p95": 25.0}
    assert ds["tokens"] == 14 and ds["cost_usd"] == pytest.approx(0.002)
    assert ds["cases"][1]["asserts"][0]["reason"] == 'output does not contain "4"'

    root = ET.fromstring(reports.format_junit(r))
    assert root.tag == "testsuites" and root.get("tests") == "3" and root.get("failures") == "1"
    suite = root.find("testsuite")
    assert suite.get("name") == "qa"
    cases = {tc.get("name"): tc for tc in suite.findall("testcase")}
    assert cases["sum"].find("failure").get("message") == 'contains: output does not contain "4"'
    assert cases["capital"].find("failure") is None
    assert cases["[threshold] pass rate >= 50%"].find("failure") is None
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props["pass_rate"] == "0.5000" and props["model"] == "main"

    md = reports.format_markdown(r)
    assert md.startswith("### ✅ promptctl test")
    assert "| ✅ | qa | qa | main | 50.0% | 50% | 1/2 |" in md
    assert "<details><summary>1 failed case</summary>" in md


def test_junit_marks_a_dataset_under_threshold(proj):
    r = run(proj, FakeModel(answers={"2+2?": "five", "capital of France?": "Rome"}))
    root = ET.fromstring(reports.format_junit(r))
    gate = [tc for tc in root.iter("testcase") if tc.get("name").startswith("[threshold]")][0]
    assert "under the threshold" in gate.find("failure").get("message")
    assert root.get("failures") == "3" and r.exit_code == 1


def test_percentiles_by_nearest_rank():
    assert percentile([], 0.5) is None
    values = list(range(1, 101))
    assert percentile(values, 0.5) == 50 and percentile(values, 0.95) == 95 and percentile([7], 0.95) == 7


# -- golden updates ----------------------------------------------------------------------------


def test_update_golden_keeps_comments_order_and_quoting(proj):
    write_tree(proj, {"evals/data/more.jsonl": '{"id": "j1", "inputs": {"q": "jay"}, "golden": "old"}\n',
                      "evals/data/rows.csv": "id,q\nc1,see\n",
                      "evals/qa.eval.yaml": DATASET.rstrip(" ") + '      - id: quoted\n        inputs: {q: "quote me"}\n'
                      '        golden: "old text"\n      - file: data/more.jsonl\n      - file: data/rows.csv\n'})
    before = (proj / "evals/qa.eval.yaml").read_text()
    r = run(proj, FakeModel(answers={"capital of France?": "Paris, of course.\nSecond line.", "2+2?": "4"}))
    changes = update_goldens(r)
    assert {c.case for c in changes} == {"capital", "sum", "quoted", "j1", "c1"}
    after = (proj / "evals/qa.eval.yaml").read_text()
    assert after.startswith("# the golden answers: reviewed by hand\n")
    assert "- id: capital   # the easy one" in after
    assert "    golden: |-\n      Paris, of course.\n      Second line.\n" in after
    assert '    inputs: {q: "2+2?"}\n    golden: \'4\'\n' in after  # inserted after the inputs
    assert '    golden: "echo: quote me"\n' in after  # double quotes stay double quotes
    unchanged = [line for line in before.splitlines() if "golden" not in line and "Paris" not in line]
    assert all(line in after.splitlines() for line in unchanged)
    assert json.loads((proj / "evals/data/more.jsonl").read_text()) == {"id": "j1", "inputs": {"q": "jay"}, "golden": "echo: jay"}
    assert (proj / "evals/data/rows.csv").read_text() == "id,q,golden\nc1,see,echo: see\n"
    text = reports.format_golden_changes(changes)
    assert "goldens: 5 cases updated" in text and "+Second line." in text
    # the files still load, and a second update changes nothing
    r = run(proj, FakeModel(answers={"capital of France?": "Paris, of course.\nSecond line.", "2+2?": "4"}))
    assert update_goldens(r) == []


def test_update_golden_keeps_the_space_before_a_comment(tmp_path):
    from promptctl.evals.goldens import write_goldens
    from promptctl.model import Case

    path = tmp_path / "qa.eval.yaml"
    path.write_text("prompt: qa\ncases:\n"
                    "  - id: longer\n    golden: old  # two spaces\n"
                    '  - id: shorter\n    golden: "a much longer golden value"    # four spaces\n'
                    "  - id: one\n    golden: x # one space\n"
                    "  - id: data\n    golden: {a: 1}   # three, in flow style\n")
    source = str(path)
    write_goldens([(Case(id="longer", inputs={}, source=source), "a much longer new value"),
                   (Case(id="shorter", inputs={}, source=source), "short"),
                   (Case(id="one", inputs={}, source=source), "xyz"),
                   (Case(id="data", inputs={}, source=source), {"a": 2, "b": [1]})])
    assert path.read_text() == ("prompt: qa\ncases:\n"
                                "  - id: longer\n    golden: a much longer new value  # two spaces\n"
                                '  - id: shorter\n    golden: "short"    # four spaces\n'
                                "  - id: one\n    golden: xyz # one space\n"
                                "  - id: data\n    golden: {a: 2, b: [1]}   # three, in flow style\n")


def test_update_golden_refuses_several_models(proj):
    r = run(proj, FakeModel(), models=("openai/a", "openai/b"))
    with pytest.raises(UsageError):
        update_goldens(r)


def test_a_json_golden_is_updated_with_json_data():
    from promptctl.evals.goldens import new_golden

    assert new_golden({"reply": "old"}, '{"reply": "new"}', {"reply": "new"}) == {"reply": "new"}
    assert new_golden('{"reply": "old"}', '{"reply": "new"}', {"reply": "new"}) == '{"reply": "new"}'
    assert new_golden(None, "text", None) == "text"
    assert new_golden({"a": 1}, "not json", None) == "not json"


def test_recorded_cases_with_local_checks_run_at_once_and_the_others_in_tasks_as_before(proj):
    write_tree(proj, {"evals/graded.eval.yaml": """\
        prompt: qa
        cases:
          - id: graded
            inputs: {q: "hello"}
            assert: [{type: llm-rubric, value: is friendly}]
          - id: local
            inputs: {q: "local one"}
            assert: [{type: assert-set, assert: [{type: contains, value: local}, {type: not-regex, value: "^x"}]}]
        """, "promptctl.yaml": CONFIG.replace("test: {retries: 2, concurrency: 4}", "test: {grader: backup}")})
    fake = FakeModel()
    original = fake.__call__

    async def complete(request, timeout):
        if request.endpoint.model == "openai/backup-model":
            return Completion(text='{"pass": true, "score": 1, "reason": "ok"}', model="g", usage={}, latency_ms=1)
        return await original(request, timeout)

    def run_seen(**opts):
        seen = []
        project = open_project(proj)
        services = Services(complete=complete, sleep=_sleeper(None))
        result = run_tests(project, select_datasets(project, []), RunOptions(**opts), services=services,
                           on_case=lambda d, c: seen.append((c.id, task_or_none())))
        return result, seen

    def task_or_none():
        try:
            return asyncio.current_task()
        except RuntimeError:  # no event loop: a case run at once
            return None

    first, seen = run_seen()  # nothing recorded: every case calls, each in a task of its own
    assert first.live_calls == 5 and first.recorded == 5 and all(c.status == "passed" for c in first.cases)
    assert len({id(task) for _, task in seen}) == 4
    (proj / "evals/more.eval.yaml").write_text("prompt: qa\ncases:\n  - {id: new, inputs: {q: not yet}}\n")
    again, seen = run_seen()
    assert again.live_calls == 1 and again.replayed == 5 and [c.status for c in again.cases] == ["passed"] * 5
    tasks = dict(seen)
    # the recorded cases with local checks finish first, in order and without an event loop; the graded
    # case and the one that needs a live call each run in a task of their own
    assert [case for case, _ in seen][:3] == ["local", "capital", "sum"]
    assert tasks["local"] is tasks["capital"] is tasks["sum"] is None
    assert None is not tasks["graded"] is not tasks["new"] is not None
    assert [c.id for c in again.cases] == ["graded", "local", "new", "capital", "sum"]
    replay, _ = run_seen(mode="replay")
    assert {c.id: c.status for c in replay.cases} == {"graded": "passed", "local": "passed", "new": "passed",
                                                      "capital": "passed", "sum": "passed"}


def test_the_cyclic_collector_rests_while_recorded_cases_run_at_once_and_is_left_as_it_was(proj):
    import gc

    run(proj, FakeModel())  # recorded now
    seen = []
    project = open_project(proj)
    services = Services(complete=FakeModel(), sleep=_sleeper(None))

    def again():
        return run_tests(project, select_datasets(project, []), RunOptions(), services=services,
                         on_case=lambda d, c: seen.append(gc.isenabled()))

    assert gc.isenabled()
    r = again()
    assert r.replayed == 2 and seen == [False, False] and gc.isenabled()
    gc.disable()
    try:
        again()
        assert not gc.isenabled()  # a caller's choice is kept
    finally:
        gc.enable()


def test_a_case_run_at_once_that_waits_is_a_bug_said_plainly():
    """Cases run at once have no event loop: a bare yield passes, waiting for a future is an error."""
    from promptctl.evals.runner import _to_the_end

    seen = []

    async def passes_its_turn():
        await asyncio.sleep(0)
        seen.append("done")

    _to_the_end(passes_its_turn())
    assert seen == ["done"]

    class Waits:
        def __await__(self):
            yield "a future"

    async def waits():
        await Waits()

    with pytest.raises(RuntimeError, match="waited for something"):
        _to_the_end(waits())
