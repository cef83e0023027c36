"""promptctl.yaml: discovery, --project, validation, parsing into Config, and the CLI without a project."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from conftest import write_tree

from promptctl import config as config_mod
from promptctl.config import (
    CONFIG_NAME,
    Config,
    ModelAlias,
    find_root,
    parse_config,
    project_root,
)
from promptctl.errors import ConfigError, ProjectNotFoundError, SchemaError, YamlError
from promptctl.project import open_project


@pytest.fixture(autouse=True)
def _no_project_env(monkeypatch):
    monkeypatch.delenv("PROMPTCTL_PROJECT", raising=False)


def no_config_above(path: Path) -> bool:
    return not any((p / CONFIG_NAME).is_file() for p in (path.resolve(), *path.resolve().parents))


def make(tmp_path: Path, config: str, **files: str) -> Path:
    root = tmp_path / "proj"
    write_tree(root, {CONFIG_NAME: config, **files})
    return root


# -- discovery ---------------------------------------------------------------------------------------


def test_find_root_walks_up_from_nested_cwd(tmp_path, monkeypatch):
    root = make(tmp_path, "promptctl: 1\n")
    nested = root / "prompts" / "support" / "deep"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    assert find_root() == root.resolve()
    assert project_root(None) == root.resolve()
    assert open_project().config.root == root.resolve()


def test_find_root_from_explicit_start(tmp_path):
    root = make(tmp_path, "promptctl: 1\n")
    (root / "a" / "b").mkdir(parents=True)
    assert find_root(root / "a" / "b") == root.resolve()
    assert find_root(root) == root.resolve()


def test_find_root_takes_the_nearest_config(tmp_path, monkeypatch):
    outer = make(tmp_path, "promptctl: 1\n")
    inner = write_tree(outer / "sub", {CONFIG_NAME: "promptctl: 1\nprompts: p\n"})
    (inner / "x").mkdir()
    monkeypatch.chdir(inner / "x")
    assert find_root() == inner.resolve()
    assert open_project().config.prompts == "p"


def test_find_root_ignores_a_folder_named_like_the_config(tmp_path):
    root = make(tmp_path, "promptctl: 1\n")
    (root / "sub" / CONFIG_NAME).mkdir(parents=True)
    assert find_root(root / "sub") == root.resolve()


def test_find_root_without_any_config(tmp_path, monkeypatch):
    if not no_config_above(tmp_path):
        pytest.skip("a promptctl.yaml exists above the temporary folder")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ProjectNotFoundError) as info:
        find_root()
    e = info.value
    assert e.message == f"no {CONFIG_NAME} found in {tmp_path.resolve()} or any parent folder"
    assert "promptctl init" in e.hint and "--project" in e.hint
    assert isinstance(e, ConfigError) and e.exit_code == 2


# -- --project -------------------------------------------------------------------------------------


def test_project_root_with_folder(tmp_path, monkeypatch):
    root = make(tmp_path, "promptctl: 1\n")
    monkeypatch.chdir(tmp_path)
    assert project_root(root) == root.resolve()
    assert project_root("proj") == root.resolve()  # relative to the cwd


def test_project_root_with_config_path(tmp_path):
    root = make(tmp_path, "promptctl: 1\n")
    assert project_root(root / CONFIG_NAME) == root.resolve()
    assert project_root(str(root / CONFIG_NAME)) == root.resolve()


def test_project_root_with_missing_folder(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(ProjectNotFoundError) as info:
        project_root(missing)
    assert info.value.message == f"--project {missing}: no such folder"
    assert "promptctl.yaml" in info.value.hint


def test_project_root_with_folder_lacking_config(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ProjectNotFoundError) as info:
        project_root(tmp_path / "empty")
    e = info.value
    assert e.message == f"no {CONFIG_NAME} in {tmp_path / 'empty'}"
    assert "`promptctl init`" in e.hint
    assert str(e) == f"{e.message} ({e.hint})"


def test_project_root_with_another_file(tmp_path):
    other = tmp_path / "other.yaml"
    other.write_text("promptctl: 1\n", encoding="utf-8")
    with pytest.raises(ProjectNotFoundError):
        project_root(other)


# -- validation --------------------------------------------------------------------------------------


def test_wrong_config_version(tmp_path, monkeypatch):
    root = make(tmp_path, "promptctl: 2\n")
    monkeypatch.chdir(root)
    with pytest.raises(SchemaError) as info:
        open_project(root)
    e = info.value
    assert e.json_path == "promptctl"
    assert e.message == "promptctl: 1 was expected"
    assert (e.path, e.line, e.col) == (CONFIG_NAME, 1, 12)
    assert "promptctl schema project" in e.hint


def test_config_version_must_be_an_integer_one(tmp_path, monkeypatch):
    root = make(tmp_path, "promptctl: true\n")
    monkeypatch.chdir(root)
    with pytest.raises(SchemaError) as info:
        open_project(root)
    assert (info.value.line, info.value.col) == (1, 12)


def test_unknown_config_key(tmp_path, monkeypatch):
    root = make(tmp_path, "promptctl: 1\nevals: evals\npromps: src\n")
    monkeypatch.chdir(root)
    with pytest.raises(SchemaError) as info:
        open_project(root)
    e = info.value
    assert e.message == "unknown field 'promps'"
    assert e.hint == "did you mean 'prompts'?"
    assert str(e).startswith(f"{CONFIG_NAME}:3:1: unknown field 'promps'")


def test_missing_version_key(tmp_path, monkeypatch):
    root = make(tmp_path, "prompts: prompts\n")
    monkeypatch.chdir(root)
    with pytest.raises(SchemaError) as info:
        open_project(root)
    assert info.value.message == "$: missing required field 'promptctl'"
    assert (info.value.line, info.value.col) == (1, 1)


@pytest.mark.parametrize("text", ["", "# nothing\n", "- promptctl\n", "promptctl\n"])
def test_config_that_is_not_a_mapping(tmp_path, monkeypatch, text):
    root = make(tmp_path, text)
    monkeypatch.chdir(root)
    with pytest.raises(SchemaError) as info:
        open_project(root)
    assert "must be a mapping" in info.value.message
    assert (info.value.path, info.value.line, info.value.col) == (CONFIG_NAME, 1, 1)


def test_malformed_config_yaml(tmp_path, monkeypatch):
    root = make(tmp_path, "promptctl: 1\nmodels: {fast: x\n")
    monkeypatch.chdir(root)
    with pytest.raises(YamlError) as info:
        open_project(root)
    # at the `{` that is never closed, not where the parser gave up
    assert str(info.value).startswith(f"{CONFIG_NAME}:2:9: invalid YAML: the `{{` here is not closed (did not find "
                                      "expected ',' or '}' by line 3, column 1)")


def test_duplicate_key_in_config(tmp_path, monkeypatch):
    root = make(tmp_path, "promptctl: 1\nprompts: a\nprompts: b\n")
    monkeypatch.chdir(root)
    with pytest.raises(YamlError) as info:
        open_project(root)
    assert info.value.message == "duplicate key 'prompts' (first defined at line 2)"
    assert (info.value.line, info.value.col) == (3, 1)


@pytest.mark.parametrize(
    "key, value",
    [("prompts", "../elsewhere"), ("evals", "../evals"), ("prompts", "/abs/prompts"), ("evals", "a/../../b")],
)
def test_folder_outside_the_project_refused(tmp_path, monkeypatch, key, value):
    root = make(tmp_path, f"promptctl: 1\n{key}: {value}\n")
    monkeypatch.chdir(root)
    with pytest.raises(ConfigError) as info:
        open_project(root)
    e = info.value
    assert type(e) is ConfigError
    assert e.message == f"{key}: {value!r} must be a folder inside the project"
    assert e.path is not None and e.path.endswith(CONFIG_NAME)
    assert "'..'" in e.hint


def test_folder_outside_the_project_refused_with_position(tmp_path, monkeypatch):
    root = make(tmp_path, "promptctl: 1\nprompts: ../elsewhere\n")
    monkeypatch.chdir(root)
    with pytest.raises(ConfigError) as info:
        open_project(root)
    assert (info.value.line, info.value.col) == (2, 10)
    assert str(info.value).startswith(f"{CONFIG_NAME}:2:10: ")


def test_model_alias_with_bad_key_env(tmp_path, monkeypatch):
    root = make(tmp_path, "promptctl: 1\nmodels:\n  local: {model: x, api_key_env: 'sk-live-123'}\n")
    monkeypatch.chdir(root)
    with pytest.raises(SchemaError) as info:
        open_project(root)
    assert info.value.json_path == "models.local.api_key_env"
    assert (info.value.line, info.value.col) == (3, 34)


# -- parsing -----------------------------------------------------------------------------------------


def test_defaults(tmp_path):
    root = make(tmp_path, "promptctl: 1\n")
    config = open_project(root).config
    assert config.root == root.resolve()
    assert config.prompts == "prompts"
    assert config.evals == "evals"
    assert config.registry == ".promptctl/registry"
    assert config.tag_prefix == "prompts/"
    assert config.default_model is None
    assert dict(config.default_params) == {}
    assert config.default_fallbacks == ()
    assert dict(config.models) == {}
    assert config.lint_ignore == () and dict(config.lint_severity) == {}
    assert config.test == config_mod.TestSettings()
    assert (config.test.concurrency, config.test.timeout_s, config.test.retries) == (8, 60.0, 3)
    assert config.test.recordings == ".promptctl/recordings"
    assert config.test.max_cost_usd is None


def test_design_example_config_parses(tmp_path):
    root = make(
        tmp_path,
        """\
        promptctl: 1
        prompts: prompts
        evals: evals
        registry: .promptctl/registry
        tag_prefix: prompts/
        defaults: {model: openai/gpt-4o-mini, params: {temperature: 0}}
        models:
          fast: openai/gpt-4o-mini
          local: {model: openai/llama3, api_base: http://127.0.0.1:8000/v1, api_key_env: LOCAL_KEY}
        lint: {ignore: [], severity: {}}
        test: {concurrency: 8, timeout_s: 60, retries: 3, recordings: .promptctl/recordings, max_cost_usd: null}
        """,
    )
    config = open_project(root).config
    assert config.default_model == "openai/gpt-4o-mini"
    assert dict(config.default_params) == {"temperature": 0}
    assert config.models["fast"] == ModelAlias(name="fast", model="openai/gpt-4o-mini")
    local = config.models["local"]
    assert (local.name, local.model, local.api_base, local.api_key_env) == (
        "local",
        "openai/llama3",
        "http://127.0.0.1:8000/v1",
        "LOCAL_KEY",
    )
    assert dict(local.params) == {}
    assert config.test == config_mod.TestSettings()


def test_model_alias_object_with_params_and_resolution(tmp_path):
    root = make(
        tmp_path,
        """\
        promptctl: 1
        defaults: {model: fast, fallbacks: [local]}
        models:
          fast: openai/gpt-4o-mini
          local: {model: openai/llama3, params: {temperature: 0.5, max_tokens: 10}}
        """,
    )
    config = open_project(root).config
    assert config.default_model == "fast"
    assert config.default_fallbacks == ("local",)
    assert isinstance(config.models["local"], ModelAlias)
    assert dict(config.models["local"].params) == {"temperature": 0.5, "max_tokens": 10}
    assert config.models["local"].api_base is None and config.models["local"].api_key_env is None
    assert config.resolve_model("fast").model == "openai/gpt-4o-mini"
    assert config.resolve_model("anthropic/claude") == ModelAlias(name="anthropic/claude", model="anthropic/claude")


def test_custom_folders_are_cleaned(tmp_path):
    root = make(
        tmp_path,
        "promptctl: 1\nprompts: ./src/prompts/\nevals: .\nregistry: s3://bucket/prefix\ntag_prefix: ''\n",
    )
    config = open_project(root).config
    assert config.prompts == "src/prompts"
    assert config.evals == "."
    assert config.registry == "s3://bucket/prefix"
    assert config.tag_prefix == ""


def test_test_and_lint_sections(tmp_path):
    root = make(
        tmp_path,
        """\
        promptctl: 1
        lint: {ignore: [PC201], severity: {PC101: warning}}
        test: {concurrency: 2, timeout_s: 1.5, retries: 0, max_cost_usd: 0.25, grader: fast}
        s3: {endpoint_url: 'http://127.0.0.1:9000', region: eu-west-1}
        """,
    )
    config = open_project(root).config
    assert config.lint_ignore == ("PC201",)
    assert dict(config.lint_severity) == {"PC101": "warning"}
    assert config.test == config_mod.TestSettings(
        concurrency=2, timeout_s=1.5, retries=0, max_cost_usd=0.25, grader="fast"
    )
    assert dict(config.s3) == {"endpoint_url": "http://127.0.0.1:9000", "region": "eu-west-1"}


def test_config_is_immutable(tmp_path):
    config = parse_config({"promptctl": 1, "models": {"a": "b"}}, tmp_path)
    assert isinstance(config, Config)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.prompts = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.models["c"] = ModelAlias(name="c", model="d")  # type: ignore[index]


# -- the CLI without a project -------------------------------------------------------------------------


def test_cli_without_config_exits_2(tmp_path, cli):
    if not no_config_above(tmp_path):
        pytest.skip("a promptctl.yaml exists above the temporary folder")
    r = cli(["render", "hello"], cwd=tmp_path)
    assert r.code == 2
    assert r.out == ""
    assert f"no {CONFIG_NAME} found in {tmp_path.resolve()}" in r.err
    assert "promptctl init" in r.err
    assert r.err.startswith("error: ")
    assert "Traceback" not in r.err


def test_cli_with_missing_project_folder_exits_2(tmp_path, cli):
    r = cli(["render", "hello", "--project", str(tmp_path / "nope")], cwd=tmp_path)
    assert r.code == 2
    assert r.out == ""
    assert "no such folder" in r.err


def test_cli_with_invalid_config_exits_2_with_location(tmp_path, cli):
    root = make(tmp_path, "promptctl: 1\ndefaults: {modle: x}\n")
    r = cli(["render", "hello"], cwd=root)
    assert r.code == 2
    assert r.out == ""
    assert f"error: {CONFIG_NAME}:2:12: unknown field 'defaults.modle'" in r.err
    assert "did you mean 'model'?" in r.err


def test_cli_finds_project_from_subfolder(project, cli):
    sub = project / "prompts" / "partials"
    r = cli(["render", "hello", "--input", "who=Ada"], cwd=sub)
    assert r.code == 0, r.err
    assert "Say hello to Ada" in r.out
