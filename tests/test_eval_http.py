"""`promptctl test` end to end: the real CLI and real HTTP to a local OpenAI-compatible server, through
the native client and through litellm (every test runs with each, ``test.client: auto|litellm``).

One server serves the whole module; litellm is imported once, in this process (a subprocess is used
only for Ctrl-C). The aliases carry api_base and api_key_env, and the key is a canary that must
reach the server and never a recording, a report or a log.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

if importlib.util.find_spec("litellm") is None:  # not imported here: promptctl sets its offline env first
    pytest.skip("litellm is not installed (pip install -e '.[dev]')", allow_module_level=True)

from conftest import REPO, write_tree  # noqa: E402
from llm_server import LLMServer  # noqa: E402

CANARY = "sk-canary-5b1d9c0e7a"
OPENAI_CANARY = "sk-canary-openai-42f17"


@pytest.fixture(scope="module")
def server():
    s = LLMServer().start()
    yield s
    s.stop()


CLIENT = {"name": "auto"}


@pytest.fixture(autouse=True, params=["auto", "litellm"], ids=["native", "litellm"])
def client(request):
    """Which client `promptctl test` uses: the native one (auto, for these OpenAI-compatible aliases) or litellm."""
    CLIENT["name"] = request.param
    yield request.param
    CLIENT["name"] = "auto"


def with_client(test: str) -> str:
    """A ``test:`` flow mapping with the current ``client`` added."""
    assert test.startswith("{")
    return "{client: " + CLIENT["name"] + ", " + test[1:]


@pytest.fixture(autouse=True)
def fresh(server, monkeypatch):
    server.reset()
    monkeypatch.setenv("LOCAL_KEY", CANARY)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_CANARY)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.delenv("PROMPTCTL_PROJECT", raising=False)


def config(url: str, test: str = "{timeout_s: 2, retries: 2, concurrency: 4}", extra: str = "") -> str:
    return f"""\
        promptctl: 1
        defaults: {{model: local, params: {{temperature: 0}}}}
        models:
          local: {{model: openai/gpt-4o-mini, api_base: "{url}", api_key_env: LOCAL_KEY}}
          big: {{model: openai/gpt-4o, api_base: "{url}", api_key_env: LOCAL_KEY}}
          backup: {{model: openai/backup-model, api_base: "{url}", api_key_env: LOCAL_KEY}}
          nokey: {{model: openai/gpt-4o-mini, api_base: "{url}", api_key_env: UNSET_KEY_FOR_TESTS}}
          embedder: {{model: openai/text-embedding-3-small, api_base: "{url}", api_key_env: LOCAL_KEY}}
        test: {with_client(test)}
        {extra}
        """


QA_PROMPT = """\
    inputs: {q: string}
    messages:
      - role: system
        content: Answer in one word.
      - role: user
        content: "{{ q }}"
    """


def qa_dataset(cases: dict[str, str], threshold: float = 1.0, asserts: str = "[]") -> str:
    rows = "\n".join(
        f'      - {{id: {cid}, inputs: {{q: "{q}"}}, golden: "{q.upper()}", assert: {asserts}}}' for cid, q in cases.items()
    )
    return f"    prompt: qa\n    threshold: {threshold}\n    cases:\n{rows}\n"


def make_project(root: Path, server: LLMServer, cases: dict[str, str], **kw) -> Path:
    return write_tree(root, {
        "promptctl.yaml": config(server.url, **{k: v for k, v in kw.items() if k in ("test", "extra")}),
        "prompts/qa.prompt.yaml": kw.get("prompt", QA_PROMPT),
        "evals/qa.eval.yaml": kw.get("dataset") or qa_dataset(cases, kw.get("threshold", 1.0), kw.get("asserts", "[]")),
    })


def all_text(root: Path) -> str:
    """Every file under root (recordings, reports), as one string."""
    return "\n".join(p.read_text(errors="replace") for p in root.rglob("*") if p.is_file())


# -- recording modes ---------------------------------------------------------------------------


def test_auto_records_then_replay_answers_without_calling(tmp_path, server, cli):
    root = make_project(tmp_path / "p", server, {"a": "one", "b": "two", "c": "three"},
                        asserts='[{type: starts-with, value: "echo:"}]')
    r = cli(["test", "--format", "json"], cwd=root)
    assert r.code == 0, r.err
    assert server.count() == 3
    data = json.loads(r.out)  # stdout holds the report and nothing else
    assert data["ok"] and data["summary"]["live_calls"] == 3 and data["summary"]["recorded"] == 3
    case = data["datasets"][0]["cases"][0]
    assert case["output"] == "echo: one" and case["tokens"] > 0 and case["cost_usd"] > 0 and case["latency_ms"] > 0
    assert all(req["authorization"] == f"Bearer {CANARY}" for req in server.requests)  # the alias's key was used
    records = [json.loads(x) for x in (root / ".promptctl/recordings/qa.jsonl").read_text().splitlines()]
    assert len(records) == 3 and records[0]["response"]["usage"]["total_tokens"] > 0

    r = cli(["test", "--mode", "replay", "--format", "json"], cwd=root)
    assert r.code == 0, r.err
    assert server.count() == 3  # no new call
    again = json.loads(r.out)
    assert again["summary"]["replayed"] == 3 and again["summary"]["live_calls"] == 0
    assert again["datasets"][0]["cases"][0]["latency_ms"] == case["latency_ms"]  # recorded latency kept
    assert again["datasets"][0]["cost_usd"] == data["datasets"][0]["cost_usd"]

    r = cli(["test", "--mode", "refresh"], cwd=root)
    assert r.code == 0 and server.count() == 6
    assert len((root / ".promptctl/recordings/qa.jsonl").read_text().splitlines()) == 3
    r = cli(["test", "--mode", "off"], cwd=root)
    assert r.code == 0 and server.count() == 9


def test_replay_miss_fails_the_case_with_what_to_record(tmp_path, server, cli):
    root = make_project(tmp_path / "p", server, {"a": "one"})
    r = cli(["test", "--mode", "replay"], cwd=root)
    assert r.code == 1
    assert server.count() == 0
    assert "no recording" in r.err and "promptctl test --mode auto qa --filter a" in r.err
    assert r.out == ""  # text reports go to stderr; stdout stays empty


# -- failures: retries, no retries, timeouts, fallbacks -----------------------------------------


def test_retries_on_429_5xx_malformed_json_a_cut_body_and_timeouts(tmp_path, server, cli):
    cases = {"r429": "rate", "r500": "boom", "rjson": "garbled", "rhang": "slow", "rcut": "torn"}
    root = make_project(tmp_path / "p", server, cases, test="{timeout_s: 0.6, retries: 2, concurrency: 4}")
    server.faults.update({"rate": ["429"], "boom": ["500"], "garbled": ["badjson"], "slow": ["hang"], "torn": ["cut"]})
    server.retry_after = "1"
    server.hang_s = 5
    start = time.monotonic()
    r = cli(["test", "--format", "json"], cwd=root)
    elapsed = time.monotonic() - start
    assert r.code == 0, r.err
    assert {c["id"]: c["status"] for c in json.loads(r.out)["datasets"][0]["cases"]} == dict.fromkeys(cases, "passed")
    for text in cases.values():
        assert server.count(text=text) == 2, text
    rate = [q["t"] for q in server.requests if q["text"] == "rate"]
    assert rate[1] - rate[0] >= 0.95  # Retry-After: 1 honoured (backoff alone would be 0.25-0.5 s)
    slow = [q["t"] for q in server.requests if q["text"] == "slow"]
    assert 0.55 <= slow[1] - slow[0] < 2.5  # cut at the 0.6 s timeout, not litellm's default
    assert elapsed < 5


def test_a_refused_connection_is_reported_with_the_url(tmp_path, server, cli):
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    root = make_project(tmp_path / "p", server, {"x": "ask"}, test="{timeout_s: 2, retries: 1, concurrency: 1}")
    text = (root / "promptctl.yaml").read_text().replace(server.url, url)
    (root / "promptctl.yaml").write_text(text)
    r = cli(["test", "--format", "json"], cwd=root)
    assert r.code == 1
    case = json.loads(r.out)["datasets"][0]["cases"][0]
    assert case["status"] == "error"
    assert "connection refused" in case["reason"].lower() and url in case["reason"], case["reason"]
    assert "(after 2 attempts)" in case["reason"]
    assert "HTTP 500" not in case["reason"]


@pytest.mark.parametrize("fault,words", [("401", "HTTP 401"), ("400", "HTTP 400"), ("404", "HTTP 404"),
                                         ("context", "context window")])
def test_no_retry_on_client_errors(tmp_path, server, cli, fault, words):
    root = make_project(tmp_path / "p", server, {"x": "ask"})
    server.always["ask"] = fault
    r = cli(["test", "--format", "json"], cwd=root)
    assert r.code == 1
    assert server.count(text="ask") == 1
    case = json.loads(r.out)["datasets"][0]["cases"][0]
    assert case["status"] == "error" and words in case["reason"], case["reason"]
    assert CANARY not in r.out + r.err  # the 401 body echoes the Authorization header: redacted


def test_a_missing_key_variable_is_named_and_nothing_is_called(tmp_path, server, cli):
    root = make_project(tmp_path / "p", server, {"x": "ask"}, prompt="    model: nokey\n" + QA_PROMPT)
    r = cli(["test"], cwd=root)  # auto mode: the first case that needs a call stops the run, one error
    assert (r.code, r.out) == (2, "") and server.count() == 0
    assert r.err.count("error:") == 1 and "UNSET_KEY_FOR_TESTS (for nokey) is not set" in r.err
    assert "case 'x' of qa has no recording, so it needs a live call" in r.err
    assert "nokey: nokey:" not in r.err  # the alias is named once
    # a mode that always calls checks every key before any case runs: one error, exit 2
    r = cli(["test", "--mode", "refresh"], cwd=root)
    assert (r.code, r.out) == (2, "") and server.count() == 0
    assert r.err == ("error: no API key: the environment variable UNSET_KEY_FOR_TESTS (for nokey) is not set "
                     "(nothing was called; export UNSET_KEY_FOR_TESTS=…, or run from recordings with --mode replay)\n")


def test_an_unknown_model_alias_is_one_error_with_a_suggestion(tmp_path, server, cli):
    root = make_project(tmp_path / "p", server, {"x": "ask", "y": "tell"})
    r = cli(["test", "--model", "locl"], cwd=root)
    assert (r.code, r.out) == (2, "") and server.count() == 0
    assert r.err.count("error:") == 1
    assert "unknown model 'locl': not an alias in promptctl.yaml" in r.err and "did you mean 'local'?" in r.err
    assert "LLM Provider NOT provided" not in r.err


def test_fallbacks_are_tried_in_order(tmp_path, server, cli):
    root = make_project(tmp_path / "p", server, {"x": "ask"}, prompt="    fallbacks: [nokey, backup]\n" + QA_PROMPT)
    server.always["gpt-4o-mini"] = "503"
    r = cli(["test", "--retries", "1", "--format", "json"], cwd=root)
    assert r.code == 0, r.err
    case = json.loads(r.out)["datasets"][0]["cases"][0]
    assert case["status"] == "passed" and case["model"] == "backup-model"
    assert [q["model"] for q in server.requests] == ["gpt-4o-mini", "gpt-4o-mini", "backup-model"]
    # the answer is recorded under the prompt's own request: replay needs neither model
    server.reset()
    r = cli(["test", "--mode", "replay"], cwd=root)
    assert r.code == 0 and server.count() == 0


# -- budget, comparison, baseline --------------------------------------------------------------


def test_max_cost_stops_before_the_estimate_would_exceed_it(tmp_path, server, cli):
    cases = {f"c{i}": f"question {i}" for i in range(6)}
    root = make_project(tmp_path / "p", server, cases, prompt="    model: big\n" + QA_PROMPT,
                        test="{timeout_s: 2, retries: 0, concurrency: 1}")
    server.usage["gpt-4o"] = {"prompt_tokens": 1000, "completion_tokens": 1000}  # $0.0125 a call at gpt-4o prices
    r = cli(["test", "--max-cost", "0.03", "--format", "json"], cwd=root)
    assert r.code == 1
    assert server.count() == 2  # $0.025 spent; a third call (~$0.0125) would pass $0.03
    data = json.loads(r.out)
    assert data["budget"].pop("estimated_usd") > 0.012  # the 2nd call's estimate learnt from the 1st call's cost
    assert data["budget"] == {"limit_usd": 0.03, "spent_usd": 0.025, "stopped": True}
    assert data["summary"]["skipped"] == 4 and data["summary"]["passed"] == 2
    assert "budget reached" in r.err and "2 of 6 cases ran" in r.err
    # test.max_cost_usd works the same, and the two recorded cases replay for free
    write_tree(root, {"promptctl.yaml": config(server.url, test="{timeout_s: 2, retries: 0, concurrency: 1, max_cost_usd: 0.02}")})
    r = cli(["test"], cwd=root)
    assert r.code == 1 and server.count() == 3  # one new call ($0.0125); a second would pass $0.02
    assert "3 of 6 cases ran" in r.err


def test_model_comparison_names_the_cheapest_that_meets_every_threshold(tmp_path, server, cli):
    root = make_project(tmp_path / "p", server, {"a": "alpha", "b": "beta"},
                        asserts='[{type: icontains, value: "right"}]')
    for text in ("alpha", "beta"):
        server.answers[("gpt-4o", text)] = "the right answer"
        server.answers[("backup-model", text)] = "the right answer, slowly"
    server.answers[("gpt-4o-mini", "alpha")] = "the right answer"
    server.answers[("gpt-4o-mini", "beta")] = "wrong"
    r = cli(["test", "--model", "local", "--model", "big", "--format", "json"], cwd=root)
    assert r.code == 0, r.err
    comparison = json.loads(r.out)["comparison"]
    by = {m["model"]: m for m in comparison["models"]}
    assert by["local"]["pass_rate"] == 0.5 and not by["local"]["meets_thresholds"]
    assert by["big"]["pass_rate"] == 1.0 and by["big"]["meets_thresholds"]
    assert by["local"]["cost_usd"] < by["big"]["cost_usd"]
    assert comparison["cheapest"] == "big"
    assert "cheapest model meeting every threshold: big" in r.err
    server.answers[("gpt-4o-mini", "beta")] = "right"
    r = cli(["test", "--model", "local", "--model", "big", "--mode", "refresh", "--format", "markdown"], cwd=root)
    assert r.code == 0 and "Cheapest model meeting every threshold: **local**" in r.out
    server.answers[("gpt-4o", "beta")] = "wrong"
    server.answers[("gpt-4o-mini", "beta")] = "wrong"
    r = cli(["test", "--model", "local", "--model", "big", "--mode", "refresh"], cwd=root)
    assert r.code == 1 and "no model meets every threshold" in r.err


def test_baseline_lists_cases_that_passed_there_and_fail_now(git_repo, server, cli, monkeypatch):
    root = git_repo.root
    make_project(root, server, {"a": "alpha", "b": "beta"}, asserts='[{type: icontains, value: "right"}]', threshold=0.5)
    git_repo.commit("v1")
    write_tree(root, {"prompts/qa.prompt.yaml": QA_PROMPT.replace("one word", "two words")})
    for text in ("alpha", "beta"):
        server.answers[text] = "right"
    original = server.answer

    def answer(model, messages):
        if "two words" in messages[0]["content"] and messages[-1]["content"] == "beta":
            return "wrong now"
        return original(model, messages)

    monkeypatch.setattr(server, "answer", answer)
    r = cli(["test", "--baseline", "HEAD", "--format", "json"], cwd=root)
    assert r.code == 1, r.err
    data = json.loads(r.out)
    assert data["datasets"][0]["ok"]  # 1 of 2 meets the 0.5 threshold, but b regressed
    assert data["baseline"]["regressions"] == [
        {"dataset": "qa", "case": "b", "model": "local", "reason": 'icontains: output does not contain "right" (ignoring case)'}
    ]
    assert "regressions against HEAD" in r.err and "qa/b: passed there, fails now" in r.err
    r = cli(["test", "--baseline", "main", "--mode", "replay"], cwd=root)  # all recorded: a branch works too
    assert r.code == 1 and "qa/b" in r.err
    r = cli(["test", "--baseline", "--oops"], cwd=root)
    assert r.code == 2


# -- model-graded assertions on the recorded path ----------------------------------------------


def test_similar_by_embeddings_and_llm_rubric_are_recorded(tmp_path, server, cli):
    dataset = """\
        prompt: qa
        cases:
          - id: a
            inputs: {q: "refund please"}
            golden: "echo: refund please now"
            assert:
              - {type: similar, threshold: 0.8}
              - {type: llm-rubric, value: "mentions a refund"}
        """
    root = make_project(tmp_path / "p", server, {}, dataset=dataset,
                        test="{timeout_s: 2, retries: 0, embedding_model: embedder, grader: big}")
    server.answers["<Output>\necho: refund please\n</Output>\n<Rubric>\nmentions a refund\n</Rubric>"] = (
        '{"reason": "it does", "pass": true, "score": 0.9}')
    r = cli(["test", "--format", "json"], cwd=root)
    assert r.code == 0, r.err
    asserts = json.loads(r.out)["datasets"][0]["cases"][0]["asserts"]
    assert "embedding similarity" in asserts[0]["reason"] and asserts[1]["reason"] == "grader: it does"
    assert server.count(path="/v1/embeddings") == 1 and server.count(model="gpt-4o") == 1
    assert (root / ".promptctl/recordings/_embeddings.jsonl").is_file()
    assert (root / ".promptctl/recordings/_graders.jsonl").is_file()
    server.reset()
    r = cli(["test", "--mode", "replay"], cwd=root)
    assert r.code == 0, r.err
    assert server.count() == 0


# -- reports, CI, secrets ----------------------------------------------------------------------


def test_reports_to_files_and_the_github_step_summary_never_hold_the_key(tmp_path, server, cli, monkeypatch):
    root = make_project(tmp_path / "p", server, {"good": "fine", "bad": "nope"},
                        asserts='[{type: contains, value: "fine"}]', threshold=0.5)
    server.always["nope"] = "401"  # echoes the Authorization header in its error body
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    outputs = []
    for fmt in ("json", "junit", "markdown", "text"):
        out = tmp_path / "reports" / f"report.{fmt}"
        r = cli(["test", "--format", fmt, "-o", str(out)], cwd=root)
        assert r.code == 0, r.err
        assert r.out == ""  # -o: nothing on stdout
        outputs.append(r.err)
    reports = tmp_path / "reports"
    junit = ET.parse(reports / "report.junit").getroot()
    assert junit.get("tests") == "3" and junit.get("errors") == "1" and junit.get("failures") == "0"
    case = [tc for tc in junit.iter("testcase") if tc.get("name") == "bad"][0]
    assert "HTTP 401" in case.find("error").get("message")
    assert json.loads((reports / "report.json").read_text())["datasets"][0]["pass_rate"] == 0.5
    assert "| ✅ | qa |" in (reports / "report.markdown").read_text()
    assert "promptctl test: working tree" in (reports / "report.text").read_text()
    assert summary.read_text().count("promptctl test") == 4  # appended by every run
    everything = "\n".join([all_text(root), all_text(reports), summary.read_text(), *outputs])
    assert "Incorrect API key provided: Bearer ***" in (reports / "report.json").read_text()
    assert CANARY not in everything and OPENAI_CANARY not in everything
    assert server.count(text="nope") >= 1 and any(q["authorization"] == f"Bearer {CANARY}" for q in server.requests)


def test_update_golden_over_http_keeps_comments(tmp_path, server, cli):
    dataset = """\
        # reviewed goldens
        prompt: qa
        cases:
          - id: a  # keep me
            inputs: {q: "hello"}
            golden: "old"
        """
    root = make_project(tmp_path / "p", server, {}, dataset=dataset)
    r = cli(["test", "--update-golden"], cwd=root)
    assert r.code == 0, r.err
    text = (root / "evals/qa.eval.yaml").read_text()
    assert text == "# reviewed goldens\nprompt: qa\ncases:\n  - id: a  # keep me\n    inputs: {q: \"hello\"}\n    golden: \"echo: hello\"\n"
    assert "goldens: 1 case updated" in r.err and '-old' in r.err and '+echo: hello' in r.err
    r = cli(["test", "--update-golden", "--ref", "HEAD"], cwd=root)
    assert r.code == 2 and "--update-golden" in r.err


# -- Ctrl-C and resume --------------------------------------------------------------------------


def test_ctrl_c_cancels_the_calls_in_flight_at_once(tmp_path, server):
    cases = {f"c{i}": f"slow {i}" for i in range(4)}
    root = make_project(tmp_path / "p", server, cases, test="{timeout_s: 60, retries: 0, concurrency: 4}")
    server.latency = 30.0  # every call would take half a minute
    proc = subprocess.Popen([sys.executable, "-m", "promptctl", "test"], cwd=root,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 30
        while server.count() < 4 and time.monotonic() < deadline:  # every call in flight
            time.sleep(0.05)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        waited = time.monotonic() - sent
    finally:
        proc.kill()
        server.latency = 0.0
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert waited < 3, f"Ctrl-C took {waited:.1f} s with calls in flight"  # generous: it takes a few ms




def test_ctrl_c_keeps_the_recordings_and_a_rerun_pays_only_for_the_rest(tmp_path, server, cli):
    cases = {f"c{i}": f"question {i}" for i in range(8)}
    root = make_project(tmp_path / "p", server, cases, test="{timeout_s: 5, retries: 0, concurrency: 2}")
    server.latency = 0.4
    server.always["question 0"] = "401"  # the first call: its error echoes the key, which must not reach the log
    recordings = root / ".promptctl/recordings/qa.jsonl"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "promptctl", "test"], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if recordings.is_file() and len(recordings.read_text().splitlines()) >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "run again to resume" in err
    assert "Traceback" not in err
    assert "failed before the interruption (1):" in err  # the report will not come: said at once
    assert "FAIL qa/c0: local: HTTP 401" in err and "Bearer ***" in err
    assert "Warning" not in err, err
    assert CANARY not in out + err and OPENAI_CANARY not in out + err
    kept = [json.loads(line) for line in recordings.read_text().splitlines()]  # every line is a whole record
    done = {r["case"] for r in kept}
    assert 2 <= len(done) < 7 and "c0" not in done
    server.latency = 0.0
    r = cli(["test", "--format", "json"], cwd=root)
    assert r.code == 1, r.err  # c0 still gets a 401
    assert json.loads(r.out)["summary"]["live_calls"] == 8 - len(done)
    assert CANARY not in all_text(root)
    for cid, text in cases.items():
        if cid in done:
            assert server.count(text=text) == 1, cid  # recorded before Ctrl-C: never asked again


# -- known secrets are redacted by value, before anything is cut --------------------------------

PLAIN_KEY = "canaryQ7x9LmN2pR4tV6wY8zB1c"  # 27 characters, not shaped like any known key


def test_a_key_the_model_echoes_reaches_no_report_recording_or_summary(tmp_path, server, cli, monkeypatch):
    monkeypatch.setenv("LOCAL_KEY", PLAIN_KEY)
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    root = make_project(tmp_path / "p", server, {"a": f"my key is {PLAIN_KEY}"},
                        asserts='[{type: contains, value: "nothing like this"}]')
    outputs = []
    for fmt in ("json", "junit", "markdown", "text"):
        r = cli(["test", "--format", fmt, "-o", str(tmp_path / f"report.{fmt}")], cwd=root)
        assert r.code == 1, r.err  # the assertion fails, and its reason quotes the output
        outputs.append(r.out + r.err)
    assert server.requests[0]["authorization"] == f"Bearer {PLAIN_KEY}"  # the key did reach the server
    reports = "".join((tmp_path / f"report.{fmt}").read_text() for fmt in ("json", "junit", "markdown", "text"))
    written = all_text(root / ".promptctl") + reports + summary.read_text() + "".join(outputs)
    assert "***" in written and PLAIN_KEY[:26] not in written and PLAIN_KEY[1:] not in written


def test_error_text_is_redacted_before_it_is_cut():
    from promptctl.evals.provider import classify_error

    message = "x" * 480 + " key " + PLAIN_KEY + " tail"
    err = classify_error(RuntimeError(message), [PLAIN_KEY])
    assert PLAIN_KEY[:10] not in str(err) and len(str(err)) <= 520


# -- each endpoint is its own: fallbacks and recordings ------------------------------------------


@pytest.fixture
def other_server():
    s = LLMServer().start()
    yield s
    s.stop()


def two_server_config(a: str, b: str) -> str:
    return f"""\
        promptctl: 1
        defaults: {{model: here, params: {{temperature: 0}}}}
        models:
          here: {{model: openai/gpt-4o-mini, api_base: "{a}", api_key_env: LOCAL_KEY}}
          there: {{model: openai/gpt-4o-mini, api_base: "{b}", api_key_env: OTHER_KEY}}
        test: {with_client("{timeout_s: 2, retries: 0, concurrency: 2}")}
        """


def test_a_fallback_goes_to_its_own_server_with_its_own_key(tmp_path, server, other_server, cli, monkeypatch):
    monkeypatch.setenv("OTHER_KEY", "other-key-9f8e7d6c5b")
    root = write_tree(tmp_path / "p", {
        "promptctl.yaml": two_server_config(server.url, other_server.url),
        "prompts/qa.prompt.yaml": "    fallbacks: [there]\n" + QA_PROMPT,
        "evals/qa.eval.yaml": qa_dataset({"x": "ask"}),
    })
    server.always["gpt-4o-mini"] = "500"  # the primary server is down; the other one is not
    r = cli(["test", "--format", "json"], cwd=root)
    assert r.code == 0, r.err
    assert server.count() >= 1 and other_server.count() == 1
    assert other_server.requests[0]["authorization"] == "Bearer other-key-9f8e7d6c5b"
    assert all(req["authorization"] == f"Bearer {CANARY}" for req in server.requests)


def test_recordings_know_their_endpoint(tmp_path, server, other_server, cli, monkeypatch):
    monkeypatch.setenv("OTHER_KEY", "other-key-9f8e7d6c5b")
    other_server.answers["ask"] = "from the other server"
    root = write_tree(tmp_path / "p", {
        "promptctl.yaml": two_server_config(server.url, other_server.url),
        "prompts/qa.prompt.yaml": QA_PROMPT,
        "evals/qa.eval.yaml": qa_dataset({"x": "ask"}),
    })
    r = cli(["test", "--format", "json", "--model", "here", "--model", "there"], cwd=root)
    assert r.code in (0, 1), r.err + r.out
    assert server.count() == 1 and other_server.count() == 1, r.out  # same model string, messages, params: two calls
    outputs = {d["model"]: d["cases"][0]["output"] for d in json.loads(r.out)["datasets"]}
    assert outputs == {"here": "echo: ask", "there": "from the other server"}
    r = cli(["test", "--mode", "replay", "--format", "json", "--model", "here", "--model", "there"], cwd=root)
    again = {d["model"]: d["cases"][0]["output"] for d in json.loads(r.out)["datasets"]}
    assert again == outputs


# -- tool calls --------------------------------------------------------------------------------

TOOLS_PROMPT = """\
    inputs: {q: string}
    tools:
      - type: function
        function:
          name: get_weather
          description: The weather in a city.
          parameters: {type: object, properties: {city: {type: string}}, required: [city]}
    messages:
      - role: user
        content: "{{ q }}"
    """


def test_tool_calls_are_sent_recorded_checked_and_reported(tmp_path, server, cli):
    """A prompt's tools go with the request; the answer's tool calls are recorded, replayed, checked by
    is-valid-openai-tools-call and tool-call-f1, and in the JSON report."""
    server.answers["weather in Paris?"] = {"content": None, "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}
    server.answers["weather in Rome?"] = {"content": None, "tool_calls": [{"name": "get_weather", "arguments": {"town": "Rome"}}]}
    dataset = """\
        prompt: qa
        threshold: 0.5
        defaults:
          assert: [{type: is-valid-openai-tools-call}, {type: tool-call-f1, value: [get_weather]}, {type: finish-reason, value: tool_calls}]
        cases:
          - {id: paris, inputs: {q: "weather in Paris?"}}
          - {id: rome, inputs: {q: "weather in Rome?"}}
        """
    root = make_project(tmp_path / "p", server, {}, prompt=TOOLS_PROMPT, dataset=dataset)
    r = cli(["test", "--format", "json"], cwd=root)
    assert r.code == 0, r.err
    sent = server.requests[0]["body"]
    assert sent["tools"][0]["function"]["name"] == "get_weather"
    cases = {c["id"]: c for c in json.loads(r.out)["datasets"][0]["cases"]}
    assert cases["paris"]["status"] == "passed"
    assert cases["paris"]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    assert json.loads(cases["paris"]["output"])[0]["function"]["name"] == "get_weather"  # what text checks see
    rome = {a["type"]: a for a in cases["rome"]["asserts"]}
    assert cases["rome"]["status"] == "failed"
    assert not rome["is-valid-openai-tools-call"]["pass"] and "'city' is a required property" in rome["is-valid-openai-tools-call"]["reason"]
    assert rome["tool-call-f1"]["pass"]  # the right tool, wrong arguments: F1 looks at names only
    records = [json.loads(x) for x in (root / ".promptctl/recordings/qa.jsonl").read_text().splitlines()]
    assert all(rec["response"]["tool_calls"][0]["function"]["name"] == "get_weather" for rec in records)
    assert all(rec["request"]["tools"][0]["type"] == "function" for rec in records)

    calls = server.count()
    r = cli(["test", "--mode", "replay", "--format", "json"], cwd=root)
    assert r.code == 0, r.err
    assert server.count() == calls
    again = {c["id"]: c for c in json.loads(r.out)["datasets"][0]["cases"]}
    assert again["paris"]["tool_calls"] == cases["paris"]["tool_calls"] and again["rome"]["status"] == "failed"
    r = cli(["test", "--mode", "replay"], cwd=root)
    assert r.code == 0 and 'tool call: get_weather({"town": "Rome"})' in r.err  # threshold 0.5: the dataset passes
    r = cli(["test", "--mode", "replay", "-f", "html", "-o", str(tmp_path / "r.html")], cwd=root)
    page = (tmp_path / "r.html").read_text()
    assert "tool calls (1)" in page and "&quot;town&quot;: &quot;Rome&quot;" in page


def test_rag_assertions_call_the_grader_and_embedder_recorded(tmp_path, server, cli):
    """context-faithfulness (two grader calls) and answer-relevance (a grader call and embeddings) over
    real HTTP: recorded once, then replayed with no call."""
    from promptctl.evals.rag import ANSWER_QUESTION, FAITHFULNESS_STATEMENTS, FAITHFULNESS_VERDICTS

    context = "Refunds take 5 days. Orders ship in 2 days."
    dataset = f"""\
        prompt: qa
        cases:
          - id: refund
            inputs: {{q: "refund time?", context: "{context}", query: "How long do refunds take?"}}
            assert:
              - {{type: context-faithfulness, threshold: 0.9}}
              - {{type: answer-relevance, threshold: 0.5}}
        """
    prompt = "inputs: {q: string, context: string, query: string}\nmessages:\n  - role: user\n    content: \"{{ q }}\"\n"
    root = make_project(tmp_path / "p", server, {}, dataset=dataset, prompt=prompt,
                        test="{timeout_s: 2, retries: 0, embedding_model: embedder, grader: big}")
    output = "echo: refund time?"
    server.answers[FAITHFULNESS_STATEMENTS.format(question="How long do refunds take?", answer=output)] = "Refunds take 5 days."
    server.answers[FAITHFULNESS_VERDICTS.format(context=context, statements="Refunds take 5 days.")] = (
        "1. Refunds take 5 days.\nExplanation: stated. Verdict: Yes.\nFinal verdict for each statement in order: Yes.")
    server.answers[ANSWER_QUESTION.format(answer=output)] = "How long do refunds take?"
    r = cli(["test", "--format", "json"], cwd=root)
    assert r.code == 0, r.err
    asserts = {a["type"]: a for a in json.loads(r.out)["datasets"][0]["cases"][0]["asserts"]}
    assert asserts["context-faithfulness"]["reason"] == "faithfulness 1.00 >= 0.9 (1 of 1 statement supported by the context)"
    assert asserts["answer-relevance"]["score"] == pytest.approx(1.0) and "embedding similarity" in asserts["answer-relevance"]["reason"]
    assert server.count(model="gpt-4o") == 3 and server.count(path="/v1/embeddings") == 1
    server.reset()
    r = cli(["test", "--mode", "replay", "--format", "json"], cwd=root)
    assert r.code == 0, r.err
    assert server.count() == 0 and json.loads(r.out)["ok"]
