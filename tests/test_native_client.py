"""The native client on real HTTP to the local OpenAI-compatible server: what it sends, how each fault is
classified, its pool, its costs; and which calls go through litellm instead (and that others never import it)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, write_tree
from llm_server import LLMServer

from promptctl.errors import ProviderError
from promptctl.evals.native import NativeProvider, speaks_openai, wire_model
from promptctl.evals.prices import call_cost, estimate_cost, price
from promptctl.evals.provider import ChatRequest, EmbeddingRequest, Endpoint
from promptctl.evals.providers import uses_litellm

KEY = "sk-native-canary-77aa11"


@pytest.fixture(scope="module")
def server():
    s = LLMServer().start()
    yield s
    s.stop()


@pytest.fixture(autouse=True)
def fresh(server, monkeypatch):
    server.reset()
    monkeypatch.setenv("NATIVE_KEY", KEY)


def endpoint(server: LLMServer, **kw) -> Endpoint:
    return Endpoint(name="local", model=kw.pop("model", "openai/gpt-4o-mini"), api_base=server.url,
                    api_key_env=kw.pop("api_key_env", "NATIVE_KEY"), **kw)


def ask(ep: Endpoint, text: str, timeout: float = 2.0, concurrency: int = 4, **params):
    async def go():
        provider = NativeProvider(concurrency)
        try:
            return await provider.complete(ChatRequest(ep, ({"role": "user", "content": text},), params), timeout)
        finally:
            await provider.aclose()

    return asyncio.run(go())


def test_which_models_the_native_client_serves():
    assert speaks_openai(Endpoint("a", "openai/gpt-4o-mini"))
    assert speaks_openai(Endpoint("a", "llama3", api_base="http://127.0.0.1:8000/v1"))
    assert speaks_openai(Endpoint("a", "hosted_vllm/qwen", api_base="http://127.0.0.1:8000/v1"))
    assert not speaks_openai(Endpoint("a", "hosted_vllm/qwen"))  # no address to send it to
    assert not speaks_openai(Endpoint("a", "anthropic/claude-3-5-haiku-20241022"))
    assert not speaks_openai(Endpoint("a", "ollama/llama3", api_base="http://127.0.0.1:11434"))  # Ollama's own API
    assert not speaks_openai(Endpoint("a", "gpt-4o-mini"))  # a bare name: litellm decides who serves it
    assert uses_litellm(Endpoint("a", "openai/gpt-4o-mini"), "litellm")  # test.client: litellm
    assert wire_model(Endpoint("a", "openai/gpt-4o-mini")) == "gpt-4o-mini"
    assert wire_model(Endpoint("a", "llama3", api_base="x")) == "llama3"


def test_a_call_sends_the_model_messages_params_schema_and_key(server):
    ep = endpoint(server)
    fmt = {"type": "json_schema", "json_schema": {"name": "output", "schema": {"type": "object"}}}
    request = ChatRequest(ep, ({"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"}),
                          {"temperature": 0, "max_tokens": 20}, fmt)

    async def go():
        provider = NativeProvider(2)
        try:
            return await provider.complete(request, 2.0)
        finally:
            await provider.aclose()

    completion = asyncio.run(go())
    assert completion.text == "echo: hello" and completion.finish_reason == "stop"
    assert completion.usage == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    assert completion.cost_usd == pytest.approx(3 * 0.15e-6 + 2 * 0.6e-6)
    assert completion.latency_ms > 0
    sent = server.requests[-1]
    assert sent["path"] == "/v1/chat/completions" and sent["authorization"] == f"Bearer {KEY}"
    assert sent["body"] == {"model": "gpt-4o-mini", "messages": [dict(m) for m in request.messages],
                            "temperature": 0, "max_tokens": 20, "response_format": fmt}


def test_a_keyless_local_server_gets_no_invented_key(server):
    completion = ask(Endpoint("local", "llama3", api_base=server.url), "hi")
    assert completion.text == "echo: hi" and completion.cost_usd is None  # no price for a local model
    assert server.requests[-1]["authorization"] is None


@pytest.mark.parametrize("fault, kind, status, retryable, words", [
    ("429", "rate_limit", 429, True, "HTTP 429 rate limit: Rate limit reached"),
    ("500", "server", 500, True, "HTTP 500 server"),
    ("503", "server", 503, True, "HTTP 503 server"),
    ("401", "auth", 401, False, "HTTP 401 auth: Incorrect API key provided: Bearer ***"),
    ("400", "bad_request", 400, False, "HTTP 400 bad request: Invalid parameter"),
    ("404", "not_found", 404, False, "HTTP 404 not found: The model `gpt-4o-mini` does not exist"),
    ("context", "context_window", 400, False, "maximum context length"),
    ("badjson", "invalid_response", None, True, "not JSON"),
    ("cut", "connection", None, True, "closed the connection mid-answer"),
])
def test_each_fault_is_classified(server, fault, kind, status, retryable, words):
    server.faults["q"] = [fault]
    with pytest.raises(ProviderError) as info:
        ask(endpoint(server), "q")
    e = info.value
    assert (e.kind, e.status, e.retryable) == (kind, status, retryable), e.message
    assert words in e.message, e.message
    assert KEY not in e.message
    if fault == "429":
        assert e.retry_after == 1.0  # the server's Retry-After


def test_a_hang_is_cut_at_the_timeout(server):
    server.hang_s = 5
    server.faults["slow"] = ["hang"]
    with pytest.raises(ProviderError) as info:
        ask(endpoint(server), "slow", timeout=0.3)
    assert info.value.kind == "timeout" and info.value.retryable and "within 0.3 s" in info.value.message


def test_a_refused_connection_names_the_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    with pytest.raises(ProviderError) as info:
        ask(Endpoint("local", "llama3", api_base=url), "q")
    assert info.value.kind == "connection" and info.value.retryable
    assert info.value.message == f"connection refused: cannot connect to {url}/chat/completions (connection refused)"


def test_a_missing_key_variable_is_named():
    with pytest.raises(ProviderError) as info:
        ask(Endpoint("local", "llama3", api_base="http://127.0.0.1:9/v1", api_key_env="UNSET_NATIVE_KEY"), "q")
    assert info.value.kind == "auth" and "UNSET_NATIVE_KEY is not set" in info.value.message


def test_the_pool_is_sized_to_the_concurrency(server):
    server.latency = 0.05
    ep = endpoint(server)

    async def go():
        provider = NativeProvider(3)
        try:
            reqs = [ChatRequest(ep, ({"role": "user", "content": f"n{i}"},), {}) for i in range(24)]
            return await asyncio.gather(*(provider.complete(r, 5.0) for r in reqs))
        finally:
            await provider.aclose()

    answers = asyncio.run(go())
    assert [a.text for a in answers] == [f"echo: n{i}" for i in range(24)]
    peers = {r["peer"] for r in server.requests}
    assert len(peers) <= 3  # at most 3 connections, each reused


def test_embeddings(server):
    ep = endpoint(server, model="openai/text-embedding-3-small")

    async def go():
        provider = NativeProvider(1)
        try:
            return await provider.embed(EmbeddingRequest(ep, ("a b", "c")), 2.0)
        finally:
            await provider.aclose()

    result = asyncio.run(go())
    assert len(result.vectors) == 2 and len(result.vectors[0]) == 64
    assert server.requests[-1]["path"] == "/v1/embeddings" and server.requests[-1]["body"]["input"] == ["a b", "c"]
    assert result.cost_usd == pytest.approx(3 * 0.02e-6)


def test_prices_come_from_the_table_as_data():
    assert price("openai/gpt-4o-mini") == price("gpt-4o-mini") == (0.15e-6, 0.6e-6)
    assert price("llama3") is None and call_cost("llama3", {"prompt_tokens": 5}) is None
    request = ChatRequest(Endpoint("m", "openai/gpt-4o-mini"), ({"role": "user", "content": "x" * 400},), {})
    assert estimate_cost(request, 100) == pytest.approx((100 + 4 + 3) * 0.15e-6 + 100 * 0.6e-6)


# -- which client a run uses, seen from outside -------------------------------------------------


def project(root: Path, url: str, model: str = "openai/gpt-4o-mini") -> Path:
    return write_tree(root, {
        "promptctl.yaml": f"""\
            promptctl: 1
            defaults: {{model: local}}
            models:
              local: {{model: {model}, api_base: "{url}", api_key_env: NATIVE_KEY}}
            test: {{timeout_s: 5, retries: 0, concurrency: 4}}
            """,
        "prompts/qa.prompt.yaml": "inputs: {q: string}\nmessages:\n  - role: user\n    content: \"{{ q }}\"\n",
        "evals/qa.eval.yaml": "prompt: qa\ncases:\n" + "".join(
            f"  - {{id: c{i}, inputs: {{q: 'q{i}'}}, assert: [{{type: contains, value: 'q{i}'}}]}}\n" for i in range(6)),
    })


def run_without_litellm(root: Path, args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    shim = write_tree(tmp_path / "shim", {"sitecustomize.py": "import sys\nsys.modules['litellm'] = None\n"})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(shim), str(REPO)]), "NATIVE_KEY": KEY}
    env.pop("PROMPTCTL_PROJECT", None)
    env.pop("GITHUB_STEP_SUMMARY", None)
    return subprocess.run([sys.executable, "-m", "promptctl", *args], cwd=root, env=env, capture_output=True, text=True,
                          timeout=120)


def test_a_run_of_openai_compatible_models_never_imports_litellm(server, tmp_path):
    root = project(tmp_path / "p", server.url)
    p = run_without_litellm(root, ["test", "--mode", "refresh", "--format", "json"], tmp_path)
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    assert report["ok"] and report["summary"]["live_calls"] == 6 and server.count() == 6
    assert all(r["authorization"] == f"Bearer {KEY}" for r in server.requests)
    # and in process: after a live run, litellm is not in sys.modules
    probe = ("import sys, json; from promptctl.project import open_project; "
             "from promptctl.evals.runner import run_tests, select_datasets, RunOptions; "
             "p = open_project('.'); r = run_tests(p, select_datasets(p, []), RunOptions(mode='refresh')); "
             "print(json.dumps({'ok': r.ok, 'litellm': 'litellm' in sys.modules, 'httpx': 'httpx' in sys.modules, "
             "'calls': r.live_calls}))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=root, env={**os.environ, "NATIVE_KEY": KEY,
                         "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    # nor httpx: the native client is promptctl's own (evals/http11.py)
    assert json.loads(out.stdout) == {"ok": True, "litellm": False, "httpx": False, "calls": 6}


def test_a_run_served_from_recordings_starts_no_event_loop_and_imports_no_client(server, tmp_path):
    """auto with every answer recorded, and replay: no client, no provider library, not even asyncio."""
    root = project(tmp_path / "p", server.url)
    assert run_without_litellm(root, ["test", "--mode", "refresh", "-q"], tmp_path).returncode == 0
    calls = server.count()
    probe = ("import sys, json\n"
             "from promptctl.cli import main\n"
             "code = 0\ntry:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n    code = e.code\n"
             "loaded = [m for m in ('asyncio', 'ssl', 'litellm', 'promptctl.evals.providers', 'promptctl.evals.native',"
             " 'promptctl.evals.http11') if m in sys.modules]\n"
             "sys.stderr.write('LOADED ' + json.dumps([code, loaded]) + '\\n')\n")
    for mode in ("auto", "replay"):
        out = subprocess.run([sys.executable, "-c", probe, "test", "--mode", mode, "--format", "json"], cwd=root,
                             env={**os.environ, "NATIVE_KEY": KEY, "PYTHONPATH": str(REPO)},
                             capture_output=True, text=True, timeout=120)
        report = json.loads(out.stdout)
        assert report["ok"] and report["summary"]["replayed"] == 6 and report["summary"]["live_calls"] == 0
        line = next(x for x in out.stderr.splitlines() if x.startswith("LOADED "))
        assert json.loads(line.removeprefix("LOADED ")) == [0, []], (mode, out.stderr)
    assert server.count() == calls
    # one case not recorded yet: it alone runs in the event loop, with the native client
    (root / "evals/more.eval.yaml").write_text("prompt: qa\ncases:\n  - {id: new, inputs: {q: q new}}\n")
    p = run_without_litellm(root, ["test", "--format", "json"], tmp_path)
    report = json.loads(p.stdout)
    assert report["ok"] and report["summary"]["live_calls"] == 1 and report["summary"]["replayed"] == 6
    assert server.count() == calls + 1


def test_a_model_only_litellm_speaks_goes_through_litellm(server, tmp_path, cli):
    pytest.importorskip("litellm")  # not imported here by the test itself: promptctl sets its env first
    root = project(tmp_path / "p", server.url, model="anthropic/claude-3-5-haiku-20241022")
    r = cli(["test", "--mode", "refresh", "--format", "json"], cwd=root)
    # litellm speaks Anthropic's protocol to the api_base: POST …/v1/messages, which this server does not serve
    assert r.code == 1
    paths = {q["path"] for q in server.requests}
    assert paths and all(p.endswith("/messages") for p in paths), paths
    assert "litellm" in sys.modules
