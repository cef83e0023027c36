"""Observations and `promptctl monitor`: Prompt.observe from a published registry to a JSONL file, a
callable and OpenTelemetry (the real SDK, in-memory exporter); an observer whose sink fails or hangs
never raises or blocks; monitor across two versions (one with a failing guard), --fail-under; the
eval summary publish records, and --require-tests."""

from __future__ import annotations

import gzip
import json
import threading

import pytest
from conftest import GitRepo

from promptctl.observe import JsonlSink, Observer, read_observations, redact_text
from promptctl.runtime import Registry
from promptctl.scaffold import init_project

REPLY = "prompts/support/reply.prompt.yaml"
GOOD = '{"reply": "Your refund is on its way."}'
BAD = '{"reply": "As an AI, I cannot help with refunds."}'
USAGE = {"prompt_tokens": 70, "completion_tokens": 20, "total_tokens": 90}


@pytest.fixture
def two_versions(git_repo: GitRepo, git_env, cli) -> GitRepo:
    """v1: support/reply without guards; v2: with a not-icontains "as an ai" guard and `observe: {inputs: true}`;
    both published, v2 on production."""
    init_project(git_repo.root)
    git_repo.commit("example")
    assert cli(["publish", "-m", "v1", "--channel", "production"], cwd=git_repo.root).code == 0
    path = git_repo.root / REPLY
    path.write_text(path.read_text().replace(
        "samples:\n", 'guards:\n  - {type: not-icontains, value: "as an ai"}\nobserve: {inputs: true}\nsamples:\n', 1))
    git_repo.commit("guards")
    r = cli(["publish", "-m", "v2", "--channel", "production"], cwd=git_repo.root)
    assert r.code == 0, r.err
    return git_repo


def _registry(repo: GitRepo, **kw) -> str:
    return str(repo.root / ".promptctl/registry")


def test_observations_to_a_file_and_a_callable(two_versions, tmp_path):
    seen: list[dict] = []
    observer = Observer(tmp_path / "obs" / "o.jsonl", seen.append)
    with Registry(_registry(two_versions), channel="production", refresh_s=0, observe=observer) as reg:
        p = reg.get("support/reply")
        assert p.observe(GOOD, inputs={"ticket": "mail me: ann@corp.com"}, usage=USAGE, latency_ms=412.5,
                         model="openai/gpt-4o-mini").ok
        response = {"model": "gpt-4o-mini", "usage": USAGE,
                    "choices": [{"message": {"content": BAD}, "finish_reason": "stop"}]}
        result = p.observe(response, inputs={"ticket": "key sk-proj-abcdefghijklmnopqrstuvwxyz0123456789AB"}, latency_ms=98)
        assert not result.ok and [f.type for f in result.failures] == ["not-icontains"]
    assert observer.flush(5)
    lines = [json.loads(line) for line in (tmp_path / "obs/o.jsonl").read_text().splitlines()]
    assert lines == seen
    first, second = lines
    assert first["prompt"] == "support/reply" and first["version"] == "v2" and first["channel"] == "production"
    assert first["ref"].startswith("support/reply@v2:") and first["hash"].startswith("sha256:")
    assert first["model"] == "openai/gpt-4o-mini" and first["tokens"] == {"input": 70, "output": 20, "total": 90}
    assert first["cost_usd"] == pytest.approx(70 * 1.5e-07 + 20 * 6e-07)
    assert first["latency_ms"] == 412.5 and first["guards"] == {"ok": True, "failures": []}
    assert first["inputs"] == {"ticket": "mail me: [email]"}  # the prompt keeps inputs (observe: {inputs: true}), redacted
    assert first["output"] == GOOD and first["sample"] == 1.0 and first["at"].endswith("Z")
    assert second["model"] == "gpt-4o-mini" and second["finish_reason"] == "stop"  # read from the response
    assert second["guards"]["ok"] is False and second["guards"]["failures"][0]["type"] == "not-icontains"
    assert "sk-proj" not in json.dumps(second) and "[OpenAI API key]" in second["inputs"]["ticket"]
    assert observer.stats()["written"] == 4 and observer.stats()["errors"] == 0  # two sinks, two observations


def test_inputs_are_not_kept_unless_asked(two_versions, tmp_path):
    seen: list[dict] = []
    observer = Observer(seen.append)
    with Registry(_registry(two_versions), version="v1", refresh_s=0, observe=observer) as reg:
        reg.get("support/reply").observe(GOOD, inputs={"ticket": "secret plans"})
    observer.flush(5)
    assert seen[0]["inputs"] is None and seen[0]["version"] == "v1" and seen[0]["channel"] is None
    kept = Observer(seen.append, store_inputs=True)
    with Registry(_registry(two_versions), version="v1", refresh_s=0, observe=kept) as reg:
        reg.get("support/reply").observe(GOOD, inputs={"ticket": "plans"})
    kept.flush(5)
    assert seen[1]["inputs"] == {"ticket": "plans"}


def test_opentelemetry_spans_follow_the_genai_conventions(two_versions):
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    observer = Observer(tracer_provider=provider)
    with Registry(_registry(two_versions), channel="production", refresh_s=0, observe=observer) as reg:
        p = reg.get("support/reply")
        p.observe(BAD, usage=USAGE, latency_ms=250, model="openai/gpt-4o-mini")
    observer.flush(5)
    (span,) = exporter.get_finished_spans()
    assert span.name == "chat openai/gpt-4o-mini"
    a = span.attributes
    assert a["gen_ai.operation.name"] == "chat" and a["gen_ai.request.model"] == "openai/gpt-4o-mini"
    assert a["gen_ai.usage.input_tokens"] == 70 and a["gen_ai.usage.output_tokens"] == 20
    assert a["promptctl.prompt.ref"] == p.ref and a["promptctl.channel"] == "production"
    assert a["promptctl.guards.ok"] is False
    assert (span.end_time - span.start_time) == pytest.approx(250e6, rel=0.01)
    events = [e for e in span.events if e.name == "gen_ai.evaluation.result"]
    assert [(e.attributes["gen_ai.evaluation.name"], e.attributes["gen_ai.evaluation.score.label"]) for e in events] == [
        ("output-json", "pass"), ("output-schema", "pass"), ("not-icontains", "fail")]
    assert span.status.status_code.name == "ERROR"


def test_a_failing_or_hanging_sink_never_raises_or_blocks(two_versions):
    release = threading.Event()
    hanging = threading.Event()

    def broken(o):
        raise OSError("disk full")

    def slow(o):
        hanging.set()
        release.wait(30)
        hanging.clear()

    observer = Observer(broken, slow, queue_size=5)
    with Registry(_registry(two_versions), channel="production", refresh_s=0, observe=observer) as reg:
        p = reg.get("support/reply")
        for _ in range(50):
            assert p.observe(GOOD).ok  # the answer's verdict comes back at once
        assert hanging.wait(10)
    # the 50 calls returned while the sink still hung (no wall-time assertion: it is still inside its wait)
    assert hanging.is_set() and not release.is_set()
    stats = observer.stats()
    assert stats["observed"] == 50 and stats["dropped"] >= 40  # the queue is bounded: the rest were dropped, counted
    release.set()
    assert observer.flush(10)
    stats = observer.stats()
    assert stats["errors"] == stats["queued"] and "OSError" in stats["last_error"] and "disk full" in stats["last_error"]


def test_sampling_keeps_a_share_and_monitor_scales_it_back(two_versions, tmp_path, cli):
    observer = Observer(tmp_path / "o.jsonl", sample=0.25, seed=7)
    with Registry(_registry(two_versions), channel="production", refresh_s=0, observe=observer) as reg:
        p = reg.get("support/reply")
        for _ in range(400):
            p.observe(GOOD)
    observer.flush(5)
    kept = len((tmp_path / "o.jsonl").read_text().splitlines())
    assert 60 < kept < 140 and observer.stats()["sampled_out"] == 400 - kept
    r = cli(["monitor", str(tmp_path / "o.jsonl"), "--format", "json"], cwd=two_versions.root)
    (group,) = json.loads(r.out)["groups"]
    assert group["observations"] == kept and group["estimated_calls"] == kept * 4


def test_the_jsonl_file_rotates_by_size(tmp_path):
    sink = JsonlSink(tmp_path / "o.jsonl", max_bytes=1000, backups=2)
    for i in range(60):
        sink({"prompt": "p", "i": i, "pad": "x" * 50})
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["o.jsonl", "o.jsonl.1", "o.jsonl.2"]
    assert all(p.stat().st_size <= 1000 for p in tmp_path.iterdir())
    seen = [o["i"] for o in read_observations([tmp_path / "o.jsonl.2", tmp_path / "o.jsonl.1", tmp_path / "o.jsonl"])]
    assert seen == sorted(seen) and seen[-1] == 59


def test_redaction_uses_lints_patterns():
    text = "key sk-proj-abcdefghijklmnopqrstuvwxyz0123456789AB, mail bob@corp.com or bob@example.com, call +1 415 555 0100"
    assert redact_text(text) == "key [OpenAI API key], mail [email] or bob@example.com, call [phone]"


def test_completion_kwargs_carry_the_prompt_ref(two_versions):
    with Registry(_registry(two_versions), channel="production", refresh_s=0) as reg:
        p = reg.get("support/reply")
        meta = p.completion_kwargs(ticket="x")["metadata"]
    assert meta == {"promptctl_prompt": "support/reply", "promptctl_ref": p.ref, "promptctl_version": "v2"}


# -- monitor ---------------------------------------------------------------------------------------------


def test_monitor_two_versions_one_with_a_failing_guard(two_versions, tmp_path, cli):
    root = two_versions.root
    logs = tmp_path / "logs"
    v1 = Observer(logs / "v1.jsonl")
    with Registry(_registry(two_versions), version="v1", refresh_s=0, observe=v1) as reg:
        p = reg.get("support/reply")
        for i in range(20):
            p.observe(BAD if i % 4 == 0 else GOOD, usage=USAGE, latency_ms=300 + i, model="openai/gpt-4o-mini")
    v1.flush(5)
    v2 = Observer(logs / "v2.jsonl")
    with Registry(_registry(two_versions), channel="production", refresh_s=0, observe=v2) as reg:
        p = reg.get("support/reply")
        for i in range(20):
            p.observe(BAD if i % 4 == 0 else GOOD, usage=USAGE, latency_ms=500 + i, model="openai/gpt-4o-mini")
    v2.flush(5)
    with gzip.open(logs / "v2.jsonl.gz", "wt") as fh:  # gzip is read too (here: the same observations again)
        fh.write((logs / "v2.jsonl").read_text())
    (logs / "v2.jsonl").unlink()

    r = cli(["monitor", str(logs), "--fail-under", "0.9"], cwd=root)
    assert r.code == 1, r.out + r.err
    table = r.out.splitlines()
    assert table[0].split()[:4] == ["prompt", "version", "calls", "guards"]
    v1_row = next(line for line in table if line.startswith("support/reply") and " v1 " in line)
    v2_row = next(line for line in table if line.startswith("support/reply") and " v2 " in line)
    assert "100.0%" in v1_row  # v1 has no guards: every answer passes its (format) checks
    assert "75.0%" in v2_row and "not-icontains ×5" in v2_row
    assert "FAIL: 1 version under 90% guard pass rate" in r.out
    assert "support/reply@v2: 75.0% of 20; roll back with `promptctl rollback production`" in r.out

    r = cli(["monitor", str(logs), "--format", "json", "--channel", "production"], cwd=root)
    data = json.loads(r.out)
    (group,) = data["groups"]
    assert group["version"] == "v2" and group["guard_pass_rate"] == 0.75 and group["guard_failures"] == {"not-icontains": 5}
    assert group["latency_ms"] == {"p50": 509.0, "p95": 518.0} and group["tokens_per_call"] == 90.0
    assert group["evals"]["pass_rate"] == 1.0 and group["evals"]["cases"] == 4  # the eval run v2's bundle recorded
    assert r.code == 0

    assert cli(["monitor", str(logs), "--since", "1h", "--format", "markdown"], cwd=root).out.startswith("### ")
    html = cli(["monitor", str(logs), "--format", "html", "-o", str(tmp_path / "m.html")], cwd=root)
    assert html.code == 0 and "<table" in (tmp_path / "m.html").read_text()
    future = cli(["monitor", str(logs), "--since", "2999-01-01"], cwd=root)
    assert future.code == 0 and "no observations matched" in future.out
    assert cli(["monitor", str(logs), "--since", "yesterday"], cwd=root).code == 2
    missing = cli(["monitor", str(tmp_path / "nope.jsonl")], cwd=root)
    assert missing.code == 2 and "no such file" in missing.err


def test_monitor_skips_torn_lines(tmp_path, cli):
    path = tmp_path / "o.jsonl"
    good = {"prompt": "p", "version": "v1", "at": "2026-12-06T10:00:00.000Z", "guards": {"ok": True, "failures": []}}
    path.write_text(json.dumps(good) + "\n{\"prompt\": \"p\", \"vers\n" + json.dumps(good) + "\n")
    r = cli(["monitor", str(path), "--format", "json", "--registry", str(tmp_path / "none")], cwd=tmp_path)
    assert json.loads(r.out)["groups"][0]["observations"] == 2


# -- publish records the eval summary --------------------------------------------------------------------


def test_publish_records_the_eval_summary_and_require_tests_refuses_a_failing_one(git_repo, git_env, cli):
    init_project(git_repo.root)
    git_repo.commit("example")
    assert cli(["publish", "--require-tests"], cwd=git_repo.root).code == 0
    bundle = json.loads(next((git_repo.root / ".promptctl/registry/bundles").glob("*.json")).read_text())
    evals = bundle["evals"]
    assert evals["ok"] and evals["mode"] == "replay" and evals["cases"] == 5
    assert {d["name"] for d in evals["datasets"]} == {"summarize", "support-reply"}
    assert evals["prompts"]["support/reply"]["pass_rate"] == 1.0
    # a change that no recording answers: the replayed run errors, so --require-tests refuses it
    path = git_repo.root / REPLY
    git_repo.commit("reword", {REPLY: path.read_text().replace("support agent", "support assistant")})
    r = cli(["publish", "--require-tests"], cwd=git_repo.root)
    assert r.code != 0 and "--require-tests: `promptctl test --mode replay` fails" in r.err and "nothing was published" in r.err
    assert len(list((git_repo.root / ".promptctl/registry/bundles").glob("*.json"))) == 1
    assert cli(["publish"], cwd=git_repo.root).code == 0  # without the flag it publishes, recording the failing summary
    latest = sorted((git_repo.root / ".promptctl/registry/bundles").glob("*.json"))[-1]
    assert json.loads(latest.read_text())["evals"]["ok"] is False


def test_monitor_reads_big_files_in_parallel_with_the_same_figures(tmp_path, monkeypatch):
    from promptctl import monitor

    path = tmp_path / "o.jsonl"
    with path.open("w") as fh:
        for i in range(3000):
            fh.write(json.dumps({"prompt": "p" if i % 2 else "q", "version": f"v{1 + i % 3}", "at": f"2026-12-06T10:{i % 60:02d}:00.000Z",
                                 "channel": "production", "latency_ms": float(i % 97), "tokens": {"total": i % 11},
                                 "cost_usd": 1e-6 * (i % 5), "sample": 0.5,
                                 "guards": {"ok": i % 7 != 0, "failures": [] if i % 7 else [{"type": "regex", "reason": "x"}]}}) + "\n")
    with gzip.open(tmp_path / "more.jsonl.gz", "wt") as fh:
        fh.write(path.read_text())
    serial = [g.to_json() for g in monitor.collect_paths([tmp_path], jobs=1)]
    monkeypatch.setattr(monitor, "PARALLEL_BYTES", 0)
    parallel = [g.to_json() for g in monitor.collect_paths([tmp_path], jobs=2)]
    assert parallel == serial and sum(g["observations"] for g in serial) == 6000


def test_the_writer_thread_survives_a_malformed_observation(tmp_path):
    seen: list[dict] = []
    observer = Observer(seen.append)
    observer.submit({"not": "an observation"})  # no guards, not made by Prompt.observe
    observer.submit({"_raw": True})  # a raw record missing every field: finish() fails, counted
    assert observer.flush(5)
    observer.submit({"prompt": "p", "guards": {"ok": True, "failures": []}})
    assert observer.flush(5)
    stats = observer.stats()
    assert stats["errors"] == 1 and len(seen) == 2 and seen[-1]["prompt"] == "p"
