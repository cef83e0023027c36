"""promptctl.runtime: what applications import. Local, HTTP and S3 registries, real files and servers."""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import GitRepo

import promptctl
from promptctl.errors import InputError, IntegrityError, NotFoundError, RegistryError
from promptctl.project import open_project
from promptctl.runtime import Prompt, Registry
from promptctl.scaffold import init_project

SUMMARY = "prompts/summarize.prompt.yaml"


@pytest.fixture
def example(git_repo: GitRepo, git_env, cli) -> GitRepo:
    """The `promptctl init` example in a git repo, published as v1 and promoted to production."""
    init_project(git_repo.root)
    git_repo.commit("example")
    r = cli(["publish", "-m", "first", "--channel", "production"], cwd=git_repo.root)
    assert r.code == 0, r.err
    return git_repo


def registry_dir(repo: GitRepo) -> Path:
    return repo.root / ".promptctl" / "registry"


def publish_change(repo: GitRepo, cli, old: str, new: str) -> None:
    """Commit a change to the summarize prompt and publish it (not promoted)."""
    text = (repo.root / SUMMARY).read_text()
    assert old in text
    repo.commit(f"{old} -> {new}", {SUMMARY: text.replace(old, new)})
    r = cli(["publish"], cwd=repo.root)
    assert r.code == 0, r.err


# -- loading and rendering -------------------------------------------------------------------------


def test_runtime_renders_exactly_what_the_cli_renders(example, cli):
    reg = Registry(registry_dir(example), channel="production", refresh_s=0)
    assert reg.version == "v1" and reg.names() == ["summarize", "support/reply"]
    checked = 0
    for name in reg.names():
        prompt = reg.get(name)
        for sample in open_project(example.root).get_prompt(name).samples:
            for ref in (["--ref", "v1"], []):  # the published bundle and the working tree
                r = cli(["render", name, "--sample", sample.name, *ref, "--format", "json"], cwd=example.root)
                assert r.code == 0, r.err
                expected = json.loads(r.out)
                assert prompt.render(**sample.inputs) == expected["messages"]
            assert prompt.ref == f"{name}@v1:{expected['ref'].split('@')[1]}"
            checked += 1
    assert checked == 3  # every sample of the example


def test_prompt_properties_and_completion_kwargs(example, monkeypatch):
    reg = Registry(registry_dir(example), channel="production", refresh_s=0)
    p = reg.get("support/reply")
    assert isinstance(p, Prompt) and repr(p) == f"<promptctl.runtime.Prompt {p.ref}>"
    assert (p.name, p.model, p.version) == ("support/reply", "fast", "v1")
    assert p.params == {"temperature": 0.2, "max_tokens": 400}
    assert p.inputs["tone"] == {"type": "string", "enum": ["formal", "friendly"], "default": "friendly"}
    assert p.hash.startswith("sha256:") and p.ref == f"support/reply@v1:{p.hash[7:14]}"
    kwargs = p.completion_kwargs(ticket="Where is my order?")
    assert kwargs["model"] == "openai/gpt-4o-mini"  # the alias `fast`, resolved
    assert kwargs["temperature"] == 0.2 and kwargs["max_tokens"] == 400
    assert kwargs["messages"] == p.render(ticket="Where is my order?")
    assert kwargs["response_format"]["type"] == "json_schema"
    assert kwargs["response_format"]["json_schema"]["schema"]["required"] == ["reply"]
    assert "api_key" not in kwargs and "fallbacks" not in kwargs
    s = reg.get("summarize").completion_kwargs(text="x")
    assert "response_format" not in s and s["model"] == "openai/gpt-4o-mini"


def test_alias_with_gateway_and_key_variable(git_repo, git_env, cli, monkeypatch):
    init_project(git_repo.root)
    config = (git_repo.root / "promptctl.yaml").read_text().replace(
        "  fast: openai/gpt-4o-mini",
        "  fast: {model: openai/llama3, api_base: 'http://127.0.0.1:9/v1', api_key_env: LOCAL_KEY}\n  slow: openai/gpt-4o",
    )
    reply = (git_repo.root / "prompts/support/reply.prompt.yaml").read_text().replace(
        "model: fast", "model: fast\nfallbacks: [slow, openai/gpt-4o-mini]"
    )
    git_repo.commit("gateway", {"promptctl.yaml": config, "prompts/support/reply.prompt.yaml": reply})
    assert cli(["publish", "--channel", "production"], cwd=git_repo.root).code == 0
    monkeypatch.setenv("LOCAL_KEY", "sk-local-canary")
    kwargs = Registry(registry_dir(git_repo), refresh_s=0).get("support/reply").completion_kwargs(ticket="x")
    assert kwargs["model"] == "openai/llama3" and kwargs["api_base"] == "http://127.0.0.1:9/v1"
    assert kwargs["api_key"] == "sk-local-canary"
    assert kwargs["fallbacks"] == [{"model": "openai/gpt-4o"}, {"model": "openai/gpt-4o-mini"}]


def test_a_prompts_tools_are_published_and_in_completion_kwargs(git_repo, git_env, cli):
    init_project(git_repo.root)
    before = open_project(git_repo.root).get_prompt("summarize").hash
    tools = ("tools:\n  - type: function\n    function: {name: lookup_order, parameters: "
             "{type: object, properties: {id: {type: string}}, required: [id]}}\n")
    text = (git_repo.root / SUMMARY).read_text()
    git_repo.commit("tools", {SUMMARY: tools + text})
    assert open_project(git_repo.root).get_prompt("summarize").hash != before  # the tools are part of what is hashed
    assert cli(["publish", "--channel", "production"], cwd=git_repo.root).code == 0
    kwargs = Registry(registry_dir(git_repo), refresh_s=0).get("summarize").completion_kwargs(text="x")
    assert kwargs["tools"] == [{"type": "function", "function": {
        "name": "lookup_order", "parameters": {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]}}}]
    assert "tools" not in Registry(registry_dir(git_repo), refresh_s=0).get("support/reply").completion_kwargs(ticket="x")


def test_bad_inputs_raise_one_error_listing_every_problem(example):
    p = Registry(registry_dir(example), refresh_s=0).get("support/reply")
    with pytest.raises(InputError) as info:
        p.render(tone="rude", extra=1)
    problems = info.value.problems
    assert len(problems) == 3
    assert any("missing required input 'ticket'" in x for x in problems)
    assert any("'tone' must be one of 'formal', 'friendly'" in x for x in problems)
    assert any("unexpected input 'extra'" in x for x in problems)


def test_unknown_prompt_suggests(example):
    with pytest.raises(NotFoundError, match="did you mean 'support/reply'"):
        Registry(registry_dir(example), refresh_s=0).get("support/rply")


def test_pinned_version(example, cli):
    publish_change(example, cli, "bullet points", "short points")
    one = Registry(registry_dir(example), version="v1", refresh_s=0)
    two = Registry(registry_dir(example), version=2, refresh_s=0)
    assert one.version == "v1" and two.version == "v2"
    assert "bullet points" in one.get("summarize").render(text="x")[0]["content"]
    assert "short points" in two.get("summarize").render(text="x")[0]["content"]
    assert one.refresh() is False  # a pin never moves
    with pytest.raises(NotFoundError, match="no version v9"):
        Registry(registry_dir(example), version="v9", refresh_s=0)


# -- refresh, rollback, failures -------------------------------------------------------------------


def test_refresh_after_promote_and_after_rollback(example, cli):
    reg = Registry(registry_dir(example), channel="production", refresh_s=0)
    publish_change(example, cli, "bullet points", "short points")
    assert reg.refresh() is False and reg.version == "v1"  # published, not promoted: nothing moves
    assert cli(["promote", "v2", "production"], cwd=example.root).code == 0
    assert reg.refresh() is True and reg.version == "v2"
    assert "short points" in reg.get("summarize").render(text="x")[0]["content"]
    assert cli(["rollback", "production", "-m", "bad"], cwd=example.root).code == 0
    assert reg.refresh() is True and reg.version == "v1"
    assert "bullet points" in reg.get("summarize").render(text="x")[0]["content"]


def test_background_refresh_sees_a_rollback_within_one_interval(example, cli):
    publish_change(example, cli, "bullet points", "short points")
    assert cli(["promote", "v2", "production"], cwd=example.root).code == 0
    with Registry(registry_dir(example), channel="production", refresh_s=0.05) as reg:
        assert reg.version == "v2"
        assert cli(["rollback", "production"], cwd=example.root).code == 0
        for _ in range(200):  # bounded wait: 200 x 0.05 s
            if reg.version == "v1":
                break
            threading.Event().wait(0.05)
        assert reg.version == "v1"
        assert reg.status()["ok"] is True


def test_registry_down_at_start_without_and_with_a_cache(example, tmp_path):
    moved = tmp_path / "moved"
    cache = tmp_path / "cache"
    Registry(registry_dir(example), channel="production", refresh_s=0, cache_dir=cache)  # fills the cache
    shutil.move(registry_dir(example), moved)
    # a local registry folder that is gone is unreachable, like an S3 endpoint that is down
    with pytest.raises(RegistryError):
        Registry(registry_dir(example), channel="production", refresh_s=0)
    reg = Registry(registry_dir(example), channel="production", refresh_s=0, cache_dir=cache)
    status = reg.status()
    assert reg.version == "v1" and status["source"] == "cache" and status["stale"] is True
    assert status["ok"] is False and "registry" in status["last_error"]
    assert reg.get("summarize").render(text="x")
    shutil.move(moved, registry_dir(example))
    reg.refresh()
    assert reg.status()["source"] == "registry" and reg.status()["stale"] is False


def test_a_damaged_cache_is_never_served(example, tmp_path):
    cache = tmp_path / "cache"
    Registry(registry_dir(example), channel="production", refresh_s=0, cache_dir=cache)
    [cached] = list(cache.iterdir())
    cached.write_bytes(cached.read_bytes().replace(b"bullet points", b"bullet pointz"))
    shutil.rmtree(registry_dir(example))
    with pytest.raises(RegistryError):
        Registry(registry_dir(example), channel="production", refresh_s=0, cache_dir=cache)


def test_registry_going_down_after_start_keeps_serving(example, tmp_path):
    reg = Registry(registry_dir(example), channel="production", refresh_s=0)
    shutil.move(registry_dir(example), tmp_path / "moved")
    assert reg.refresh() is False
    status = reg.status()
    assert status["ok"] is False and status["stale"] is True and status["version"] == "v1"
    assert status["source"] == "registry"
    assert reg.get("summarize").render(text="x")


def test_a_corrupted_bundle_is_refused_and_the_last_good_one_served(example, cli):
    reg = Registry(registry_dir(example), channel="production", refresh_s=0)
    publish_change(example, cli, "bullet points", "short points")
    assert cli(["promote", "v2", "production"], cwd=example.root).code == 0
    path = registry_dir(example) / "bundles" / "v000002.json"
    os.chmod(path, 0o644)
    path.write_bytes(path.read_bytes().replace(b"short points", b"short pointz"))
    assert reg.refresh() is False
    status = reg.status()
    assert reg.version == "v1" and status["ok"] is False and "digest" in status["last_error"]
    with pytest.raises(IntegrityError, match="digest mismatch"):
        Registry(registry_dir(example), channel="production", refresh_s=0)


def test_a_missing_channel_is_an_error_and_one_that_disappears_too(example):
    with pytest.raises(NotFoundError, match="channel 'staging' does not exist"):
        Registry(registry_dir(example), channel="staging", refresh_s=0)
    reg = Registry(registry_dir(example), channel="production", refresh_s=0)
    shutil.rmtree(registry_dir(example) / "channels" / "production")
    with pytest.raises(NotFoundError):
        reg.refresh()
    assert reg.status()["channel_missing"] is True
    with pytest.raises(RegistryError, match="does not exist"):
        reg.get("summarize")  # never a silent stale copy


def test_concurrent_gets_never_mix_two_versions(example, cli):
    publish_change(example, cli, "bullet points", "short points")
    reg = Registry(registry_dir(example), channel="production", refresh_s=0)
    seen: set[tuple[str, str]] = set()
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                p = reg.get("summarize")
                text = p.render(text="x")[0]["content"]
                seen.add((p.version, "short" if "short points" in text else "bullet"))
            except BaseException as e:  # noqa: BLE001 - collected and asserted below
                errors.append(e)
                return

    threads = [threading.Thread(target=reader) for _ in range(8)]
    for t in threads:
        t.start()
    for i in range(6):
        target = "v2" if i % 2 == 0 else "v1"
        assert cli(["promote", target, "production", "--force"], cwd=example.root).code == 0
        reg.refresh()
    stop.set()
    for t in threads:
        t.join()
    assert not errors
    assert seen <= {("v1", "bullet"), ("v2", "short")}  # a version's prompt always renders that version
    assert len(seen) == 2


# -- other registries ------------------------------------------------------------------------------


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def static_host(example):
    """A static HTTP server on 127.0.0.1 serving the registry folder (as a CDN would)."""
    handler = functools.partial(_Quiet, directory=str(registry_dir(example)))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_http_registry(example, static_host, cli, tmp_path):
    server, url = static_host
    reg = Registry(url, channel="production", refresh_s=0, cache_dir=tmp_path / "cache")
    assert reg.version == "v1" and "bullet points" in reg.get("summarize").render(text="x")[0]["content"]
    publish_change(example, cli, "bullet points", "short points")
    assert cli(["promote", "v2", "production"], cwd=example.root).code == 0
    assert reg.refresh() is True and reg.version == "v2"
    assert Registry(url, version="v1", refresh_s=0).version == "v1"
    with pytest.raises(NotFoundError, match="channel 'nope' does not exist"):
        Registry(url, channel="nope", refresh_s=0)
    server.shutdown()
    server.server_close()
    assert reg.refresh() is False
    assert reg.status()["stale"] is True and "cannot reach" in reg.status()["last_error"]
    cached = Registry(url, channel="production", refresh_s=0, cache_dir=tmp_path / "cache")
    assert cached.version == "v2" and cached.status()["source"] == "cache"


def test_s3_registry(git_repo, git_env, cli, monkeypatch):
    pytest.importorskip("moto")
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint,
                           "AWS_EC2_METADATA_DISABLED": "true"}.items():
            monkeypatch.setenv(key, value)
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="acme-prompts")
        init_project(git_repo.root)
        config = (git_repo.root / "promptctl.yaml").read_text() + "registry: s3://acme-prompts/prod\n"
        git_repo.commit("s3", {"promptctl.yaml": config})
        assert cli(["publish", "--channel", "production"], cwd=git_repo.root).code == 0
        reg = Registry("s3://acme-prompts/prod", channel="production", refresh_s=0)
        assert reg.version == "v1" and reg.get("support/reply").render(ticket="hi")[-1] == {"role": "user", "content": "hi"}
        publish_change(git_repo, cli, "bullet points", "short points")
        assert cli(["promote", "v2", "production"], cwd=git_repo.root).code == 0
        assert reg.refresh() is True and reg.version == "v2"
    finally:
        server.stop()
    assert reg.refresh() is False and reg.status()["stale"] is True  # the endpoint is down now


# -- local development and the import budget ------------------------------------------------------


def test_from_project_serves_the_working_tree_and_reloads(tmp_path):
    init_project(tmp_path)
    reg = Registry.from_project(tmp_path)
    p = reg.get("summarize")
    assert p.version == "dev" and p.ref.startswith("summarize@dev:")
    assert "bullet points" in p.render(text="x")[0]["content"]
    path = tmp_path / SUMMARY
    path.write_text(path.read_text().replace("bullet points", "short points") + "\n")
    assert "short points" in reg.get("summarize").render(text="x")[0]["content"]
    assert reg.get("support/reply").completion_kwargs(ticket="x")["model"] == "openai/gpt-4o-mini"


def test_import_loads_only_the_standard_library_and_jinja2():
    code = (
        "import sys, promptctl.runtime; "
        "bad = sorted(m for m in ('typer', 'rich', 'click', 'yaml', 'git', 'jsonschema', 'fastjsonschema', "
        "'litellm', 'boto3', 'pydantic') if m in sys.modules); print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""


def test_public_api():
    assert promptctl.__all__ == ["GuardError", "GuardResult", "Prompt", "Registry", "RegistryStatus", "__version__"]
    assert promptctl.Registry is Registry
    import promptctl.runtime as runtime

    assert runtime.__all__ == ["GuardError", "GuardResult", "Prompt", "Registry", "RegistryStatus"]
    with pytest.raises(AttributeError):
        promptctl.nope  # noqa: B018


def test_render_spells_a_published_prompts_ref_as_the_runtime_does(example, cli):
    """One spelling of a ref everywhere: render --ref v1 / production says what the runtime says."""
    runtime_ref = Registry(registry_dir(example), channel="production", refresh_s=0).get("support/reply").ref
    for ref in ("v1", "production"):
        r = cli(["render", "support/reply", "--sample", "refund", "--ref", ref, "--format", "json"], cwd=example.root)
        assert r.code == 0, r.err
        data = json.loads(r.out)
        assert data["ref"] == runtime_ref and data["ref"].startswith("support/reply@v1:")
        assert (data["model"], data["resolved_model"]) == ("fast", "openai/gpt-4o-mini")  # the alias and what it calls
    r = cli(["render", "support/reply", "--sample", "refund"], cwd=example.root)
    assert r.err.splitlines()[0] == f"support/reply@{runtime_ref.rsplit(':', 1)[1]}  model: fast (openai/gpt-4o-mini)"
