"""Building a bundle from a project and publishing it: clean tree, lint, write once, tag the commit.

:func:`build_content` turns a loaded project into the bundle's content (prompts fully resolved,
partials, the project settings they depend on); :func:`publish` does the whole command.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import CONFIG_NAME
from ..errors import ChannelHeldError, LintFailedError, PromptctlError, PublishError
from ..model import Prompt, content_hash
from .bundle import FORMAT, list_versions, read_bundle, write_bundle
from .channels import check_channel_name, now
from .stores import LocalStore

#: The parts of a bundle that decide whether two bundles publish the same thing.
CONTENT_KEYS = ("project", "prompts", "partials")


@dataclass
class GitState:
    """The git state a bundle is built from."""

    repo: Any = None
    commit: str | None = None
    branch: str | None = None
    changes: list[str] = field(default_factory=list)  # uncommitted paths that the bundle depends on

    @property
    def dirty(self) -> bool:
        return self.commit is None or bool(self.changes)


def git_state(root: Path, prompts_dir: str, exclude: list[str]) -> GitState:
    """The commit at HEAD and the uncommitted changes to promptctl.yaml and the prompt root.

    Only the files a bundle is built from count: changes elsewhere (application code, evals,
    the local registry) do not make the tree dirty for publishing.
    """
    import git

    from ..sources import _repo

    try:
        repo = _repo(root)
        commit = repo.head.commit.hexsha
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return GitState()
    except ValueError:  # a repository without commits
        return GitState(repo=_repo(root))
    try:
        branch: str | None = repo.active_branch.name
    except TypeError:  # detached HEAD, as in most CI checkouts
        branch = None
    work = Path(repo.working_tree_dir).resolve()
    prefix = root.resolve().relative_to(work).as_posix()
    prefix = "" if prefix == "." else prefix + "/"
    specs = [f":(top,literal){prefix}{CONFIG_NAME}",
             f":(top,literal){prefix}{prompts_dir}" if prompts_dir != "." else f":(top){prefix or '.'}"]
    specs += [f":(top,exclude){prefix}{e}" for e in exclude]
    out = repo.git.status("--porcelain", "-z", "--untracked-files=all", "--", *specs)
    changes = sorted(entry[3:] for entry in out.split("\0") if len(entry) > 3 and entry[2] == " ")
    return GitState(repo=repo, commit=commit, branch=branch, changes=changes)


def _alias_json(alias: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"model": alias.model}
    if alias.api_base:
        out["api_base"] = alias.api_base
    if alias.api_key_env:
        out["api_key_env"] = alias.api_key_env
    if alias.params:
        out["params"] = dict(alias.params)
    return out


def _prompt_json(prompt: Prompt, rel: str) -> dict[str, Any]:
    if not prompt.model:
        raise PublishError(
            f"prompt {prompt.name!r} has no model, so a bundle could not call it",
            path=prompt.source,
            hint="set `model:` in the prompt or `defaults.model` in promptctl.yaml",
        )
    entry: dict[str, Any] = {k: v for k, v in prompt.identity().items() if k != "partials"}
    entry.update(hash=prompt.hash, source=rel, includes=sorted(prompt.partials))
    if prompt.description is not None:
        entry["description"] = prompt.description
    if prompt.samples:
        entry["samples"] = [
            {"name": s.name, "inputs": dict(s.inputs), **({"description": s.description} if s.description else {})}
            for s in prompt.samples
        ]
    if prompt.tags:
        entry["tags"] = list(prompt.tags)
    if prompt.observe:
        entry["observe"] = dict(prompt.observe)
    if prompt.owners:
        entry["owners"] = list(prompt.owners)
    return entry


def build_content(project: Any) -> dict[str, Any]:
    """The bundle content of a loaded project: ``project``, ``prompts`` and ``partials``.

    ``partials`` holds every non-prompt text file under the prompt root (so that an include
    whose target is computed at render time finds its file too; with ``prompts: .`` only the
    included ones); each prompt lists the ones it includes under ``includes``.
    """
    from ..sources import read_text

    config = project.config
    files = project.prompt_files()
    prompts = {name: _prompt_json(project.get_prompt(name), files[name]) for name in sorted(files)}
    partials: dict[str, str] = {}
    for p in project.prompts():
        partials.update(p.partials)
    root = config.prompts
    prompt_paths = set(files.values())
    # With the project folder itself as the prompt root, "every other file" would be the whole
    # project: then only the partials the prompts include are kept.
    for rel in project.source.walk(root) if root != "." else ():
        name = rel[len(root) + 1:]
        if rel in prompt_paths or name in partials:
            continue
        if any(part.startswith(".") for part in name.split("/")):
            continue
        try:
            partials[name] = read_text(project.source, rel)
        except PromptctlError:
            continue  # not UTF-8 text, or too large: not a template
    defaults: dict[str, Any] = {}
    if config.default_model:
        defaults["model"] = config.default_model
    if config.default_params:
        defaults["params"] = dict(config.default_params)
    if config.default_fallbacks:
        defaults["fallbacks"] = list(config.default_fallbacks)
    return {
        "project": {
            "tag_prefix": config.tag_prefix,
            "defaults": defaults,
            "models": {name: _alias_json(a) for name, a in sorted(config.models.items())},
        },
        "prompts": prompts,
        "partials": dict(sorted(partials.items())),
    }


def same_content(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return content_hash({k: a.get(k) for k in CONTENT_KEYS}) == content_hash({k: b.get(k) for k in CONTENT_KEYS})


def check_lint(root: Path, source: Any, project: Any) -> None:
    """Refuse when lint finds errors (or, without the lint engine, when a sample does not render)."""
    try:
        from ..lint.engine import lint_project as run_lint
    except ImportError:
        run_lint = None  # type: ignore[assignment]
    if run_lint is not None:
        report = run_lint(root, source)
        if report.errors:
            problems = [f"{f.path}:{f.line}:{f.col}: {f.code} {f.message}" for f in report.findings
                        if f.severity == "error"]
            shown = problems[:10] + ([f"… and {len(problems) - 10} more"] if len(problems) > 10 else [])
            raise LintFailedError(
                f"lint found {report.errors} error{'s' if report.errors != 1 else ''}; nothing was published",
                problems=shown,
                hint="fix them (see `promptctl lint`), then publish again",
            )
        return
    for prompt in project.prompts():
        for sample in prompt.samples:
            project.render(prompt.name, sample.inputs)


def check_hashes(content: dict[str, Any]) -> None:
    """Recompute every prompt's hash from the bundle content alone and compare it with the recorded one.

    A bundle is only useful if what it holds reproduces what was published (``render --ref vN``,
    the runtime); a mismatch here is a bug in promptctl, caught before anything is written.
    (That a project loaded from a bundle through BundleSource keeps the hashes is tested.)
    """
    from .bundle import bundle_prompt, prompt_hash

    for name, entry in content["prompts"].items():
        got = prompt_hash(content, bundle_prompt(content, name))
        if got != entry["hash"]:
            raise PromptctlError(
                f"the bundle would not reproduce prompt {name!r} (hash {got[:19]}… instead of {entry['hash'][:19]}…)",
                hint="this is a bug in promptctl: please report it",
            )


def _validate(bundle: dict[str, Any]) -> None:
    from .verify import schema_problem

    problem = schema_problem(bundle, "bundle")
    if problem:
        raise PublishError(
            f"the bundle would not be valid: it {problem}",
            hint="prompt names may use letters, digits, '_', '.', '-' and '/'",
        )


@dataclass
class PublishResult:
    published: bool
    version: int
    digest: str
    dirty: bool = False
    commit: str | None = None
    tag: str | None = None
    registry: str = ""
    identical: bool = False
    warnings: list[str] = field(default_factory=list)
    promotion: Any = None  # ops.MoveResult

    @property
    def name(self) -> str:
        return f"v{self.version}"

    def to_json(self) -> dict[str, Any]:
        return {
            "published": self.published,
            "version": self.version,
            "name": self.name,
            "digest": self.digest,
            "identical_to_latest": self.identical,
            "dirty": self.dirty,
            "commit": self.commit,
            "tag": self.tag,
            "registry": self.registry,
            "channel": self.promotion.to_json() if self.promotion is not None else None,
            "warnings": self.warnings,
        }


def _tag(state: GitState, tag: str, digest: str, version: int, message: str | None) -> str | None:
    """Create the annotated tag; a warning (returned) when it cannot be created as asked."""
    import git

    repo = state.repo
    text = f"promptctl bundle v{version}\n\ndigest: {digest}\n" + (f"\n{message}\n" if message else "")
    try:
        repo.create_tag(tag, ref=state.commit, message=text)
        return None
    except git.GitCommandError as e:
        try:
            existing = repo.tags[tag].commit.hexsha
        except (IndexError, ValueError, git.BadName):
            existing = None
        if existing == state.commit:
            return None
        if existing is not None:
            return f"git tag {tag} already exists on {existing[:7]} (an earlier registry?): left as it is"
        detail = (e.stderr or str(e)).strip().splitlines()
        return f"could not create git tag {tag}: {detail[-1] if detail else e}"


def _evals(project: Any, required: bool) -> dict[str, Any] | None:
    """The replayed eval summary the bundle records; with ``required``, a failing one refuses the publish."""
    from ..evals.summary import eval_summary

    try:
        summary = eval_summary(project)
    except PromptctlError as e:
        if required:
            raise PublishError(f"--require-tests: `promptctl test --mode replay` cannot run: {e.message}; "
                               "nothing was published", hint=e.hint) from None
        return None
    if required and summary is None:
        raise PublishError("--require-tests: the project has no golden dataset to test; nothing was published",
                           hint="add an evals/*.eval.yaml, or publish without --require-tests")
    if required and summary is not None and not summary["ok"]:
        under = [f"{d['name']} {d['pass_rate'] * 100:.1f}% < {d['threshold'] * 100:g}%" for d in summary["datasets"] if not d["ok"]]
        why = ", ".join(under) or f"{summary['failed']} failed, {summary['errors']} errors"
        raise PublishError(f"--require-tests: `promptctl test --mode replay` fails ({why}); nothing was published",
                           hint="run `promptctl test --mode replay` to see the failing cases")
    return summary


def publish(
    project_dir: str | os.PathLike[str] | None = None,
    *,
    message: str | None = None,
    channel: str | None = None,
    allow_dirty: bool = False,
    force: bool = False,
    registry: str | None = None,
    actor: str | None = None,
    require_tests: bool = False,
) -> PublishResult:
    """What ``promptctl publish`` does; see docs/registry.md."""
    from ..project import load_project
    from ..sources import WorkTree, open_git_revision
    from .actor import current_actor
    from .ops import channel_records, promote
    from .resolve import Target, open_registry

    handle = open_registry(project_dir, url=registry, need_project=True)
    root, config, store = handle.root, handle.config, handle.store
    assert root is not None and config is not None
    if channel is not None:
        check_channel_name(channel)
    exclude = []
    if isinstance(store, LocalStore):
        try:
            exclude.append(Path(os.path.abspath(store.root)).relative_to(root.resolve()).as_posix())
        except ValueError:
            pass
    state = git_state(root, config.prompts, exclude)
    if state.commit is None and not allow_dirty:
        raise PublishError(
            f"{root} is not in a git repository with commits: publish builds from a commit and tags it",
            hint="commit the project (git init, git add, git commit), or pass --allow-dirty",
        )
    if state.changes and not allow_dirty:
        shown = ", ".join(state.changes[:3]) + (f" and {len(state.changes) - 3} more" if len(state.changes) > 3 else "")
        raise PublishError(
            f"uncommitted changes to the prompts: {shown}",
            hint="commit them first, or pass --allow-dirty to publish them (the bundle records dirty: true)",
        )
    source = WorkTree(root) if state.dirty else open_git_revision(root, "HEAD")
    project = load_project(source, root)
    check_lint(root, source, project)
    content = build_content(project)
    check_hashes(content)
    evals = _evals(project, require_tests)
    who = actor or current_actor(root)

    if channel is not None:
        records = channel_records(store, channel)
        if records and records[-1]["held"]:
            head = records[-1]
            raise ChannelHeldError(
                f"channel {channel!r} is on hold ({head['action']} to v{head['version']} by {head['actor']}); "
                "nothing was published",
                hint=f"`promptctl release {channel}` lifts the hold, or publish without --channel",
            )

    latest = max(list_versions(store), default=0)
    if latest and not force:
        previous = read_bundle(store, latest)
        if same_content(previous, content):
            result = PublishResult(False, latest, previous["digest"], registry=store.url, identical=True,
                                   commit=(previous.get("git") or {}).get("commit"))
            if channel is not None:
                result.promotion = promote(handle, f"v{latest}", channel, actor=who, reason=message,
                                           target=Target(f"v{latest}", latest, previous))
            return result

    bundle_content = {
        "format": FORMAT,
        "created_at": now(),
        "actor": who,
        "message": message,
        "git": {"commit": state.commit, "branch": state.branch, "dirty": state.dirty},
        "evals": evals,
        **content,
    }
    _validate({**bundle_content, "version": 1, "digest": "sha256:" + "0" * 64})
    version, digest = write_bundle(store, bundle_content)
    result = PublishResult(True, version, digest, dirty=state.dirty, commit=state.commit, registry=store.url)
    if state.commit is not None and not state.dirty:
        tag = f"{config.tag_prefix}v{version}"
        warning = _tag(state, tag, digest, version, message)
        if warning:
            result.warnings.append(warning)
        else:
            result.tag = tag
    elif state.commit is not None:
        result.warnings.append("not tagged: the bundle was built from uncommitted changes")
    if channel is not None:
        bundle = read_bundle(store, version)
        try:
            result.promotion = promote(handle, f"v{version}", channel, actor=who, reason=message,
                                       target=Target(f"v{version}", version, bundle))
        except PromptctlError as e:
            e.message = f"published v{version} ({digest}), but did not promote it to {channel}: {e.message}"
            raise
    return result
