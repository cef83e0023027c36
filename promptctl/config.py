"""promptctl.yaml: finding it, and the frozen :class:`Config` read from it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .errors import ProjectNotFoundError
from .limits import RenderLimits

CONFIG_NAME = "promptctl.yaml"
PROMPT_SUFFIX = ".prompt.yaml"  # a prompt file: <prompt root>/<name>.prompt.yaml
DATASET_SUFFIX = ".eval.yaml"  # a golden dataset


@dataclass(frozen=True, slots=True)
class ModelAlias:
    """A model name usable wherever a model is named; may carry a gateway and its key variable."""

    name: str
    model: str
    api_base: str | None = None
    api_key_env: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TestSettings:
    """The ``test:`` section: how evals call models and where recordings live."""

    concurrency: int = 8
    timeout_s: float = 60.0
    retries: int = 3
    recordings: str = ".promptctl/recordings"
    max_cost_usd: float | None = None
    grader: str | None = None
    embedding_model: str | None = None
    client: str = "auto"  # auto: native client for OpenAI-compatible models, litellm for the rest


@dataclass(frozen=True, slots=True)
class Config:
    """A project's configuration; paths are relative to ``root``, the folder of promptctl.yaml."""

    root: Path
    prompts: str = "prompts"
    evals: str = "evals"
    registry: str = ".promptctl/registry"
    tag_prefix: str = "prompts/"
    default_model: str | None = None
    default_params: Mapping[str, Any] = field(default_factory=dict)
    default_fallbacks: tuple[str, ...] = ()
    models: Mapping[str, ModelAlias] = field(default_factory=dict)
    lint_ignore: tuple[str, ...] = ()
    lint_severity: Mapping[str, Any] = field(default_factory=dict)  # as written: an unquoted `off` is YAML's False
    test: TestSettings = field(default_factory=TestSettings)
    s3: Mapping[str, Any] = field(default_factory=dict)
    render: RenderLimits = field(default_factory=RenderLimits)  # the ``render:`` section: limits of one render

    def resolve_model(self, name: str) -> ModelAlias:
        """The alias named ``name``, or a plain litellm model string wrapped as one."""
        return self.models.get(name) or ModelAlias(name=name, model=name)


def find_root(start: str | os.PathLike[str] | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: cwd) holding promptctl.yaml."""
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder
    raise ProjectNotFoundError(
        f"no {CONFIG_NAME} found in {here} or any parent folder",
        hint="run `promptctl init` to create a project, or pass --project DIR",
    )


def project_root(project: str | os.PathLike[str] | None) -> Path:
    """The root named by ``--project`` (a folder or the config file), else found from the cwd."""
    if project is None:
        return find_root()
    path = Path(project)
    if path.is_file() and path.name == CONFIG_NAME:
        return path.resolve().parent
    if not path.is_dir():
        raise ProjectNotFoundError(f"--project {project}: no such folder", hint="pass the folder holding promptctl.yaml")
    if not (path / CONFIG_NAME).is_file():
        raise ProjectNotFoundError(
            f"no {CONFIG_NAME} in {project}",
            hint="run `promptctl init` there, or pass the folder that holds promptctl.yaml",
        )
    return path.resolve()


def parse_config(data: Mapping[str, Any], root: Path) -> Config:
    """Build a :class:`Config` from promptctl.yaml data already checked against its schema
    (and by :func:`promptctl.project.load_project`: prompts/evals stay inside the project)."""
    defaults = data.get("defaults") or {}
    models = {}
    for name, spec in (data.get("models") or {}).items():
        if isinstance(spec, str):
            models[name] = ModelAlias(name=name, model=spec)
        else:
            models[name] = ModelAlias(
                name=name,
                model=spec["model"],
                api_base=spec.get("api_base"),
                api_key_env=spec.get("api_key_env"),
                params=MappingProxyType(dict(spec.get("params") or {})),
            )
    lint = data.get("lint") or {}
    test = data.get("test") or {}
    known = TestSettings.__dataclass_fields__
    render = data.get("render") or {}
    render_known = RenderLimits.__dataclass_fields__
    return Config(
        root=root,
        prompts=_clean(data.get("prompts", "prompts")),
        evals=_clean(data.get("evals", "evals")),
        registry=data.get("registry", ".promptctl/registry"),
        tag_prefix=data.get("tag_prefix", "prompts/"),
        default_model=defaults.get("model"),
        default_params=MappingProxyType(dict(defaults.get("params") or {})),
        default_fallbacks=tuple(defaults.get("fallbacks") or ()),
        models=MappingProxyType(models),
        lint_ignore=tuple(lint.get("ignore") or ()),
        lint_severity=MappingProxyType(dict(lint.get("severity") or {})),
        test=TestSettings(**{k: v for k, v in test.items() if k in known}),
        s3=MappingProxyType(dict(data.get("s3") or {})),
        render=RenderLimits(**{k: int(v) for k, v in render.items() if k in render_known}),  # 100.0 is an integer
    )


def _clean(rel: str) -> str:
    rel = rel.replace("\\", "/").strip("/")
    while rel.startswith("./"):
        rel = rel[2:]
    return rel or "."
