"""Publish and verify a generated 1,000-prompt project, on a local registry (and S3 via moto with --s3).

Builds the project in a temporary git repository, then times `promptctl publish` and
`promptctl verify` as subprocesses (what a user waits for), the phases of publishing in-process
(lint, build, the round-trip check, writing), and reading one bundle back with its digest checked
(what the runtime does on every load).

    python benchmarks/registry.py [--prompts 1000] [--s3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from diff import ENV, git, write  # noqa: E402  (the same generated project as the diff benchmark)


def timed(label: str, fn, *, repeat: int = 1):  # type: ignore[no-untyped-def]
    best = float("inf")
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    print(f"{label:<44} {best * 1000:8.1f} ms")
    return result


def cli(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "promptctl", *args], cwd=root, capture_output=True, text=True,
                          check=True, env=env or ENV)


def phases(root: Path) -> None:
    """The phases of publish, in-process, on the committed project."""
    from promptctl.project import load_project
    from promptctl.registry.publish import build_content, check_hashes, check_lint
    from promptctl.sources import open_git_revision

    source = open_git_revision(root, "HEAD")
    project = timed("  load the project from git", lambda: load_project(source, root))
    timed("  lint (the publish gate)", lambda: check_lint(root, source, project))
    fresh = load_project(open_git_revision(root, "HEAD"), root)
    content = timed("  build the bundle content", lambda: build_content(fresh))
    timed("  prompt hashes recomputed from the bundle", lambda: check_hashes(content))
    from promptctl.registry.source import BundleSource

    bundle = {**content, "version": 1}
    timed("  load every prompt back through BundleSource",
          lambda: load_project(BundleSource(bundle, label="v1", name="v1"), root).prompts())


def bench(root: Path, label: str, env: dict[str, str]) -> None:
    from promptctl.registry.bundle import bundle_key, decode_bundle, list_versions
    from promptctl.registry.resolve import open_registry
    from promptctl.registry.verify import verify_registry

    print(f"-- {label}")
    timed("promptctl publish (subprocess)", lambda: cli(root, "publish", "-m", "bench", env=env))
    timed("promptctl publish --force (subprocess)", lambda: cli(root, "publish", "--force", env=env))
    timed("promptctl promote v2 production", lambda: cli(root, "promote", "v2", "production", env=env))
    timed("promptctl verify (subprocess, 2 bundles)", lambda: cli(root, "verify", env=env))
    store = open_registry(root).store
    timed("verify_registry in-process (2 bundles)", lambda: verify_registry(store), repeat=3)
    raw = store.read(bundle_key(list_versions(store)[-1]))
    print(f"{'bundle size':<44} {len(raw) / 1e6:8.2f} MB")
    timed("read + digest-verify one bundle (runtime path)", lambda: decode_bundle(store.read(bundle_key(2)), key="b"),
          repeat=5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=1000)
    parser.add_argument("--s3", action="store_true", help="also publish to S3 (a moto server on 127.0.0.1)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "promptctl.yaml").write_text("promptctl: 1\ndefaults: {model: openai/gpt-4o-mini}\n")
        (root / ".gitignore").write_text(".promptctl/registry/\n")
        git(root, "init", "-q")
        write(root, args.prompts, set(), 0)
        git(root, "add", "-A")
        git(root, "commit", "-qm", "one")
        print(f"prompts: {args.prompts}")
        print("-- publish phases (in-process)")
        phases(root)
        bench(root, "local registry", ENV)
        if args.s3:
            bench_s3(root)


def bench_s3(root: Path) -> None:
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        env = {**ENV, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
               "AWS_ENDPOINT_URL": f"http://{host}:{port}", "PROMPTCTL_REGISTRY": "s3://bench-prompts/reg"}
        os.environ.update({k: v for k, v in env.items() if k.startswith(("AWS_", "PROMPTCTL_"))})
        boto3.client("s3").create_bucket(Bucket="bench-prompts")
        git(root, "tag", "-d", "prompts/v1")
        git(root, "tag", "-d", "prompts/v2")
        bench(root, "S3 registry (moto server on 127.0.0.1)", env)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
