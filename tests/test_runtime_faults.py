"""promptctl.runtime under faults: refresh failures, damaged heads, cache identity."""

from __future__ import annotations

import shutil

import pytest
from test_runtime import example, registry_dir  # noqa: F401 - the fixture

from promptctl.errors import PromptctlError
from promptctl.runtime import Registry


def test_deeply_nested_head_is_a_promptctl_error_and_refresh_survives(example, tmp_path):  # noqa: F811
    reg = Registry(registry_dir(example), channel="production", refresh_s=0, cache_dir=tmp_path / "c")
    head = registry_dir(example) / "channels" / "production" / "HEAD.json"
    head.chmod(0o644)
    head.write_bytes(b"[" * 200_000 + b"]" * 200_000)
    assert reg.refresh() is False
    st = reg.status()
    assert st["ok"] is False and st["stale"] is True and st["version"] == "v1"
    cached = Registry(registry_dir(example), channel="production", refresh_s=0, cache_dir=tmp_path / "c")
    assert cached.status()["source"] == "cache"
    with pytest.raises(PromptctlError):
        Registry(registry_dir(example), channel="production", refresh_s=0)


def test_cache_is_keyed_by_full_url(example, tmp_path):  # noqa: F811
    a = tmp_path / "reg-a"
    shutil.copytree(registry_dir(example), a)
    Registry(a, channel="production", refresh_s=0, cache_dir=tmp_path / "c")
    shutil.rmtree(a)
    with pytest.raises(PromptctlError):  # reg_a never gets reg-a's cache
        Registry(tmp_path / "reg_a", channel="production", refresh_s=0, cache_dir=tmp_path / "c")


# -- readers follow the records (item 2) -----------------------------------------------------------

import functools  # noqa: E402
import http.server  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

from test_runtime import publish_change, static_host  # noqa: E402,F401 - the fixture

from promptctl.errors import IntegrityError  # noqa: E402
from promptctl.registry.channels import encode_record, record_hash, record_key  # noqa: E402
from promptctl.registry.stores import LocalStore  # noqa: E402


def _channel(proj, name="production"):
    return registry_dir(proj) / "channels" / name


def _record(proj, seq):
    return json.loads((_channel(proj) / f"{seq:06d}.json").read_bytes())


def _write_record_without_mirror(proj, record):
    """What a publisher killed between its record and HEAD.json leaves behind."""
    LocalStore(registry_dir(proj)).create(record_key("production", record["seq"]), encode_record(record))


def _v2_promoted_then_rolled_back(proj, cli):
    """production: #1 v1, #2 v2, #3 rollback to v1."""
    publish_change(proj, cli, "bullet points", "short points")
    assert cli(["promote", "v2", "production"], cwd=proj.root).code == 0
    assert cli(["rollback", "production", "-m", "bad"], cwd=proj.root).code == 0


def test_a_replayed_old_head_json_does_not_undo_a_rollback(example, cli):  # noqa: F811
    _v2_promoted_then_rolled_back(example, cli)
    head = _channel(example) / "HEAD.json"
    head.write_bytes((_channel(example) / "000002.json").read_bytes())  # the v2 record, replayed
    reg = Registry(registry_dir(example), channel="production", refresh_s=0)
    assert reg.version == "v1" and reg.status()["seq"] == 3  # the records decide, as in the CLI
    assert cli(["show", "production"], cwd=example.root).out.count("v1") >= 1


def test_a_killed_publish_is_served_from_its_record(example, cli):  # noqa: F811
    publish_change(example, cli, "bullet points", "short points")
    reg = Registry(registry_dir(example), channel="production", refresh_s=0)
    assert reg.version == "v1"
    v2 = json.loads((registry_dir(example) / "bundles" / "v000002.json").read_bytes())
    first = _record(example, 1)
    rec = {**first, "seq": 2, "version": 2, "digest": v2["digest"], "prev": record_hash(first), "reason": "x"}
    _write_record_without_mirror(example, rec)
    assert reg.refresh() is True and reg.version == "v2" and reg.status()["ok"] is True
    assert Registry(registry_dir(example), channel="production", refresh_s=0).version == "v2"


def test_a_forged_head_json_with_a_higher_seq_is_refused(example, cli):  # noqa: F811
    publish_change(example, cli, "bullet points", "short points")
    reg = Registry(registry_dir(example), channel="production", refresh_s=0, cache_dir=example.root / "cache")
    v2 = json.loads((registry_dir(example) / "bundles" / "v000002.json").read_bytes())
    first = _record(example, 1)
    forged = {**first, "seq": 9, "version": 2, "digest": v2["digest"], "prev": record_hash(first)}
    (_channel(example) / "HEAD.json").write_bytes(encode_record(forged))
    assert reg.refresh() is False
    st = reg.status()
    assert st["ok"] is False and st["version"] == "v1" and "record" in st["last_error"]
    with pytest.raises(IntegrityError, match="missing"):
        Registry(registry_dir(example), channel="production", refresh_s=0)
    assert Registry(registry_dir(example), channel="production", refresh_s=0,
                    cache_dir=example.root / "cache").status()["source"] == "cache"


def test_a_broken_link_keeps_the_last_good_bundle(example, cli):  # noqa: F811
    publish_change(example, cli, "bullet points", "short points")
    reg = Registry(registry_dir(example), channel="production", refresh_s=0)
    v2 = json.loads((registry_dir(example) / "bundles" / "v000002.json").read_bytes())
    rec = {**_record(example, 1), "seq": 2, "version": 2, "digest": v2["digest"], "prev": "sha256:" + "0" * 64}
    _write_record_without_mirror(example, rec)
    assert reg.refresh() is False and reg.version == "v1"
    assert reg.status()["ok"] is False and "hash chain" in reg.status()["last_error"]


def test_http_reader_probes_past_a_stale_mirror_and_refuses_a_downgrade(example, cli, static_host):  # noqa: F811
    _, url = static_host
    publish_change(example, cli, "bullet points", "short points")
    reg = Registry(url, channel="production", refresh_s=0)
    v2 = json.loads((registry_dir(example) / "bundles" / "v000002.json").read_bytes())
    first = _record(example, 1)
    _write_record_without_mirror(example, {**first, "seq": 2, "version": 2, "digest": v2["digest"],
                                           "prev": record_hash(first)})
    assert reg.refresh() is True and reg.version == "v2"  # found record 2 although HEAD.json says 1
    # HEAD.json rewound to record 1 and record 2 hidden (a CDN serving an old copy): no silent downgrade
    (_channel(example) / "000002.json").rename(_channel(example) / "hidden.json")
    assert reg.refresh() is False and reg.version == "v2"
    assert reg.status()["ok"] is False and "backwards" in reg.status()["last_error"]


# -- the refresh never dies (item 1) ---------------------------------------------------------------


class _Truncating(http.server.SimpleHTTPRequestHandler):
    """Serves a registry folder; while ``broken`` is set, drops HEAD.json half-way."""

    broken = threading.Event()

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.broken.is_set() and self.path.endswith("HEAD.json"):
            self.send_response(200)
            self.send_header("Content-Length", "5000")
            self.end_headers()
            self.wfile.write(b'{"format"')
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        super().do_GET()


def test_background_refresh_survives_a_dropped_connection_and_then_serves_a_rollback(example, cli, caplog):  # noqa: F811
    _Truncating.broken.clear()
    handler = functools.partial(_Truncating, directory=str(registry_dir(example)))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    caplog.set_level(logging.WARNING, logger="promptctl.runtime")
    try:
        publish_change(example, cli, "bullet points", "short points")
        assert cli(["promote", "v2", "production"], cwd=example.root).code == 0
        reg = Registry(url, channel="production", refresh_s=0.05)
        assert reg.version == "v2"
        _Truncating.broken.set()
        deadline = time.time() + 10
        while reg.status()["ok"] and time.time() < deadline:
            time.sleep(0.02)
        st = reg.status()
        assert st["ok"] is False and st["stale"] is True and st["version"] == "v2"
        time.sleep(0.3)  # several failed ticks: logged once
        assert sum("serving the last good bundle" in r.getMessage() for r in caplog.records) == 1
        assert cli(["rollback", "production", "-m", "bad"], cwd=example.root).code == 0
        _Truncating.broken.clear()
        deadline = time.time() + 10
        while reg.version != "v1" and time.time() < deadline:
            time.sleep(0.02)
        assert reg.version == "v1" and reg.status()["ok"] is True  # the thread lived on
        reg.close()
    finally:
        server.shutdown()
        server.server_close()


def test_a_cache_that_cannot_be_written_does_not_stop_a_new_bundle(example, cli, tmp_path):  # noqa: F811
    cache = tmp_path / "cache"
    reg = Registry(registry_dir(example), channel="production", refresh_s=0, cache_dir=cache)
    publish_change(example, cli, "bullet points", "short points")
    assert cli(["promote", "v2", "production"], cwd=example.root).code == 0
    shutil.rmtree(cache)
    cache.write_text("a file where the cache folder should be")  # fails even as root, unlike chmod
    assert reg.refresh() is True and reg.version == "v2"
    assert reg.status()["cache_error"]


def test_cache_file_has_the_umask_mode(example, tmp_path):  # noqa: F811
    old = os.umask(0o022)
    try:
        Registry(registry_dir(example), channel="production", refresh_s=0, cache_dir=tmp_path / "cache")
    finally:
        os.umask(old)
    (cached,) = [p for p in (tmp_path / "cache").iterdir() if not p.name.startswith(".")]
    assert cached.stat().st_mode & 0o777 == 0o644


# -- fallbacks keep their aliases (item 7) ---------------------------------------------------------


def test_fallbacks_carry_their_own_endpoint_and_key(git_repo, git_env, cli, monkeypatch):
    from promptctl.scaffold import init_project

    init_project(git_repo.root)
    config = (git_repo.root / "promptctl.yaml").read_text().replace(
        "  fast: openai/gpt-4o-mini",
        "  fast: {model: openai/llama3, api_base: 'http://127.0.0.1:9001/v1', api_key_env: PRIMARY_KEY}\n"
        "  backup: {model: openai/qwen, api_base: 'http://127.0.0.1:9002/v1', api_key_env: BACKUP_KEY}",
    )
    reply = (git_repo.root / "prompts/support/reply.prompt.yaml").read_text().replace(
        "model: fast", "model: fast\nfallbacks: [backup, openai/gpt-4o-mini]"
    )
    git_repo.commit("aliases", {"promptctl.yaml": config, "prompts/support/reply.prompt.yaml": reply})
    r = cli(["publish", "-m", "x", "--channel", "production"], cwd=git_repo.root)
    assert r.code == 0, r.err
    monkeypatch.setenv("PRIMARY_KEY", "pk-1")
    monkeypatch.setenv("BACKUP_KEY", "bk-2")
    kwargs = Registry(registry_dir(git_repo), refresh_s=0).get("support/reply").completion_kwargs(ticket="x")
    assert kwargs["api_base"] == "http://127.0.0.1:9001/v1" and kwargs["api_key"] == "pk-1"
    assert kwargs["fallbacks"] == [  # each with its own server and key, never the primary's
        {"model": "openai/qwen", "api_base": "http://127.0.0.1:9002/v1", "api_key": "bk-2"},
        {"model": "openai/gpt-4o-mini"},
    ]
