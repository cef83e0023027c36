"""``promptctl init``: the example project it writes, and that it never overwrites anything."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

import promptctl
from promptctl.project import open_project
from promptctl.scaffold import scaffold_files
from promptctl.schemas import NAMES, load_schema

SCAFFOLD = sorted(scaffold_files())
SCHEMA_DRAFT = "https://json-schema.org/draft/2020-12/schema"


def snapshot(root: Path) -> dict[str, object]:
    """Everything under ``root``: files (bytes), folders, and symlinks (their targets)."""
    tree: dict[str, object] = {}
    if not os.path.lexists(root):
        return tree
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                tree[rel] = ("symlink", os.readlink(path))
            elif path.is_dir():
                tree[rel] = "dir"
            else:
                tree[rel] = path.read_bytes()
    return tree


def files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def demo(tmp_path: Path, cli) -> Path:
    """A project made by ``promptctl init`` (through the real entry point)."""
    target = tmp_path / "demo"
    r = cli(["init", str(target)], cwd=tmp_path)
    assert r.code == 0, r.err
    return target


# -- what init writes -------------------------------------------------------------------------


def test_init_writes_the_example_project_and_lists_it_on_stdout(tmp_path, cli):
    target = tmp_path / "demo"
    r = cli(["init", str(target)], cwd=tmp_path)
    assert r.code == 0, r.err

    on_disk = files_under(target)
    # The configuration, editor support and the five schemas.
    for rel in ["promptctl.yaml", ".gitignore", ".vscode/settings.json"]:
        assert rel in on_disk
    assert {f".promptctl/schemas/{n}.schema.json" for n in NAMES} <= on_disk
    # Two prompts, at least one partial, datasets with a JSONL case file.
    assert sorted(r for r in on_disk if r.endswith(".prompt.yaml")) == [
        "prompts/summarize.prompt.yaml",
        "prompts/support/reply.prompt.yaml",
    ]
    assert any(r.startswith("prompts/partials/") for r in on_disk)
    assert any(r.endswith(".eval.yaml") for r in on_disk)
    # Exactly the scaffold: nothing more, nothing less.
    assert on_disk == set(SCAFFOLD)

    # stdout is data: one written path per line, nothing else.
    listed = r.out.splitlines()
    assert len(listed) == len(SCAFFOLD)
    assert {Path(p).resolve() for p in listed} == {(target / rel).resolve() for rel in SCAFFOLD}
    # Notes go to stderr, never stdout.
    assert "created a promptctl project" in r.err
    assert f"({len(SCAFFOLD)} files)" in r.err
    assert "created" not in r.out and "next:" not in r.out


def test_scaffolded_files_equal_the_packaged_sources(demo):
    example = Path(promptctl.__file__).parent / "example"
    assert (demo / ".gitignore").read_bytes() == (example / "gitignore").read_bytes()
    assert (demo / ".vscode/settings.json").read_bytes() == (example / "vscode/settings.json").read_bytes()
    assert not (demo / "gitignore").exists() and not (demo / "vscode").exists()
    for name in NAMES:
        assert json.loads((demo / f".promptctl/schemas/{name}.schema.json").read_text("utf-8")) == load_schema(name)


def test_the_example_ships_recordings_so_replay_passes_with_no_key(demo, cli, monkeypatch):
    example = Path(promptctl.__file__).parent / "example"
    shipped = sorted(p.relative_to(example / "recordings").as_posix() for p in (example / "recordings").rglob("*.jsonl"))
    assert shipped == ["summarize.jsonl", "support/reply.jsonl"]
    for rel in shipped:  # every recording lands under .promptctl/recordings, none at the top
        assert (demo / ".promptctl/recordings" / rel).read_bytes() == (example / "recordings" / rel).read_bytes()
    assert not (demo / "recordings").exists()
    for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(key, raising=False)
    r = cli(["test", "--mode", "replay", "--format", "json"], cwd=demo)
    assert r.code == 0, r.err
    report = json.loads(r.out)
    assert report["ok"] and report["summary"]["cases"] == 5 and report["summary"]["live_calls"] == 0
    assert all(d["pass_rate"] == 1.0 for d in report["datasets"])


def test_the_next_step_that_init_suggests_works(tmp_path, cli):
    target = tmp_path / "demo"
    r = cli(["init", str(target)], cwd=tmp_path)
    assert r.code == 0, r.err
    lines = [line for line in r.err.splitlines() if line.startswith("next:")]
    assert len(lines) == 1, r.err
    command = lines[0].split("promptctl ", 1)[1].split()
    assert command[0] == "render"
    r2 = cli(command, cwd=target)
    assert r2.code == 0, r2.err
    assert r2.out.startswith("[system]\n")


def test_the_next_step_quotes_a_folder_with_spaces(tmp_path, cli):
    r = cli(["init", "my demo"], cwd=tmp_path)
    assert r.code == 0, r.err
    (line,) = [line for line in r.err.splitlines() if line.startswith("next:")]
    words = shlex.split(line[len("next:"):])
    assert words[:3] == ["cd", "my demo", "&&"], words
    assert words[3:5] == ["promptctl", "render"]


def test_every_prompt_renders_every_sample(demo, cli):
    proj = open_project(demo)
    prompts = proj.prompts()
    assert [p.name for p in prompts] == ["summarize", "support/reply"]
    # One of them includes a partial, and its text reaches the rendered system message.
    with_partials = [p for p in prompts if p.partials]
    assert [p.name for p in with_partials] == ["support/reply"]
    partial_text = (demo / "prompts/partials/policy.j2").read_text("utf-8").strip()

    rendered = 0
    for prompt in prompts:
        assert prompt.samples, f"{prompt.name} has no samples"
        for sample in prompt.samples:
            r = cli(["render", prompt.name, "--sample", sample.name, "--format", "json"], cwd=demo)
            assert r.code == 0, f"{prompt.name} --sample {sample.name}: {r.err}"
            result = json.loads(r.out)
            assert result["prompt"] == prompt.name
            assert result["messages"], "rendered no messages"
            assert all(m["content"].strip() for m in result["messages"])
            if prompt.partials:
                assert partial_text in result["messages"][0]["content"]
            rendered += 1
    assert rendered >= 3


def test_every_dataset_loads_and_every_case_renders(demo):
    proj = open_project(demo)
    datasets = proj.datasets()
    # A dataset for every prompt.
    assert {d.prompt for d in datasets} == set(proj.prompt_names())
    n_cases = 0
    for ds in datasets:
        assert ds.cases, ds.path
        for case in ds.cases:
            assert isinstance(case.golden, str) and case.golden.strip(), f"{ds.path}: case {case.id} has no golden"
            messages = proj.render(ds.prompt, case.inputs)
            assert messages and messages[-1]["role"] == "user"
            n_cases += 1
    # The JSONL case file is loaded too.
    ids = {c.id for d in datasets for c in d.cases}
    assert {"damaged-item", "password-reset"} <= ids
    assert n_cases >= 5


def _check_assertion(assertion: dict, output: str) -> bool | None:
    """The deterministic promptfoo assertions the example uses; None for the others."""
    kind, value = assertion["type"], assertion.get("value")
    negate = kind.startswith("not-")
    kind = kind[4:] if negate else kind
    if kind == "icontains":
        ok = value.lower() in output.lower()
    elif kind == "contains":
        ok = value in output
    elif kind == "contains-any":
        ok = any(v in output for v in value)
    elif kind == "starts-with":
        ok = output.startswith(value)
    elif kind == "regex":
        ok = re.search(value, output) is not None
    elif kind == "is-json":
        try:
            json.loads(output)
            ok = True
        except ValueError:
            ok = False
    else:
        return None
    return not ok if negate else ok


def test_every_golden_passes_its_own_deterministic_assertions(demo):
    """A fresh example project must be green: each reviewed output meets its checks."""
    proj = open_project(demo)
    checked = 0
    for ds in proj.datasets():
        prompt = proj.get_prompt(ds.prompt)
        for case in ds.cases:
            for assertion in (*ds.default_asserts, *case.asserts):
                verdict = _check_assertion(dict(assertion), case.golden)
                if verdict is not None:
                    assert verdict, f"{ds.path} case {case.id}: golden fails {assertion}"
                    checked += 1
            if prompt.output.get("format") == "json":
                reply = json.loads(case.golden)
                for key in prompt.output["schema"].get("required", []):
                    assert key in reply, f"case {case.id}: golden lacks {key!r}"
    assert checked >= 8


def test_editor_settings_and_schema_comments_point_at_existing_schemas(demo):
    settings = json.loads((demo / ".vscode/settings.json").read_text("utf-8"))
    mapping = settings["yaml.schemas"]
    assert mapping, "no yaml.schemas in .vscode/settings.json"
    for schema_ref, globs in mapping.items():
        assert (demo / schema_ref).resolve().is_file(), schema_ref
        assert globs
    targets = {Path(ref).name for ref in mapping}
    assert {"project.schema.json", "prompt.schema.json", "dataset.schema.json"} <= targets

    # Each YAML file names its schema in a yaml-language-server comment, by a path that exists.
    expected = {".prompt.yaml": "prompt", ".eval.yaml": "dataset", "promptctl.yaml": "project"}
    seen = 0
    for rel in files_under(demo):
        kind = next((k for suffix, k in expected.items() if rel.endswith(suffix)), None)
        if kind is None:
            continue
        first = (demo / rel).read_text("utf-8").splitlines()[0]
        m = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
        assert m, f"{rel}: first line is {first!r}"
        schema_file = ((demo / rel).parent / m.group(1)).resolve()
        assert schema_file == (demo / f".promptctl/schemas/{kind}.schema.json").resolve(), rel
        assert json.loads(schema_file.read_text("utf-8"))["$schema"] == SCHEMA_DRAFT
        seen += 1
    assert seen == 5


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_gitignore_ignores_local_state_but_not_schemas_or_recordings(demo):
    subprocess.run(["git", "init", "-q"], cwd=demo, check=True)

    def ignored(rel: str) -> bool:
        p = subprocess.run(["git", "check-ignore", "-q", "--no-index", rel], cwd=demo)
        assert p.returncode in (0, 1)
        return p.returncode == 0

    assert ignored(".promptctl/registry/bundles/v000001.json")
    assert ignored(".promptctl/cache/x")
    assert ignored(".promptctl/pending/evals/qa.eval.yaml.jsonl")
    for rel in SCAFFOLD:
        assert not ignored(rel), f"{rel} is git-ignored"
    assert not ignored(".promptctl/recordings/abc.json")


def test_created_project_is_valid_for_every_loader(demo):
    proj = open_project(demo)
    assert proj.config.root == demo.resolve()
    assert proj.config.prompts == "prompts" and proj.config.evals == "evals"
    assert proj.config.default_model == "openai/gpt-4o-mini"


# -- where init writes --------------------------------------------------------------------------


def test_init_without_dir_uses_the_current_folder(tmp_path, cli):
    here = tmp_path / "here"
    here.mkdir()
    r = cli(["init"], cwd=here)
    assert r.code == 0, r.err
    assert files_under(here) == set(SCAFFOLD)
    assert sorted(r.out.splitlines()) == sorted(SCAFFOLD)
    assert open_project(here).prompt_names() == ["summarize", "support/reply"]
    assert "created a promptctl project in . (16 files)." in r.err
    assert "next: promptctl render support/reply --sample refund" in r.err  # no `cd . &&`


def test_init_into_a_new_nested_folder(tmp_path, cli):
    target = tmp_path / "a" / "b" / "c"
    r = cli(["init", "a/b/c"], cwd=tmp_path)
    assert r.code == 0, r.err
    assert "next: cd a/b/c && promptctl render support/reply --sample refund" in r.err
    assert files_under(target) == set(SCAFFOLD)
    assert {Path(p).as_posix() for p in r.out.splitlines()} == {f"a/b/c/{rel}" for rel in SCAFFOLD}
    r2 = cli(["render", "summarize", "--sample", "release-notes"], cwd=target)
    assert r2.code == 0, r2.err


def test_init_honours_the_global_project_option(tmp_path, cli):
    here = tmp_path / "here"
    here.mkdir()
    r = cli(["--project", "sub", "init"], cwd=here)
    assert not (here / "promptctl.yaml").exists(), "init wrote into the cwd, not the folder named by --project"
    assert r.code == 2 or (r.code == 0 and files_under(here / "sub") == set(SCAFFOLD)), r.err


def test_init_into_an_existing_folder_with_unrelated_files(tmp_path, cli):
    target = tmp_path / "repo"
    (target / "src").mkdir(parents=True)
    (target / "src/app.py").write_text("print('hi')\n")
    (target / "README.md").write_text("# app\n")
    r = cli(["init", str(target)], cwd=tmp_path)
    assert r.code == 0, r.err
    assert files_under(target) == set(SCAFFOLD) | {"src/app.py", "README.md"}
    assert (target / "README.md").read_text() == "# app\n"


# -- never overwrites --------------------------------------------------------------------------


def test_init_twice_fails_and_changes_nothing(demo, cli, tmp_path):
    (demo / "promptctl.yaml").write_text("promptctl: 1\n# edited by the user\n")
    before = snapshot(demo)
    r = cli(["init", str(demo)], cwd=tmp_path)
    assert r.code == 2
    assert r.out == ""
    assert r.err.startswith("error: ")
    assert "Traceback" not in r.err
    # Every clashing file is named, or counted as "N more".
    named = [rel for rel in SCAFFOLD if rel in r.err]
    assert named, r.err
    if len(named) < len(SCAFFOLD):
        assert f"{len(SCAFFOLD) - len(named)} more" in r.err
    assert snapshot(demo) == before


@pytest.mark.parametrize("rel", SCAFFOLD)
def test_init_refuses_when_any_one_file_exists(tmp_path, cli, rel):
    target = tmp_path / "proj"
    (target / rel).parent.mkdir(parents=True, exist_ok=True)
    (target / rel).write_bytes(b"mine\n")
    before = snapshot(target)
    r = cli(["init", str(target)], cwd=tmp_path)
    assert r.code == 2, r.err
    assert r.out == ""
    assert rel in r.err
    assert "Traceback" not in r.err
    assert snapshot(target) == before
    assert (target / rel).read_bytes() == b"mine\n"


def test_init_refuses_when_a_scaffold_path_is_a_folder(tmp_path, cli):
    target = tmp_path / "proj"
    (target / "promptctl.yaml").mkdir(parents=True)
    before = snapshot(target)
    r = cli(["init", str(target)], cwd=tmp_path)
    assert r.code == 2
    assert "promptctl.yaml" in r.err
    assert snapshot(target) == before


def test_init_into_a_file_fails_and_keeps_the_file(tmp_path, cli):
    target = tmp_path / "notes.txt"
    target.write_text("keep me\n")
    r = cli(["init", str(target)], cwd=tmp_path)
    assert r.code == 2
    assert r.out == ""
    assert "notes.txt" in r.err and "not a folder" in r.err
    assert target.read_text() == "keep me\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize("blocker", ["prompts", "evals/data", ".vscode", ".promptctl"])
def test_init_refuses_when_a_file_sits_where_a_folder_is_needed(tmp_path, cli, blocker):
    target = tmp_path / "proj"
    (target / blocker).parent.mkdir(parents=True, exist_ok=True)
    (target / blocker).write_text("mine\n")
    before = snapshot(target)
    r = cli(["init", str(target)], cwd=tmp_path)
    assert snapshot(target) == before
    assert r.code == 2, r.err
    assert blocker in r.err
    assert "unexpected" not in r.err


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks here")
def test_init_refuses_a_dangling_symlink_in_the_way(tmp_path, cli):
    target = tmp_path / "proj"
    target.mkdir()
    try:
        os.symlink(tmp_path / "nowhere", target / "promptctl.yaml")
    except OSError as e:  # pragma: no cover - e.g. Windows without the privilege
        pytest.skip(f"cannot create a symlink: {e}")
    before = snapshot(target)
    r = cli(["init", str(target)], cwd=tmp_path)
    assert snapshot(target) == before
    assert r.code == 2, r.err
    assert "promptctl.yaml" in r.err
