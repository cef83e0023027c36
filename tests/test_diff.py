"""`promptctl diff` and `promptctl log` in real git repositories."""

from __future__ import annotations

import json
import textwrap

import pytest

from promptctl.diff import diff_inputs, diff_projects, text_diff, word_diff
from promptctl.errors import UsageError
from promptctl.project import open_project

BASE = {
    "promptctl.yaml": "promptctl: 1\ndefaults: {model: openai/gpt-4o-mini}\n",
    "prompts/partials/policy.j2": "Be kind.\n",
    "prompts/reply.prompt.yaml": """\
        description: Reply.
        params: {temperature: 0.2}
        inputs:
          ticket: string
          tone: {type: string, enum: [formal, friendly], default: friendly}
        messages:
          - role: system
            content: |
              Answer in a {{ tone }} tone.
              {% include "partials/policy.j2" %}
          - role: user
            content: "{{ ticket }}"
        output: {format: json, schema: {type: object, required: [reply]}}
        samples:
          - {name: refund, inputs: {ticket: "I want a refund"}}
        tags: [support]
        """,
    "prompts/other.prompt.yaml": """\
        inputs: {q: string}
        messages:
          - role: user
            content: "{% include 'partials/policy.j2' %} {{ q }}"
        """,
    "prompts/stable.prompt.yaml": "messages: [{role: user, content: unchanged}]\n",
    "evals/reply.eval.yaml": """\
        prompt: reply
        cases:
          - {id: a, inputs: {ticket: x}, golden: "old golden"}
          - {id: b, inputs: {ticket: y}}
        """,
}


@pytest.fixture
def repo(git_repo):
    git_repo.commit("base", BASE, tag="prompts/v1")
    return git_repo


def _reply(**changes: str) -> str:
    text = textwrap.dedent(BASE["prompts/reply.prompt.yaml"])
    for old, new in changes.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


def _diff(repo, *args):
    from promptctl.diff import resolve_diff_args

    old, new, names = resolve_diff_args(repo.root, list(args))
    return diff_projects(old, new, names=names)


def _changes(d, name):
    [p] = [p for p in d.prompts if p.name == name]
    return {c.field: c for c in p.changes}, p


def test_no_difference(repo):
    d = _diff(repo)
    assert not d.changed and not d.breaking
    assert d.old.startswith("HEAD") and d.new == "working tree"


def test_uncommitted_change_against_head(repo):
    repo.write({"prompts/reply.prompt.yaml": _reply(**{"temperature: 0.2": "temperature: 0.7"})})
    d = _diff(repo)
    changes, p = _changes(d, "reply")
    assert p.status == "changed" and not p.breaking
    c = changes["params.temperature"]
    assert (c.old, c.new, c.kind) == (0.2, 0.7, "changed")
    assert [x.name for x in d.prompts] == ["reply"]


def test_fields_changed(repo):
    text = _reply(**{"description: Reply.": "description: Reply well.", "tags: [support]": "tags: [support, vip]\nowners: [ann]\nmodel: fast\nfallbacks: [x/y]"})
    repo.commit("fields", {"prompts/reply.prompt.yaml": text})
    changes, p = _changes(_diff(repo, "v1", "HEAD"), "reply")
    assert changes["description"].new == "Reply well."
    assert changes["tags"].new == ["support", "vip"]
    assert changes["owners"].new == ["ann"]
    assert changes["model"].old == "openai/gpt-4o-mini" and changes["model"].new == "fast"
    assert changes["fallbacks"].new == ["x/y"]
    assert not p.breaking


def test_output_schema_change_is_breaking(repo):
    repo.write({"prompts/reply.prompt.yaml": _reply(**{"required: [reply]": "required: [answer]"})})
    changes, p = _changes(_diff(repo), "reply")
    assert changes["output"].breaking and p.breaking


@pytest.mark.parametrize(
    "old, new, breaking, why",
    [
        ({}, {"a": {"type": "string"}}, True, "new required input"),
        ({}, {"a": {"type": "string", "default": ""}}, False, "optional"),
        ({"a": {"type": "string"}}, {}, True, "callers still pass"),
        ({"a": {"type": ["string", "null"]}}, {"a": {"type": "string"}}, True, "type narrowed"),
        ({"a": {"type": "integer"}}, {"a": {"type": "number"}}, False, "type integer -> number"),
        ({"a": {"enum": ["x", "y"]}}, {"a": {"enum": ["x"]}}, True, "'y' no longer allowed"),
        ({"a": {"enum": ["x"]}}, {"a": {"enum": ["x", "y"]}}, False, "enum"),
        ({"a": {"type": "string", "default": "x"}}, {"a": {"type": "string", "default": "y"}}, False, 'default "x" -> "y"'),
        ({"a": {"type": "string", "default": "x"}}, {"a": {"type": "string"}}, True, "now required"),
        ({"a": {"type": "string", "maxLength": 10}}, {"a": {"type": "string", "maxLength": 5}}, True, "maxLength tightened"),
        ({"a": {"type": "string", "maxLength": 5}}, {"a": {"type": "string", "maxLength": 10}}, False, "schema changed"),
    ],
)
def test_input_changes_classified(old, new, breaking, why):
    [c] = diff_inputs(old, new)
    assert c.breaking is breaking
    assert why in c.why


def test_real_input_changes_in_git(repo):
    text = _reply(**{"enum: [formal, friendly]": "enum: [formal]", "default: friendly": "default: formal",
                     "  ticket: string": "  ticket: string\n  order: integer"})
    repo.commit("inputs", {"prompts/reply.prompt.yaml": text})
    changes, p = _changes(_diff(repo, "HEAD~1", "HEAD"), "reply")
    assert changes["inputs.order"].kind == "added" and changes["inputs.order"].breaking
    assert changes["inputs.tone"].breaking and "'friendly' no longer allowed" in changes["inputs.tone"].why
    assert p.breaking


def test_added_removed_renamed(repo):
    repo.git("mv", "prompts/stable.prompt.yaml", "prompts/steady.prompt.yaml")
    repo.git("rm", "-q", "prompts/other.prompt.yaml")
    repo.commit("moves", {"prompts/new.prompt.yaml": "messages: [{role: user, content: hi}]\n"})
    d = _diff(repo, "v1", "HEAD")
    status = {p.name: p.status for p in d.prompts}
    assert status == {"new": "added", "other": "removed", "steady": "renamed"}
    [renamed] = [p for p in d.prompts if p.status == "renamed"]
    assert renamed.old_name == "stable" and renamed.old_hash == renamed.new_hash
    assert d.breaking  # a removed prompt breaks its callers
    assert [p.breaking for p in d.prompts if p.name == "new"] == [False]


def test_message_text_diff(repo):
    repo.write({"prompts/reply.prompt.yaml": _reply(**{"Answer in a": "Always answer in a"})})
    changes, _ = _changes(_diff(repo), "reply")
    c = changes["messages[0] (system)"]
    assert "-Answer in a {{ tone }} tone." in c.diff
    assert "+Always answer in a {{ tone }} tone." in c.diff
    assert c.why == "[-Answer-]{+Always answer+}"


def test_partial_change_reported_on_every_includer(repo):
    repo.write({"prompts/partials/policy.j2": "Be kind and brief.\n"})
    d = _diff(repo)
    names = sorted(p.name for p in d.prompts)
    assert names == ["other", "reply"]
    for name in names:
        changes, p = _changes(d, name)
        c = changes["partial partials/policy.j2"]
        assert c.kind == "changed" and "+Be kind and brief." in c.diff
        assert p.old_hash != p.new_hash


def test_dataset_changes(repo):
    repo.write(
        {
            "evals/reply.eval.yaml": """\
                prompt: reply
                cases:
                  - {id: a, inputs: {ticket: x}, golden: "new golden"}
                  - {id: c, inputs: {ticket: z}}
                """
        }
    )
    d = _diff(repo)
    [ds] = d.datasets
    assert ds.path == "evals/reply.eval.yaml"
    assert (ds.cases_added, ds.cases_removed, ds.goldens_changed) == (["c"], ["b"], ["a"])


def test_render_diffs_what_the_model_sees(repo):
    repo.write({"prompts/partials/policy.j2": "Be kind, always.\n"})
    old, new, _ = __import__("promptctl.diff", fromlist=["x"]).resolve_diff_args(repo.root, [])
    d = diff_projects(old, new, names=["reply"], render=True)
    [p] = d.prompts
    [r] = p.rendered
    assert r["sample"] == "refund" and r["error"] is None
    assert "-Be kind." in r["diff"] and "+Be kind, always." in r["diff"]
    assert " [system]" in r["diff"] or " Answer in a friendly tone." in r["diff"]


def test_names_filter(repo):
    repo.write({"prompts/partials/policy.j2": "Changed.\n"})
    d = _diff(repo, "other")
    assert [p.name for p in d.prompts] == ["other"]
    assert d.datasets == []


def test_cli_formats_and_exit_codes(repo, cli):
    repo.write({"prompts/reply.prompt.yaml": _reply(**{"  ticket: string": "  ticket: string\n  order: integer"})})
    r = cli(["diff"], cwd=repo.root)
    assert r.code == 0, r.err
    assert "M reply" in r.out and "BREAKING added inputs.order" in r.out
    r = cli(["diff", "--stat"], cwd=repo.root)
    assert r.out.splitlines()[1].startswith("M reply") and "BREAKING" in r.out.splitlines()[1]
    r = cli(["diff", "--format", "json"], cwd=repo.root)
    data = json.loads(r.out)
    assert data["breaking"] is True and data["prompts"][0]["name"] == "reply"
    assert {"field": "inputs.order", "kind": "added", "breaking": True}.items() <= data["prompts"][0]["changes"][0].items()
    r = cli(["diff", "--format", "markdown"], cwd=repo.root)
    assert r.out.startswith("### promptctl diff")
    assert "| M | `reply` |" in r.out and "<details>" in r.out and "**BREAKING**" in r.out
    assert cli(["diff", "--exit-code"], cwd=repo.root).code == 1
    assert cli(["diff", "--fail-on-breaking"], cwd=repo.root).code == 1
    assert cli(["diff", "HEAD", "HEAD", "--exit-code"], cwd=repo.root).code == 0


def test_cli_no_breaking_exit_zero(repo, cli):
    repo.write({"prompts/reply.prompt.yaml": _reply(**{"temperature: 0.2": "temperature: 0.3"})})
    r = cli(["diff", "--fail-on-breaking"], cwd=repo.root)
    assert r.code == 0 and "params.temperature: 0.2 -> 0.3" in r.out


@pytest.mark.parametrize("rev", ["--output=/tmp/x", "-x"])
def test_revision_starting_with_dash_refused(repo, rev):
    with pytest.raises(UsageError, match="may not start with '-'"):
        open_project(repo.root, ref=rev)


def test_bad_revisions(repo, cli):
    r = cli(["diff", "nosuchbranch"], cwd=repo.root)
    assert r.code == 2 and "'nosuchbranch' is neither a prompt name nor a version" in r.err
    r = cli(["diff", "v7"], cwd=repo.root)
    assert r.code == 2 and "prompts/v7 does not exist" in r.err
    r = cli(["render", "reply", "--ref", "HEAD~5", "-i", "ticket=x"], cwd=repo.root)
    assert r.code == 2 and "unknown revision 'HEAD~5'" in r.err


def test_render_at_a_revision_and_tag(repo, cli):
    repo.commit("two", {"prompts/reply.prompt.yaml": _reply(**{"Answer in a": "Reply in a"})})
    old = cli(["render", "reply", "--ref", "v1", "-i", "ticket=x"], cwd=repo.root)
    new = cli(["render", "reply", "-i", "ticket=x"], cwd=repo.root)
    assert "Answer in a friendly tone." in old.out and "Reply in a friendly tone." in new.out


def test_repository_without_commits(git_repo, cli):
    git_repo.write(BASE)
    r = cli(["diff"], cwd=git_repo.root)
    assert r.code == 2 and "no commits yet" in r.err


def test_not_a_git_repository(project, cli):
    r = cli(["diff", "HEAD"], cwd=project)
    assert r.code == 2 and "not inside a git repository" in r.err


def test_project_in_a_subfolder_of_the_repo(git_repo, cli):
    files = {f"sub/{k}": v for k, v in BASE.items()}
    git_repo.commit("base", files)
    git_repo.write({"sub/prompts/partials/policy.j2": "Changed.\n"})
    r = cli(["diff", "--stat"], cwd=git_repo.root / "sub")
    assert r.code == 0 and "M other" in r.out and "M reply" in r.out


def test_symlink_in_git_tree_leaving_root_is_refused(git_repo):
    import os

    git_repo.write(BASE)
    os.symlink("../../promptctl.yaml", git_repo.root / "prompts/partials/evil.j2")
    git_repo.commit("evil", {"prompts/bad.prompt.yaml": "messages: [{role: user, content: \"{% include 'partials/evil.j2' %}\"}]\n"})
    from promptctl.errors import IncludeError

    proj = open_project(git_repo.root, ref="HEAD")
    with pytest.raises(IncludeError, match="resolves outside prompts"):
        proj.get_prompt("bad")


def test_text_and_word_diff_helpers():
    assert text_diff("a\nb\n", "a\nc\n") == ["@@ -1,2 +1,2 @@", " a", "-b", "+c"]
    assert word_diff("the quick fox", "the slow fox") == "the [-quick-]{+slow+} fox"


# -- log -------------------------------------------------------------------------------------------


def test_log_follows_changes_partials_and_renames(repo, cli):
    repo.commit("unrelated", {"README.md": "hi\n"})
    repo.commit("kinder policy", {"prompts/partials/policy.j2": "Be very kind.\n"})
    repo.git("mv", "prompts/reply.prompt.yaml", "prompts/answer.prompt.yaml")
    repo.commit("rename reply")
    r = cli(["log", "answer", "--format", "json"], cwd=repo.root)
    assert r.code == 0, r.err
    entries = json.loads(r.out)
    assert [(e["prompt"], e["change"], e["subject"]) for e in entries] == [
        ("answer", "renamed", "rename reply"),
        ("reply", "changed", "kinder policy"),
        ("reply", "created", "base"),
    ]
    assert entries[0]["old_name"] == "reply" and entries[0]["hash"] == entries[1]["hash"]
    assert entries[0]["author"] == "Ann Author"
    r = cli(["log"], cwd=repo.root)
    lines = r.out.splitlines()
    assert any("answer@" in line and "renamed from reply" in line for line in lines)
    assert not any("deleted" in line for line in lines)  # the rename is not also a deletion
    assert sum("created" in line for line in lines) == 3  # reply, other, stable in the first commit
    assert not any("unrelated" in line for line in lines)


def test_log_unknown_prompt(repo, cli):
    r = cli(["log", "nope"], cwd=repo.root)
    assert r.code == 2 and "'nope' is not in the history" in r.err


def test_log_starts_from_a_version_a_channel_or_a_revision(git_repo, git_env, cli):
    """`log --ref` takes every version name the other commands take (and --rev still works)."""
    from promptctl.scaffold import init_project

    init_project(git_repo.root)
    git_repo.commit("example")
    assert cli(["publish", "-m", "first", "--channel", "production"], cwd=git_repo.root).code == 0
    summary = git_repo.root / "prompts/summarize.prompt.yaml"
    git_repo.commit("shorter summaries", {"prompts/summarize.prompt.yaml": summary.read_text().replace("Summarize", "Briefly summarize")})

    def subjects(*args):
        r = cli(["log", "summarize", "--format", "json", *args], cwd=git_repo.root)
        assert r.code == 0, r.err
        return [e["subject"] for e in json.loads(r.out)]

    assert subjects() == ["shorter summaries", "example"]
    assert subjects("--ref", "v1") == subjects("-r", "production") == subjects("--rev", "HEAD~1") == ["example"]
    r = cli(["log", "--ref", "v9"], cwd=git_repo.root)
    assert r.code == 2 and "cannot read history from 'v9'" in r.err


def test_a_defaults_change_in_a_dataset_says_what_changed(repo, cli):
    """A `defaults.inputs` change is said once, with its values; other case changes per case;
    datasets are marked M like prompts; --stat --format markdown is the table alone."""
    repo.write({"evals/reply.eval.yaml": """\
        prompt: reply
        defaults:
          inputs: {tone: formal}
        cases:
          - {id: a, inputs: {ticket: x}, golden: "old golden"}
          - {id: b, inputs: {ticket: y2}}
        """})
    r = cli(["diff"], cwd=repo.root)
    assert r.code == 0, r.err
    assert "M dataset evals/reply.eval.yaml (reply)" in r.out
    assert "  changed: inputs.tone (none) -> 'formal' (every case), b: inputs.ticket" in r.out
    r = cli(["diff", "--stat"], cwd=repo.root)
    assert any(line.startswith("M evals/reply.eval.yaml") for line in r.out.splitlines()), r.out
    repo.write({"prompts/partials/policy.j2": "Be kind, always.\n"})
    full = cli(["diff", "--format", "markdown"], cwd=repo.root).out
    table = cli(["diff", "--stat", "--format", "markdown"], cwd=repo.root).out
    assert "| M | `evals/reply.eval.yaml` | dataset | inputs.tone (none) -> 'formal' (every case), b: inputs.ticket |" in table
    assert "<details>" in full and "<details>" not in table
