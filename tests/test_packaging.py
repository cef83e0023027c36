"""The built wheel and sdist: schemas, example project and entry point ship, and work when installed.

Builds with the hatchling already in the environment (no build isolation, no network).
"""

from __future__ import annotations

import configparser
import importlib.util
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCHEMA_NAMES = ("project", "prompt", "dataset", "bundle", "channel-record")
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("hatchling") is None,
    reason="hatchling is not installed in this environment (pip install -e '.[dev]'); cannot build offline",
)

PIP_ENV = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1", "PIP_NO_INDEX": "1"}


def pip(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    p = subprocess.run(
        [sys.executable, "-m", "pip", *args], cwd=cwd, capture_output=True, text=True, env=PIP_ENV
    )
    assert p.returncode == 0, f"pip {' '.join(args)} failed:\n{p.stdout}\n{p.stderr}"
    return p


def example_sources() -> set[str]:
    root = REPO / "promptctl" / "example"
    return {
        p.relative_to(REPO).as_posix()
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    if importlib.util.find_spec("pip") is None:
        pytest.skip("pip is not installed in this environment")
    out = tmp_path_factory.mktemp("wheel")
    pip("wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(REPO), cwd=out)
    wheels = sorted(out.glob("promptctl-*.whl"))
    assert len(wheels) == 1, sorted(p.name for p in out.iterdir())
    return wheels[0]


@pytest.fixture(scope="module")
def wheel_names(wheel) -> set[str]:
    with zipfile.ZipFile(wheel) as z:
        return set(z.namelist())


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """The wheel installed (not editable) into a plain folder."""
    target = tmp_path_factory.mktemp("target")
    pip("install", "--no-deps", "-q", "--target", str(target), str(wheel), cwd=target)
    return target


def run_installed(target: Path, args: list[str], cwd: Path, **kwargs) -> subprocess.CompletedProcess[str]:
    """Run Python with only the installed copy of promptctl importable (cwd is not the repository)."""
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("PROMPTCTL_PROJECT", None)
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, env=env, **kwargs)


# -- the wheel's contents ------------------------------------------------------------------------


def test_wheel_ships_all_five_schemas(wheel, wheel_names):
    expected = {f"promptctl/schemas/{n}.schema.json" for n in SCHEMA_NAMES}
    assert expected <= wheel_names
    with zipfile.ZipFile(wheel) as z:
        for n in SCHEMA_NAMES:
            data = z.read(f"promptctl/schemas/{n}.schema.json")
            assert data == (REPO / "schemas" / f"{n}.schema.json").read_bytes()
            assert json.loads(data)["$schema"] == DRAFT_2020_12


def test_wheel_ships_the_example_project(wheel_names):
    sources = example_sources()
    assert sources, "promptctl/example/ is empty"
    assert sources <= wheel_names, sorted(sources - wheel_names)
    # The dot-files are stored under plain names (packaging tools skip or misread dot-files).
    assert "promptctl/example/gitignore" in wheel_names
    assert "promptctl/example/vscode/settings.json" in wheel_names
    assert "promptctl/example/promptctl.yaml" in wheel_names


def test_wheel_holds_only_the_package(wheel_names):
    outside = {n for n in wheel_names if not n.startswith(("promptctl/", "promptctl-"))}
    assert outside == set()
    assert not [n for n in wheel_names if n.endswith(".pyc") or "__pycache__" in n]
    assert "promptctl/__main__.py" in wheel_names
    assert "promptctl/cli/__init__.py" in wheel_names


def test_wheel_entry_point(wheel, wheel_names):
    (name,) = [n for n in wheel_names if n.endswith(".dist-info/entry_points.txt")]
    parser = configparser.ConfigParser()
    with zipfile.ZipFile(wheel) as z:
        parser.read_string(z.read(name).decode("utf-8"))
    assert dict(parser["console_scripts"]) == {"promptctl": "promptctl.cli:entry"}


def test_wheel_metadata(wheel, wheel_names):
    import promptctl

    (name,) = [n for n in wheel_names if n.endswith(".dist-info/METADATA")]
    with zipfile.ZipFile(wheel) as z:
        meta = Parser().parsestr(z.read(name).decode("utf-8"))
    assert meta["Name"] == "promptctl"
    assert meta["Version"] == promptctl.__version__
    requires = meta.get_all("Requires-Dist") or []
    core = [r for r in requires if "extra ==" not in r]
    assert not [r for r in core if r.lower().startswith(("litellm", "boto3"))], core
    litellm = [r for r in requires if r.lower().startswith("litellm")]
    assert litellm, "the eval extra must require litellm"
    for r in litellm:  # the two compromised releases stay excluded
        assert "!=1.82.7" in r and "!=1.82.8" in r, r


# -- the installed wheel -------------------------------------------------------------------------


def test_installed_wheel_finds_its_own_schemas(installed, tmp_path):
    code = (
        "import json, promptctl, promptctl.schemas as s\n"
        "print(json.dumps({'file': promptctl.__file__, 'dir': str(s.schema_dir()),\n"
        "  'schemas': {n: s.load_schema(n)['$schema'] for n in s.NAMES}}))\n"
    )
    p = run_installed(installed, ["-c", code], cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    found = json.loads(p.stdout)
    target = installed.resolve()
    assert Path(found["file"]).resolve().is_relative_to(target), found["file"]
    assert Path(found["dir"]).resolve() == target / "promptctl" / "schemas"
    assert found["schemas"] == dict.fromkeys(SCHEMA_NAMES, DRAFT_2020_12)


def test_installed_wheel_init_render_and_schema(installed, tmp_path):
    p = run_installed(installed, ["-m", "promptctl", "init", "demo"], cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    demo = tmp_path / "demo"
    for rel in [".gitignore", ".vscode/settings.json", "promptctl.yaml", ".promptctl/schemas/prompt.schema.json"]:
        assert (demo / rel).is_file(), rel
    assert not (demo / "gitignore").exists()

    p = run_installed(
        installed, ["-m", "promptctl", "render", "support/reply", "--sample", "refund", "--format", "json"], cwd=demo
    )
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["prompt"] == "support/reply"

    p = run_installed(installed, ["-m", "promptctl", "schema", "--format", "json"], cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)
    assert [r["name"] for r in rows] == list(SCHEMA_NAMES)
    for row in rows:
        assert Path(row["path"]).resolve().is_relative_to(installed.resolve()), row["path"]


@pytest.mark.skipif(os.name == "nt", reason="console scripts are .exe launchers on Windows")
def test_installed_console_script_runs_promptctl_cli_entry(installed, tmp_path):
    script = installed / "bin" / "promptctl"
    assert script.is_file(), sorted(p.name for p in installed.iterdir())
    text = script.read_text("utf-8")
    assert "from promptctl.cli import entry" in text
    p = run_installed(installed, [str(script), "--version"], cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("promptctl ")


# -- the sdist ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sdist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sdist")
    p = subprocess.run(
        [sys.executable, "-c", "import sys; from hatchling.build import build_sdist; print(build_sdist(sys.argv[1]))",
         str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0, p.stderr
    return out / p.stdout.strip().splitlines()[-1]


def test_sdist_holds_schemas_and_example_and_builds_a_complete_wheel(sdist, tmp_path):
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
        top = sdist.name[: -len(".tar.gz")]
        if hasattr(tarfile, "data_filter"):
            tar.extractall(tmp_path, filter="data")
        else:  # pragma: no cover - Python without extraction filters
            tar.extractall(tmp_path)
    assert {f"schemas/{n}.schema.json" for n in SCHEMA_NAMES} <= names
    assert example_sources() <= names
    assert "pyproject.toml" in names
    # the README and the docs pages it links to (tests/test_docs.py checks them in the sdist too)
    assert {"README.md"} | {f"docs/{p.name}" for p in (REPO / "docs").glob("*.md")} <= names

    out = tmp_path / "wheel"
    pip("wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(tmp_path / top), cwd=tmp_path)
    (whl,) = out.glob("promptctl-*.whl")
    with zipfile.ZipFile(whl) as z:
        wheel_names = set(z.namelist())
    assert {f"promptctl/schemas/{n}.schema.json" for n in SCHEMA_NAMES} <= wheel_names
    assert example_sources() <= wheel_names
