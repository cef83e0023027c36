"""The registry on S3: a real S3 endpoint (moto's server) on 127.0.0.1, started by these tests.

Credentials are dummies set in the test environment only. moto answers If-None-Match: * with
412 (moto >= 5.2.1), but checks and writes in two steps; real S3 does both at once, so the
server's PutObject handler is serialized here to give the same guarantee under races.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import uuid
from pathlib import Path

import pytest
from conftest import GitRepo
from test_channels import MOVER, check_mover_race
from test_registry import BARE_BUNDLE, PROJECT, PUBLISHER, check_publish_race, make_project, race

from promptctl.errors import ConflictError, IntegrityError, RegistryError
from promptctl.registry.bundle import list_versions, read_bundle, write_bundle
from promptctl.registry.channels import append_record, read_records
from promptctl.registry.stores import S3Store, open_store

pytest.importorskip("boto3")
pytest.importorskip("moto")

CREDS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
         "AWS_EC2_METADATA_DISABLED": "true"}


@pytest.fixture(scope="module")
def endpoint():
    """moto's S3 server on 127.0.0.1 (a free port), for this module."""
    from moto.s3.responses import S3Response
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    original = S3Response.put_object
    lock = threading.Lock()

    def atomic_put_object(self, *args, **kwargs):
        with lock:
            return original(self, *args, **kwargs)

    S3Response.put_object = atomic_put_object
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        S3Response.put_object = original


@pytest.fixture
def s3(endpoint, monkeypatch):
    """A fresh bucket; the environment (test-only) that reaches it. Yields (bucket, env)."""
    import boto3

    env = {**CREDS, "AWS_ENDPOINT_URL": endpoint}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "AWS_REGION", "PROMPTCTL_REGISTRY"):
        monkeypatch.delenv(key, raising=False)
    bucket = f"prompts-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    return bucket, env


def put_raw(endpoint: str, bucket: str, key: str, data: bytes) -> None:
    import boto3

    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").put_object(Bucket=bucket, Key=key, Body=data)


def get_raw(endpoint: str, bucket: str, key: str) -> bytes:
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    return client.get_object(Bucket=bucket, Key=key)["Body"].read()


@pytest.fixture
def s3_project(git_repo: GitRepo, git_env, s3) -> Path:
    bucket, _ = s3
    config = PROJECT["promptctl.yaml"].rstrip(" ") + f"        registry: s3://{bucket}/team/prompts\n"
    return make_project(git_repo, {"promptctl.yaml": config})


def test_s3_store_writes_once_with_if_none_match(s3):
    bucket, _ = s3
    store = open_store(f"s3://{bucket}/reg")
    assert isinstance(store, S3Store) and store.read("bundles/v000001.json") is None and store.list("bundles") == []
    store.create("bundles/v000001.json", b"one")
    with pytest.raises(ConflictError, match="already exists"):
        store.create("bundles/v000001.json", b"two")  # 412 Precondition Failed
    assert store.read("bundles/v000001.json") == b"one"
    store.replace("channels/p/HEAD.json", b"a")
    store.replace("channels/p/HEAD.json", b"b")
    assert store.read("channels/p/HEAD.json") == b"b"
    assert store.list("bundles") == ["v000001.json"] and store.list("channels") == ["p/"] and store.list("") == [
        "bundles/", "channels/"]
    assert open_store(f"s3://{bucket}/other").list("bundles") == []  # prefixes keep registries apart


def test_publish_and_channels_on_s3(s3_project, git_repo, s3, endpoint, cli):
    bucket, _ = s3
    r = cli(["publish", "-m", "first", "--channel", "production"], cwd=s3_project)
    assert r.code == 0, r.err
    assert r.out.startswith("published v1 (sha256:") and "production: (new) -> v1" in r.out
    raw = get_raw(endpoint, bucket, "team/prompts/bundles/v000001.json")
    assert json.loads(raw)["message"] == "first"
    assert git_repo.git("cat-file", "-t", "prompts/v1") == "tag"
    git_repo.commit("v2", {"prompts/summarize.prompt.yaml": PROJECT["prompts/summarize.prompt.yaml"].replace("bullets", "points")})
    assert cli(["publish"], cwd=s3_project).out.startswith("published v2 ")
    assert "identical to v2" in cli(["publish"], cwd=s3_project).err
    assert cli(["promote", "v2", "production", "-m", "ship"], cwd=s3_project).out == \
        "production: v1 -> v2 (promote, record 2)\n"
    prod = cli(["render", "summarize", "-s", "short", "--ref", "production"], cwd=s3_project)
    assert prod.code == 0 and "points" in prod.out
    d = json.loads(cli(["diff", "v1", "v2", "--format", "json"], cwd=s3_project).out)
    assert [p["name"] for p in d["prompts"]] == ["summarize"]
    r = cli(["rollback", "production", "-m", "bad"], cwd=s3_project)
    assert r.out == "production: v2 -> v1 (rollback, record 3, on hold)\n"
    assert cli(["promote", "v2", "production"], cwd=s3_project).code == 2
    assert cli(["release", "production"], cwd=s3_project).out == "production: released, serving v1 (record 4)\n"
    history = json.loads(cli(["history", "production", "--format", "json"], cwd=s3_project).out)
    assert [(h["seq"], h["action"], h["version"], h["held"]) for h in history] == [
        (4, "release", 1, False), (3, "rollback", 1, True), (2, "promote", 2, False), (1, "promote", 1, False)]
    assert get_raw(endpoint, bucket, "team/prompts/channels/production/HEAD.json") == get_raw(
        endpoint, bucket, "team/prompts/channels/production/000004.json")
    rows = json.loads(cli(["versions", "--format", "json"], cwd=s3_project).out)
    assert [(x["version"], x["channels"]) for x in rows] == [(2, []), (1, ["production"])]
    r = cli(["verify"], cwd=s3_project)
    assert r.code == 0 and "ok: 2 bundles, 1 channel (4 records)" in r.err


def test_damage_on_s3_is_found_and_refused(s3_project, s3, endpoint, cli):
    bucket, _ = s3
    assert cli(["publish", "--channel", "production"], cwd=s3_project).code == 0
    assert cli(["promote", "v1", "staging", "-m", "one"], cwd=s3_project).code == 0
    key = "team/prompts/bundles/v000001.json"
    raw = bytearray(get_raw(endpoint, bucket, key))
    raw[raw.index(b"refunds")] ^= 0x20  # one flipped bit: 'r' -> 'R'
    put_raw(endpoint, bucket, key, bytes(raw))
    r = cli(["verify"], cwd=s3_project)
    assert r.code == 1 and "corrupt: bundles/v000001.json: digest mismatch" in r.out
    for args in (["show", "production"], ["render", "summarize", "--ref", "v1"], ["versions"]):
        r = cli(args, cwd=s3_project)
        assert r.code == 1 and "bundles/v000001.json" in r.err and "Traceback" not in r.err, args


def test_a_flipped_record_on_s3_is_refused(s3_project, s3, endpoint, cli):
    bucket, _ = s3
    assert cli(["publish", "--channel", "production", "-m", "x"], cwd=s3_project).code == 0
    assert cli(["promote", "v1", "production", "--force", "-m", "again"], cwd=s3_project).code == 0
    key = "team/prompts/channels/production/000001.json"
    put_raw(endpoint, bucket, key, get_raw(endpoint, bucket, key).replace(b'"reason":"x"', b'"reason":"y"'))
    r = cli(["verify"], cwd=s3_project)
    assert r.code == 1 and "channels/production/000002.json: hash chain broken" in r.out
    r = cli(["history", "production"], cwd=s3_project)
    assert r.code == 1 and "hash chain broken" in r.err


def test_eight_processes_publishing_at_once_on_s3(s3, tmp_path):
    bucket, env = s3
    url = f"s3://{bucket}/race"
    check_publish_race(open_store(url), race(tmp_path, PUBLISHER, [url], env=env))


@pytest.mark.parametrize("mode", ["once", "retry"])
def test_eight_processes_moving_one_channel_on_s3(s3, tmp_path, mode):
    bucket, env = s3
    url = f"s3://{bucket}/team/prompts"
    store = open_store(url)
    for _ in range(3):
        write_bundle(store, BARE_BUNDLE)
    append_record(store, "production", [], version=1, digest=read_bundle(store, 1)["digest"], action="promote",
                  actor="a", reason=None, held=False)
    outs = race(tmp_path, MOVER, [url, mode], env=env)
    check_mover_race(store, outs, retry=mode == "retry", before=1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_s3_endpoint_that_is_down_is_a_clear_error(s3_project, monkeypatch, cli):
    assert cli(["publish", "--channel", "production"], cwd=s3_project).code == 0
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    for args in (["versions"], ["history", "production"], ["promote", "v1", "staging"], ["rollback", "production"],
                 ["verify"], ["publish", "--force"]):
        r = cli(args, cwd=s3_project)
        assert r.code == 2, (args, r.err)
        assert r.err.startswith("error: cannot reach the S3 registry s3://") and r.err.count("\n") == 1, r.err
        assert "Traceback" not in r.err
    # a version name still resolves, through its git tag; a channel name says why it cannot
    r = cli(["render", "summarize", "-s", "short", "--ref", "v1"], cwd=s3_project)
    assert r.code == 0 and "bullets" in r.out
    r = cli(["render", "summarize", "--ref", "production"], cwd=s3_project)
    assert r.code == 2 and "unknown revision 'production'" in r.err and "cannot reach the S3 registry" in r.err


def test_missing_bucket_and_missing_credentials_are_clear(s3, monkeypatch, tmp_path):
    with pytest.raises(RegistryError, match="the bucket 'no-such-bucket-x' does not exist"):
        open_store("s3://no-such-bucket-x/p").list("bundles")
    bucket, _ = s3
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(RegistryError, match="no AWS credentials") as e:
        open_store(f"s3://{bucket}/p").read("bundles/v000001.json")
    assert "AWS_ACCESS_KEY_ID" in (e.value.hint or "")


def test_integrity_errors_name_the_object_on_s3(s3, endpoint):
    bucket, _ = s3
    put_raw(endpoint, bucket, "r/bundles/v000001.json", b'{"format":"promptctl.bundle/1"}')
    store = open_store(f"s3://{bucket}/r")
    assert list_versions(store) == [1]
    with pytest.raises(IntegrityError) as e:
        read_bundle(store, 1)
    assert e.value.path == "bundles/v000001.json" and "no valid digest" in e.value.message
    put_raw(endpoint, bucket, "r/channels/c/000001.json", b"[]")
    with pytest.raises(IntegrityError, match="not a channel record"):
        read_records(store, "c")
