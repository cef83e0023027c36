"""Bundles, the local store and publish: real files, a real git repository, the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import GIT_ENV, GitRepo, run_promptctl

from promptctl.errors import ConflictError, IntegrityError, RegistryError
from promptctl.project import load_project, open_project, resolve_source
from promptctl.registry.bundle import bundle_key, decode_bundle, encode_bundle, list_versions, read_bundle, write_bundle
from promptctl.registry.source import BundleSource
from promptctl.registry.stores import LocalStore, open_store
from promptctl.schemas import is_valid

#: The smallest bundle content the schema accepts (every key but version and digest).
BARE_BUNDLE = {"format": "promptctl.bundle/1", "created_at": "2026-01-01T12:00:00Z", "actor": "a", "message": None,
               "git": {"commit": None, "branch": None, "dirty": True}, "prompts": {}, "partials": {}}

PROJECT = {
    "promptctl.yaml": """\
        promptctl: 1
        defaults: {model: openai/gpt-4o-mini, params: {temperature: 0.0, top_p: 0.5, presence_penalty: 1.0e-5}}
        models:
          fast: {model: openai/gpt-4o-mini, params: {max_tokens: 100}}
        """,
    ".gitignore": ".promptctl/registry/\n",
    "prompts/support/reply.prompt.yaml": """\
        description: Reply to a ticket.
        model: fast
        params: {temperature: 0.2}
        inputs:
          ticket: {type: string, maxLength: 8000}
          tone: {type: string, enum: [formal, friendly], default: friendly}
          history: {type: array, default: []}
        messages:
          - role: system
            content: |
              Answer in a {{ tone }} tone.
              {% include "partials/policy.j2" %}
          - history: history
          - role: user
            content: "{{ ticket }}"
        output: {format: json, schema: {type: object, required: [reply], properties: {reply: {type: string}}}}
        samples:
          - {name: refund, inputs: {ticket: "I want a refund for order 123"}}
        tags: [support]
        owners: [team-support]
        """,
    "prompts/summarize.prompt.yaml": """\
        inputs: {text: string, n: {type: integer, default: 3}}
        messages:
          - role: user
            content: "Summarize in {{ n }} bullets, 1e-05 is a number:\\n{{ text }}"
        samples:
          - {name: short, inputs: {text: "Dark mode is here."}}
        """,
    "prompts/partials/policy.j2": "Policy: refunds within 30 days. {# a comment #}\n",
    "prompts/partials/unused.md": "yes\n",
}


def make_project(repo: GitRepo, extra: dict[str, str] | None = None) -> Path:
    """The test project, committed."""
    repo.commit("prompts", {**PROJECT, **(extra or {})})
    return repo.root


@pytest.fixture
def proj(git_repo, git_env) -> Path:
    return make_project(git_repo)


def registry(root: Path) -> LocalStore:
    return LocalStore(root / ".promptctl" / "registry")


# -- the store -----------------------------------------------------------------------------------


def test_local_store_writes_once_and_lists(tmp_path):
    store = LocalStore(tmp_path / "reg")
    assert store.read("bundles/v000001.json") is None and store.list("bundles") == []
    store.create("bundles/v000001.json", b"one")
    with pytest.raises(ConflictError, match="already exists"):
        store.create("bundles/v000001.json", b"two")
    assert store.read("bundles/v000001.json") == b"one"  # the loser changed nothing
    store.replace("channels/p/HEAD.json", b"a")
    store.replace("channels/p/HEAD.json", b"b")
    assert store.read("channels/p/HEAD.json") == b"b"
    (tmp_path / "reg" / "bundles" / ".v000002.json.x.tmp").write_bytes(b"half")
    assert store.list("bundles") == ["v000001.json"]  # temp files are never visible
    assert store.list("") == ["bundles/", "channels/"]
    assert sorted(os.listdir(tmp_path / "reg" / "bundles")) == [".v000002.json.x.tmp", "v000001.json"]


@pytest.mark.parametrize("key", ["../x", "/etc/passwd", "bundles/../../x", "a//b", ""])
def test_store_refuses_keys_that_leave_it(tmp_path, key):
    with pytest.raises(RegistryError, match="invalid registry key"):
        LocalStore(tmp_path).read(key)


@pytest.mark.parametrize(
    "url, message",
    [
        ("s3://", "not an S3 bucket name"),
        ("s3://B/x", "not an S3 bucket name"),
        ("ftp://host/x", "unknown scheme"),
        ("https://cdn.example.com/reg", "read-only"),
        ("file://otherhost/x", "file URLs name a local path"),
        ("", "empty"),
    ],
)
def test_bad_registry_urls_are_clear(url, message):
    with pytest.raises(RegistryError, match=message):
        open_store(url)


def test_registry_urls(tmp_path, monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    assert open_store(".reg", base=tmp_path).root == tmp_path / ".reg"
    assert open_store(f"file://{tmp_path}/r").root == tmp_path / "r"
    s3 = open_store("s3://my-bucket/team/prompts", s3={"endpoint_url": "http://127.0.0.1:9000", "region": "eu-west-1"})
    assert (s3.bucket, s3.prefix, s3.endpoint_url, s3.region) == ("my-bucket", "team/prompts", "http://127.0.0.1:9000", "eu-west-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    assert open_store("s3://my-bucket", s3={"endpoint_url": "http://x"}).endpoint_url == "http://127.0.0.1:1"
    assert open_store("s3://my-bucket").region == "us-east-1"


def test_a_regular_file_is_not_a_registry(tmp_path):
    (tmp_path / "reg").write_text("x")
    with pytest.raises(RegistryError, match="not a folder"):
        LocalStore(tmp_path / "reg").list("bundles")


# -- bundles -------------------------------------------------------------------------------------


def test_bundle_digest_is_over_the_canonical_content(tmp_path):
    import hashlib

    from promptctl.model import canonical_json

    content = {"format": "promptctl.bundle/1", "version": 2, "actor": "a", "created_at": "t", "prompts": {"x": {"digest": "no"}}}
    raw, digest = encode_bundle(content)
    assert digest == "sha256:" + hashlib.sha256(canonical_json(content).encode()).hexdigest()
    assert json.loads(raw)["digest"] == digest and raw == canonical_json({**content, "digest": digest}).encode()
    assert decode_bundle(raw, key="k", version=2)["prompts"] == {"x": {"digest": "no"}}
    with pytest.raises(IntegrityError, match="holds version 2, not 3"):
        decode_bundle(raw, key="k", version=3)
    for i in (5, len(raw) // 2, len(raw) - 3):  # a flipped byte anywhere is refused
        bad = bytearray(raw)
        bad[i] ^= 0x01
        with pytest.raises(IntegrityError) as e:
            decode_bundle(bytes(bad), key="bundles/v000002.json")
        assert e.value.path == "bundles/v000002.json"
    with pytest.raises(IntegrityError, match="not valid JSON"):
        decode_bundle(raw[:-1], key="k")


def test_racing_writers_take_distinct_versions(tmp_path):
    store = LocalStore(tmp_path)
    store.create(bundle_key(1), b"taken by someone else")
    store.create(bundle_key(2), b"and this one")
    version, digest = write_bundle(store, BARE_BUNDLE)
    assert version == 3 and read_bundle(store, 3)["digest"] == digest


# -- publish -------------------------------------------------------------------------------------


def test_publish_writes_a_valid_bundle_tags_the_commit_and_keeps_prompt_hashes(proj, cli):
    r = cli(["publish", "-m", "first"], cwd=proj)
    assert r.code == 0, r.err
    store = registry(proj)
    digest = read_bundle(store, 1)["digest"]
    assert r.out == f"published v1 ({digest})\n"
    assert "tagged prompts/v1 on" in r.err
    raw = store.read("bundles/v000001.json")
    bundle = json.loads(raw)
    assert is_valid(bundle, "bundle")
    head = GitRepo.__new__(GitRepo)
    head.root = proj
    commit = head.git("rev-parse", "HEAD")
    assert bundle["git"] == {"commit": commit, "branch": "main", "dirty": False}
    assert bundle["actor"] == "Ann Author <ann@example.com>" and bundle["message"] == "first"
    assert sorted(bundle["prompts"]) == ["summarize", "support/reply"]
    assert bundle["partials"] == {"partials/policy.j2": PROJECT["prompts/partials/policy.j2"], "partials/unused.md": "yes\n"}
    assert bundle["prompts"]["support/reply"]["includes"] == ["partials/policy.j2"]
    assert bundle["project"]["models"] == {"fast": {"model": "openai/gpt-4o-mini", "params": {"max_tokens": 100}}}
    # the annotated tag names the digest
    assert head.git("rev-parse", "prompts/v1^{commit}") == commit
    assert head.git("cat-file", "-t", "prompts/v1") == "tag"
    assert digest in head.git("tag", "-l", "-n9", "prompts/v1")
    # every prompt keeps the hash it has in the working tree, and in the bundle read back as a project
    work = open_project(proj)
    from_bundle = load_project(BundleSource(bundle, label="v1", name="v1"), proj)
    for name in work.prompt_names():
        assert bundle["prompts"][name]["hash"] == work.get_prompt(name).hash
        assert from_bundle.get_prompt(name).hash == work.get_prompt(name).hash
        for sample in work.get_prompt(name).samples:
            assert from_bundle.render(name, sample.inputs) == work.render(name, sample.inputs)


def test_publish_json_and_identical_tree(proj, cli):
    r = cli(["publish", "--format", "json"], cwd=proj)
    first = json.loads(r.out)
    assert first["published"] and first["version"] == 1 and first["tag"] == "prompts/v1" and not first["dirty"]
    r = cli(["publish"], cwd=proj)
    assert r.code == 0 and r.out == ""
    assert "nothing published: the prompts are identical to v1" in r.err
    assert list_versions(registry(proj)) == [1]
    again = json.loads(cli(["publish", "--format", "json"], cwd=proj).out)
    assert (again["published"], again["identical_to_latest"], again["version"], again["digest"]) == (
        False, True, 1, first["digest"])
    r = cli(["publish", "--force"], cwd=proj)
    assert r.code == 0 and r.out.startswith("published v2 (sha256:")
    assert list_versions(registry(proj)) == [1, 2]


def test_a_change_outside_the_prompts_is_not_dirty_and_identical_prompts_publish_nothing(proj, git_repo, cli):
    assert cli(["publish"], cwd=proj).code == 0
    git_repo.commit("docs", {"README.md": "hello\n"})
    (proj / "notes.txt").write_text("scratch\n")  # uncommitted, but not part of a bundle
    r = cli(["publish"], cwd=proj)
    assert r.code == 0 and "identical to v1" in r.err


def test_publish_refuses_a_dirty_tree(proj, cli):
    (proj / "prompts" / "summarize.prompt.yaml").write_text(
        "messages: [{role: user, content: changed}]\n", encoding="utf-8"
    )
    (proj / "prompts" / "new.prompt.yaml").write_text("messages: [{role: user, content: new}]\n", encoding="utf-8")
    r = cli(["publish"], cwd=proj)
    assert r.code == 2
    assert "uncommitted changes to the prompts: prompts/new.prompt.yaml, prompts/summarize.prompt.yaml" in r.err
    assert "--allow-dirty" in r.err and "Traceback" not in r.err
    assert list_versions(registry(proj)) == []
    r = cli(["publish", "--allow-dirty", "--format", "json"], cwd=proj)
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert out["dirty"] and out["tag"] is None and "not tagged" in out["warnings"][0]
    bundle = read_bundle(registry(proj), 1)
    assert bundle["git"]["dirty"] is True and "new" in bundle["prompts"]
    assert bundle["prompts"]["summarize"]["messages"] == [{"role": "user", "content": "changed"}]


def test_publish_outside_git_needs_allow_dirty(tmp_path, git_env, cli):
    from conftest import write_tree

    root = write_tree(tmp_path / "plain", dict(PROJECT))
    r = cli(["publish"], cwd=root)
    assert r.code == 2 and "not in a git repository" in r.err
    r = cli(["publish", "--allow-dirty"], cwd=root)
    assert r.code == 0 and read_bundle(registry(root), 1)["git"] == {"commit": None, "branch": None, "dirty": True}


def test_publish_refuses_lint_errors(git_repo, git_env, cli):
    root = make_project(git_repo, {"prompts/broken.prompt.yaml": "messages: [{role: user, content: '{{ undeclared }}'}]\n"})
    r = cli(["publish"], cwd=root)
    assert r.code == 1
    assert "lint found" in r.err and "nothing was published" in r.err and "broken.prompt.yaml" in r.err
    assert list_versions(registry(root)) == []


def test_publish_refuses_what_the_bundle_schema_refuses(git_repo, git_env, cli):
    root = make_project(git_repo, {"prompts/my prompt.prompt.yaml": PROJECT["prompts/summarize.prompt.yaml"]})
    r = cli(["publish"], cwd=root)
    assert r.code == 2 and "the bundle would not be valid" in r.err and "'my prompt' does not match" in r.err
    assert list_versions(registry(root)) == []


def test_publish_refuses_a_prompt_without_a_model(git_repo, git_env, cli):
    root = make_project(git_repo, {"promptctl.yaml": "promptctl: 1\nmodels: {fast: openai/gpt-4o-mini}\n"})
    r = cli(["publish"], cwd=root)
    assert r.code == 2 and "prompt 'summarize' has no model, so a bundle could not call it" in r.err
    assert list_versions(registry(root)) == []


# -- versions as names ---------------------------------------------------------------------------


def test_version_and_channel_names_work_in_render_and_diff(proj, git_repo, cli):
    assert cli(["publish"], cwd=proj).code == 0
    git_repo.commit("v2", {"prompts/summarize.prompt.yaml": PROJECT["prompts/summarize.prompt.yaml"].replace("bullets", "points")})
    assert cli(["publish", "--channel", "production"], cwd=proj).code == 0
    v1 = cli(["render", "summarize", "-s", "short", "--ref", "v1"], cwd=proj)
    assert v1.code == 0 and "bullets" in v1.out
    prod = cli(["render", "summarize", "-s", "short", "--ref", "production", "--format", "json"], cwd=proj)
    assert prod.code == 0 and "points" in json.loads(prod.out)["messages"][0]["content"]
    d = cli(["diff", "v1", "v2", "--format", "json"], cwd=proj)
    assert d.code == 0, d.err
    diff = json.loads(d.out)
    assert diff["old"].startswith("v1 (bundle") and [p["name"] for p in diff["prompts"]] == ["summarize"]
    assert cli(["diff", "v2", "production", "--exit-code"], cwd=proj).code == 0  # the same bundle
    # the source behind the names is the bundle, not the tagged commit
    assert type(resolve_source(proj, "v1")).__name__ == "BundleSource"
    assert type(resolve_source(proj, "production")).__name__ == "BundleSource"
    assert type(resolve_source(proj, "main")).__name__ == "GitRevision"


def test_diff_against_a_bundle_leaves_datasets_out(git_repo, git_env, cli):
    root = make_project(git_repo, {"evals/s.eval.yaml": "prompt: summarize\ncases: [{id: a, inputs: {text: x}}]\n"})
    assert cli(["publish", "--channel", "production"], cwd=root).code == 0
    d = cli(["diff", "HEAD", "--format", "json"], cwd=root)
    assert d.code == 0 and json.loads(d.out)["datasets"] == []  # control: nothing changed
    git_repo.write({"evals/s.eval.yaml": "prompt: summarize\ncases: [{id: b, inputs: {text: x}}]\n"})
    assert json.loads(cli(["diff", "--format", "json"], cwd=root).out)["datasets"][0]["cases_added"] == ["b"]
    # bundles hold no datasets: against one, datasets are left out, never reported as "added"
    d = cli(["diff", "production", "--format", "json"], cwd=root)
    assert d.code == 0, d.err
    assert json.loads(d.out)["datasets"] == []


def test_version_names_fall_back_to_git_tags_without_the_registry(proj, cli):
    assert cli(["publish"], cwd=proj).code == 0
    import shutil

    shutil.rmtree(proj / ".promptctl" / "registry")  # a fresh clone: tags, but no local registry
    r = cli(["render", "summarize", "-s", "short", "--ref", "v1"], cwd=proj)
    assert r.code == 0 and "bullets" in r.out
    assert type(resolve_source(proj, "v1")).__name__ == "GitRevision"


def test_unknown_versions_and_channels_are_clear_errors(proj, cli):
    assert cli(["publish", "--channel", "production"], cwd=proj).code == 0
    r = cli(["render", "summarize", "--ref", "v7"], cwd=proj)
    assert r.code == 2 and "no published version 'v7'" in r.err and "has no v7" in r.err
    r = cli(["render", "summarize", "--ref", "prodution"], cwd=proj)
    assert r.code == 2 and "did you mean the channel 'production'?" in r.err
    r = cli(["show", "v7"], cwd=proj)
    assert r.code == 2 and "no version v7" in r.err and "'v1'" in r.err
    r = cli(["show", "prodution"], cwd=proj)
    assert r.code == 2 and "no channel named 'prodution'" in r.err and "did you mean 'production'?" in r.err
    r = cli(["history", "staging"], cwd=proj)
    assert r.code == 2 and "no channel named 'staging'" in r.err and "channels: production" in r.err
    r = cli(["show", "v1", "sumarize"], cwd=proj)
    assert r.code == 2 and "did you mean 'summarize'?" in r.err
    for err in (r.err,):
        assert "Traceback" not in err


def test_show_versions_and_json(proj, git_repo, cli):
    assert cli(["publish", "-m", "first"], cwd=proj).code == 0
    git_repo.commit("v2", {"prompts/summarize.prompt.yaml": PROJECT["prompts/summarize.prompt.yaml"].replace("bullets", "points")})
    assert cli(["publish", "--channel", "production"], cwd=proj).code == 0
    r = cli(["versions"], cwd=proj)
    lines = r.out.splitlines()
    assert r.code == 0 and lines[0].startswith("v2 ") and "[production]" in lines[0] and lines[1].startswith("v1 ")
    assert '"first"' in lines[1] and "Ann Author" in lines[1]
    rows = json.loads(cli(["versions", "--format", "json"], cwd=proj).out)
    assert [(r["version"], r["channels"], r["message"]) for r in rows] == [(2, ["production"], None), (1, [], "first")]
    r = cli(["show", "production"], cwd=proj)
    assert r.code == 0 and r.out.startswith("v2  sha256:") and "channel   production (record 1" in r.out
    assert "support/reply" in r.out and "fast" in r.out
    rows = [line for line in r.out.splitlines() if line.startswith("  ")]  # the prompts: columns aligned
    assert len(rows) == 2
    from promptctl.registry.formats import format_bundle

    bundle = {"version": 3, "digest": "sha256:" + "a" * 64, "created_at": "2026-12-01T10:00:00Z", "actor": "Ann",
              "git": {}, "prompts": {
                  "a": {"hash": "sha256:" + "1" * 64, "model": "openai/gpt-4o-mini", "description": "First.\nMore."},
                  "support/reply": {"hash": "sha256:" + "2" * 64, "model": "fast", "description": "Second."}}}
    rows = [line for line in format_bundle({"bundle": bundle, "channel": None}).splitlines() if line.startswith("  ")]
    assert [line.index(word) for line, word in zip(rows, ("openai/", "fast"), strict=True)] == [26, 26], rows
    assert [line.index(word) for line, word in zip(rows, ("First.", "Second."), strict=True)] == [46, 46], rows
    assert "More." not in "\n".join(rows)  # a description's first line only
    bundle = json.loads(cli(["show", "v1", "--format", "json"], cwd=proj).out)
    assert bundle == read_bundle(registry(proj), 1)
    one = json.loads(cli(["show", "v2", "support/reply", "--format", "json"], cwd=proj).out)
    assert one["ref"].startswith("support/reply@v2:") and one["partials"] == {"partials/policy.j2": PROJECT["prompts/partials/policy.j2"]}
    text = cli(["show", "production", "support/reply"], cwd=proj).out
    assert "[system]" in text and "{% include \"partials/policy.j2\" %}" in text and "ticket (string, required)" in text


def test_registry_option_works_without_a_project(proj, cli, tmp_path):
    assert cli(["publish", "--channel", "production"], cwd=proj).code == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    url = str(proj / ".promptctl" / "registry")
    r = cli(["history", "production", "--registry", url], cwd=elsewhere)
    assert r.code == 0 and "promote" in r.out
    r = cli(["versions"], cwd=elsewhere)
    assert r.code == 2 and "--registry" in r.err


def test_every_reader_refuses_a_flipped_byte_in_a_bundle(proj, cli):
    assert cli(["publish", "--channel", "production"], cwd=proj).code == 0
    path = proj / ".promptctl" / "registry" / "bundles" / "v000001.json"
    raw = path.read_bytes()
    i = raw.index(b"refunds within")
    path.write_bytes(raw[:i] + b"R" + raw[i + 1:])
    r = cli(["verify"], cwd=proj)
    assert r.code == 1 and r.out.startswith("corrupt: bundles/v000001.json: digest mismatch")
    for args in (["show", "v1"], ["show", "production"], ["versions"], ["render", "summarize", "--ref", "v1"],
                 ["render", "summarize", "--ref", "production"], ["promote", "v1", "staging"], ["diff", "v1"]):
        r = cli(args, cwd=proj)
        assert r.code == 1, (args, r.err)
        assert "bundles/v000001.json" in r.err and "digest mismatch" in r.err and "Traceback" not in r.err, args


def test_verify_reports_a_missing_bundle(proj, cli):
    for _ in range(3):
        assert cli(["publish", "--force"], cwd=proj).code == 0
    (proj / ".promptctl" / "registry" / "bundles" / "v000002.json").unlink()
    r = cli(["verify", "--format", "json"], cwd=proj)
    assert r.code == 1
    assert json.loads(r.out)["problems"] == [{"object": "bundles/v000002.json", "kind": "missing",
                                              "message": "v2 is missing (v3 exists)"}]


# -- crashes and races ---------------------------------------------------------------------------

KILLED_PUBLISH = """\
import os, signal, sys
real_link = os.link
def link_then_die(src, dst, *a, **k):
    if "bundles" in str(dst):
        os.kill(os.getpid(), signal.SIGKILL)  # killed between writing the temp file and linking it
    return real_link(src, dst, *a, **k)
os.link = link_then_die
from promptctl.cli import main
main(["publish"])
"""


def test_a_publish_killed_before_linking_leaves_no_bundle(proj, cli):
    p = subprocess.run([sys.executable, "-c", KILLED_PUBLISH], cwd=proj, capture_output=True, text=True,
                       env={**os.environ, **GIT_ENV})
    assert p.returncode == -9, p.stderr
    bundles = proj / ".promptctl" / "registry" / "bundles"
    leftovers = os.listdir(bundles)
    assert len(leftovers) == 1 and leftovers[0].startswith(".v000001.json.")  # the temp file got written
    assert json.loads((bundles / leftovers[0]).read_bytes())["version"] == 1
    assert registry(proj).list("bundles") == [] and list_versions(registry(proj)) == []
    assert cli(["verify"], cwd=proj).code == 0
    r = cli(["publish"], cwd=proj)
    assert r.code == 0 and r.out.startswith("published v1 ")


PUBLISHER = """\
import json, os, sys, time
from promptctl.registry.bundle import write_bundle
from promptctl.registry.stores import open_store
store = open_store(sys.argv[1])
me = sys.argv[2]
open(os.path.join(sys.argv[3], me), "w").close()
while not os.path.exists(os.path.join(sys.argv[3], "go")):
    time.sleep(0.001)
version, digest = write_bundle(store, {"format": "promptctl.bundle/1", "created_at": "2026-01-01T12:00:00Z",
                                       "actor": me, "message": None,
                                       "git": {"commit": None, "branch": None, "dirty": True},
                                       "prompts": {}, "partials": {}})
print(json.dumps({"me": me, "version": version, "digest": digest}))
"""


def race(tmp_path: Path, script: str, args: list[str], n: int = 8, env: dict[str, str] | None = None) -> list[str]:
    """Start ``n`` processes running ``script``, release them at once, and return their stdout."""
    gate = tmp_path / "gate"
    gate.mkdir()
    procs = [
        subprocess.Popen([sys.executable, "-c", script, *args, f"p{i}", str(gate)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
        for i in range(n)
    ]
    deadline = time.monotonic() + 30
    while len(os.listdir(gate)) < n and time.monotonic() < deadline:
        time.sleep(0.01)
    (gate / "go").touch()
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        outs.append(out)
    return outs


def check_publish_race(store, outs: list[str]) -> None:
    results = [json.loads(o) for o in outs]
    assert sorted(r["version"] for r in results) == list(range(1, 9))  # 8 distinct versions
    assert list_versions(store) == list(range(1, 9))
    for r in results:  # nothing lost: each bundle is the one its publisher wrote
        bundle = read_bundle(store, r["version"])
        assert (bundle["actor"], bundle["digest"]) == (r["me"], r["digest"])
    from promptctl.registry.verify import verify_registry

    assert verify_registry(store).ok


def test_eight_processes_publishing_at_once_get_eight_versions(tmp_path):
    store = LocalStore(tmp_path / "reg")
    check_publish_race(store, race(tmp_path, PUBLISHER, [str(tmp_path / "reg")]))


def test_eight_publish_commands_at_once(proj, git_repo):
    procs = [
        subprocess.Popen([sys.executable, "-m", "promptctl", "publish", "--force", "--format", "json", "-m", f"p{i}"],
                         cwd=proj, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env={**os.environ, **GIT_ENV})
        for i in range(8)
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        results.append(json.loads(out))
    assert sorted(r["version"] for r in results) == list(range(1, 9))
    store = registry(proj)
    for i, r in enumerate(results):  # nothing lost: each version holds its own publisher's message
        bundle = read_bundle(store, r["version"])
        assert (bundle["message"], bundle["digest"], r["tag"]) == (f"p{i}", r["digest"], f"prompts/v{r['version']}")
    assert sorted(git_repo.git("tag", "-l").split()) == sorted(f"prompts/v{i}" for i in range(1, 9))
    assert run_promptctl(["verify"], cwd=proj).returncode == 0


# -- what the runtime may import -------------------------------------------------------------------


def test_bundle_and_store_reading_import_only_the_standard_library():
    code = textwrap.dedent("""\
        import sys
        import promptctl.registry.bundle, promptctl.registry.stores, promptctl.registry.channels
        heavy = ("yaml", "jsonschema", "fastjsonschema", "git", "typer", "click", "rich", "litellm", "boto3", "jinja2")
        print(sorted(m for m in sys.modules if m.split(".")[0] in heavy))
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
