"""`promptctl run NAME`: one live call from the terminal, over real HTTP to the local test server,
through the native client and through litellm; the answer is streamed to stdout as it arrives."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import local_project, run_promptctl, write_tree

CANARY = "sk-canary-run-7f3a91"
HAS_LITELLM = importlib.util.find_spec("litellm") is not None


@pytest.fixture(autouse=True)
def fresh(server, monkeypatch):
    server.reset()
    monkeypatch.setenv("LOCAL_KEY", CANARY)
    monkeypatch.delenv("PROMPTCTL_PROJECT", raising=False)


def project(tmp_path: Path, url: str, client: str = "auto", retries: int = 0) -> Path:
    root = local_project(tmp_path / "proj", url, {
        "prompts/count.prompt.yaml": """\
            inputs: {n: integer, topic: {type: string, default: apples}}
            messages:
              - role: user
                content: "Count {{ n }} {{ topic }}"
            samples:
              - {name: three, inputs: {n: 3}}
            """,
    })
    cfg = root / "promptctl.yaml"
    cfg.write_text(cfg.read_text().replace("test: {timeout_s: 5, retries: 0, concurrency: 8}",
                                           f"test: {{timeout_s: 5, retries: {retries}, concurrency: 8, client: {client}}}"))
    return root


def test_the_answer_streams_to_stdout_as_it_arrives(tmp_path, server):
    server.answers["Count 3 apples"] = "one apple, two apples, three apples"
    server.stream_delay = 0.3  # six pieces: the whole answer takes about two seconds
    root = project(tmp_path, server.url)
    proc = subprocess.Popen([sys.executable, "-m", "promptctl", "run", "count", "-s", "three"], cwd=root,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ.copy())
    try:
        first = proc.stdout.read1(100)  # the first piece, while the rest is still coming
        still_running = proc.poll() is None
        rest, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert first.startswith(b"one")
    assert still_running, "the first words came only when the answer was complete"
    assert (first + rest).decode() == "one apple, two apples, three apples\n"
    assert proc.returncode == 0
    figures = err.decode()
    # tokens, cost and latency on stderr, never on stdout
    assert "count@" in figures and " · local · " in figures
    assert "tokens (3 in, 6 out)" in figures
    assert "$0.0000" in figures
    assert "first words" in figures
    body = server.requests[-1]["body"]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert server.requests[-1]["authorization"] == f"Bearer {CANARY}"


@pytest.mark.skipif(not HAS_LITELLM, reason="litellm is not installed")
def test_litellm_streams_the_same_answer(tmp_path, server):
    server.answers["Count 2 pears"] = "one pear, two pears"
    root = project(tmp_path, server.url, client="litellm")
    r = run_promptctl(["run", "count", "-i", "n=2", "-i", "topic=pears", "--format", "json"], root)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["text"] == "one pear, two pears"
    assert data["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
    assert data["cost_usd"] is not None and data["cost_usd"] > 0
    assert data["first_token_ms"] is not None and data["first_token_ms"] <= data["latency_ms"]
    assert server.requests[-1]["body"]["stream"] is True


def test_json_format_typed_inputs_and_no_recording_by_default(tmp_path, server):
    root = project(tmp_path, server.url)
    (tmp_path / "in.yaml").write_text("n: 4\ntopic: plums\n")
    r = run_promptctl(["run", "count", "--inputs-file", str(tmp_path / "in.yaml"), "--format", "json"], root)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["text"] == "echo: Count 4 plums"
    assert data["prompt"] == "count" and data["model"] == "local" and data["resolved_model"] == "openai/gpt-4o-mini"
    assert data["ref"].startswith("count@") and data["recorded"] is None
    assert data["finish_reason"] == "stop" and data["tool_calls"] == []
    assert r.stderr == ""  # json: nothing for people on stderr
    assert not (root / ".promptctl" / "recordings").exists() or not any((root / ".promptctl" / "recordings").rglob("*.jsonl"))


def test_record_then_a_case_with_those_inputs_replays_it(tmp_path, server):
    server.answers["Count 3 apples"] = "1, 2, 3"
    root = project(tmp_path, server.url)
    write_tree(root, {"evals/count.eval.yaml": """\
        prompt: count
        cases:
          - id: three
            inputs: {n: 3}
            assert: [{type: equals, value: "1, 2, 3"}]
        """})
    r = run_promptctl(["run", "count", "-s", "three", "--record"], root)
    assert r.returncode == 0, r.stderr
    assert "recorded in .promptctl/recordings/count.jsonl" in r.stderr
    record = json.loads((root / ".promptctl/recordings/count.jsonl").read_text().splitlines()[0])
    assert record["response"]["text"] == "1, 2, 3" and CANARY not in json.dumps(record)
    calls = server.count()
    r = run_promptctl(["test", "--mode", "replay", "--format", "json"], root)
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["summary"]["passed"] == 1
    assert server.count() == calls  # replayed, not called


def test_streamed_tool_calls_are_assembled(tmp_path, server):
    server.answers["Count 1 apples"] = {"content": None, "tool_calls": [{"name": "count", "arguments": {"n": 1}}]}
    root = project(tmp_path, server.url)
    r = run_promptctl(["run", "count", "-i", "n=1"], root)
    assert r.returncode == 0, r.stderr
    assert r.stdout == 'tool call: count({"n": 1})\n'
    r = run_promptctl(["run", "count", "-i", "n=1", "--format", "json"], root)
    data = json.loads(r.stdout)
    assert data["tool_calls"] == [{"id": "call_0", "type": "function", "function": {"name": "count", "arguments": '{"n": 1}'}}]
    assert data["finish_reason"] == "tool_calls"


def test_a_retryable_failure_before_the_answer_is_retried_once_printed_once(tmp_path, server):
    server.faults["Count 3 apples"] = ["500"]
    root = project(tmp_path, server.url, retries=2)
    r = run_promptctl(["run", "count", "-s", "three"], root)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "echo: Count 3 apples\n"
    assert server.count(text="Count 3 apples") == 2


def test_an_answer_cut_part_way_is_not_retried_and_says_so(tmp_path, server):
    server.answers["Count 3 apples"] = "one two three four five"
    server.faults["Count 3 apples"] = ["cut"]
    root = project(tmp_path, server.url, retries=3)
    r = run_promptctl(["run", "count", "-s", "three"], root)
    assert r.returncode == 1
    assert r.stdout == "one two \n"  # what arrived, ended by a newline; not printed twice
    assert r.stderr.startswith("error: connection: ") and "closed the connection mid-answer" in r.stderr
    assert server.count(text="Count 3 apples") == 1


def test_refused_connection_names_the_url(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens once closed
    root = project(tmp_path, f"http://127.0.0.1:{port}/v1")
    r = run_promptctl(["run", "count", "-s", "three"], root)
    assert r.returncode == 1
    assert f"connection refused: cannot connect to http://127.0.0.1:{port}/v1/chat/completions" in r.stderr
    assert "is the server running" in r.stderr and r.stdout == ""


def test_bad_input_is_exit_2_before_any_call(tmp_path, server):
    root = project(tmp_path, server.url)
    r = run_promptctl(["run", "count", "-s", "three", "--model", "locl"], root)
    assert r.returncode == 2 and "locl" in r.stderr and "local" in r.stderr  # did you mean
    r = run_promptctl(["run", "count", "-i", "n=three"], root)
    assert r.returncode == 2 and "'n' is declared integer" in r.stderr
    r = run_promptctl(["run", "cuont", "-s", "three"], root)
    assert r.returncode == 2 and "count" in r.stderr
    r = run_promptctl(["run", "count", "-s", "three"], root, env={"LOCAL_KEY": ""})
    assert r.returncode == 2 and "LOCAL_KEY" in r.stderr
    assert server.count() == 0


def test_no_model_anywhere_says_where_to_set_one(tmp_path):
    root = write_tree(tmp_path / "p", {
        "promptctl.yaml": "promptctl: 1\n",
        "prompts/hi.prompt.yaml": "messages:\n  - {role: user, content: hi}\n",
    })
    r = run_promptctl(["run", "hi"], root)
    assert r.returncode == 2
    assert "names no model" in r.stderr and "--model" in r.stderr


def test_a_server_that_ignores_stream_is_fine(tmp_path, server):
    """Some gateways answer a streamed request whole, as JSON: the text is then one piece."""
    from llm_server import _Handler

    root = project(tmp_path, server.url)
    original = _Handler._stream

    def whole(self, model, message, finish, usage, body, *, cut):
        out = {"id": "x", "model": model, "choices": [{"index": 0, "message": message, "finish_reason": finish}],
               "usage": usage}
        self._send(200, json.dumps(out).encode())

    _Handler._stream = whole
    try:
        start = time.monotonic()
        r = run_promptctl(["run", "count", "-s", "three"], root)
    finally:
        _Handler._stream = original
    assert r.returncode == 0, r.stderr
    assert r.stdout == "echo: Count 3 apples\n"
    assert "tokens (3 in, 4 out)" in r.stderr and time.monotonic() - start < 30


def test_ctrl_c_stops_the_answer_at_once(tmp_path, server):
    import signal

    server.answers["Count 3 apples"] = "one two three four five six seven eight"
    server.stream_delay = 1.0
    root = project(tmp_path, server.url)
    proc = subprocess.Popen([sys.executable, "-m", "promptctl", "run", "count", "-s", "three"], cwd=root,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ.copy())
    try:
        assert proc.stdout.read1(100).startswith(b"one")
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
        waited = time.monotonic() - sent
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert b"interrupted" in err
    assert waited < 5, f"Ctrl-C took {waited:.1f} s"  # the answer had 7 s left; a generous bound, not a timing test


def test_a_failing_model_falls_back_before_the_first_words(tmp_path, server):
    root = write_tree(tmp_path / "fb", {
        "promptctl.yaml": f"""\
            promptctl: 1
            models:
              local: {{model: openai/gpt-4o-mini, api_base: "{server.url}", api_key_env: LOCAL_KEY}}
              backup: {{model: openai/backup-model, api_base: "{server.url}", api_key_env: LOCAL_KEY}}
            test: {{timeout_s: 5, retries: 0}}
            """,
        "prompts/qa.prompt.yaml": 'model: local\nfallbacks: [backup]\nmessages:\n  - {role: user, content: "hi"}\n',
    })
    server.always["gpt-4o-mini"] = "500"
    r = run_promptctl(["run", "qa", "--format", "json"], root)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert (data["model"], data["resolved_model"], data["text"]) == ("backup", "openai/backup-model", "echo: hi")
    r = run_promptctl(["run", "qa", "--model", "local"], root)  # a model named on the command line: no fallbacks
    assert r.returncode == 1 and r.stderr.startswith("error: ") and "local" in r.stderr, r.stderr
    assert "The server had an error" in r.stderr
    assert server.count(model="backup-model") == 1
