"""A prompt's identity: Prompt.hash / short_hash / ref over its canonical, include-resolved content."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import write_tree

from promptctl.model import Prompt, content_hash
from promptctl.project import open_project

CONFIG = "promptctl: 1\ndefaults: {model: openai/gpt-4o-mini, params: {temperature: 0}}\n"

BASE = """\
description: Reply to a ticket.
model: openai/gpt-4o-mini
params: {temperature: 0.2, max_tokens: 400}
fallbacks: [anthropic/claude-3-5-haiku-latest]
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
output: {format: json, schema: {type: object, required: [reply]}}
samples:
  - {name: refund, inputs: {ticket: "refund please"}}
tags: [support]
owners: [team-support]
"""

BLOCK = """\
owners:
  - team-support
tags:
  - support
samples:
  - name: refund
    inputs:
      ticket: refund please
output:
  schema:
    required:
      - reply
    type: object
  format: json
messages:
  - content: |
      Answer in a {{ tone }} tone.
      {% include "partials/policy.j2" %}
    role: system
  - history: history
  - content: '{{ ticket }}'
    role: user
inputs:
  ticket:
    maxLength: 8000
    type: string
  tone:
    default: friendly
    enum:
      - formal
      - friendly
    type: string
  history:
    default: []
    type: array
fallbacks:
  - anthropic/claude-3-5-haiku-latest
params:
  max_tokens: 400
  temperature: 0.2
model: openai/gpt-4o-mini
description: Reply to a ticket.
"""

POLICY = "Never promise refunds.\n{% include 'partials/legal.j2' %}\n"
LEGAL = "Do not give legal advice.\n"


@pytest.fixture
def load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Write a fresh project (a new directory per call) and load one prompt from it."""
    count = 0

    def run(prompt: str = BASE, *, name: str = "support/reply", files: dict[str, str] | None = None) -> Prompt:
        nonlocal count
        count += 1
        root = write_tree(
            tmp_path / f"proj{count}",
            {
                "promptctl.yaml": CONFIG,
                f"prompts/{name}.prompt.yaml": prompt,
                "prompts/partials/policy.j2": POLICY,
                "prompts/partials/legal.j2": LEGAL,
                **(files or {}),
            },
        )
        monkeypatch.chdir(root)
        return open_project(root).get_prompt(name)

    return run


def test_hash_and_ref_format(load):
    p = load()
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", p.hash)
    assert re.fullmatch(r"[0-9a-f]{7}", p.short_hash)
    assert p.hash == "sha256:" + p.hash[7:]
    assert p.short_hash == p.hash[7:14]
    assert p.ref == f"support/reply@{p.short_hash}"
    assert p.hash == content_hash(p.identity())


def test_identity_is_include_resolved(load):
    p = load()
    assert p.identity()["partials"] == {"partials/legal.j2": LEGAL, "partials/policy.j2": POLICY}


def test_hash_is_stable_across_loads(load, tmp_path):
    first = load()
    again = load()
    assert first.hash == again.hash
    root = tmp_path / "proj1"
    assert open_project(root).get_prompt("support/reply").hash == first.hash


def test_hash_ignores_key_order_and_flow_vs_block_style(load):
    assert load(BLOCK).hash == load(BASE).hash


@pytest.mark.parametrize(
    "old, new",
    [
        ('content: "{{ ticket }}"', "content: '{{ ticket }}'"),
        ("max_tokens: 400}", "max_tokens: 0x190}"),
        ("ticket: {type: string, maxLength: 8000}", "ticket: {maxLength: 8000, type: string}"),
        ("description: Reply to a ticket.\n", "# a comment\n\n"),
    ],
)
def test_hash_ignores_formatting(load, old, new):
    assert old in BASE
    assert load(BASE.replace(old, new)).hash == load(BASE).hash


def test_short_form_input_hashes_like_long_form(load):
    short = "messages:\n  - {role: user, content: '{{ who }}'}\ninputs:\n  who: string\n"
    long = "messages:\n  - {role: user, content: '{{ who }}'}\ninputs:\n  who: {type: string}\n"
    assert load(short).hash == load(long).hash


@pytest.mark.parametrize(
    "old, new",
    [
        ("Answer in a {{ tone }} tone.", "Answer in a {{ tone }}  tone."),
        ("- role: system", "- role: user"),
        ('content: "{{ ticket }}"', 'content: "{{ ticket }}!"'),
        ("  - history: history\n", ""),
        ("model: openai/gpt-4o-mini", "model: openai/gpt-4o"),
        ("temperature: 0.2", "temperature: 0.3"),
        ("max_tokens: 400", "max_tokens: 401"),
        ("fallbacks: [anthropic/claude-3-5-haiku-latest]", "fallbacks: []"),
        ("maxLength: 8000", "maxLength: 8001"),
        ("default: friendly", "default: formal"),
        ("history: {type: array, default: []}", "history: {type: array, default: [], description: past turns}"),
        ("required: [reply]", "required: []"),
        ("output: {format: json,", "output: {format: text,"),
    ],
)
def test_hash_changes_with_what_the_model_sees(load, old, new):
    assert old in BASE
    assert load(BASE.replace(old, new)).hash != load(BASE).hash


def test_hash_changes_when_a_message_name_is_added(load):
    changed = BASE.replace("  - role: user\n", "  - role: user\n    name: alice\n")
    assert load(changed).hash != load().hash


def test_hash_changes_when_a_new_input_is_declared(load):
    changed = BASE.replace("inputs:\n", "inputs:\n  extra: {type: string, default: x}\n")
    assert load(changed).hash != load().hash


def test_hash_changes_with_included_partial_text(load):
    base = load()
    changed = load(files={"prompts/partials/policy.j2": POLICY.replace("Never", "Rarely")})
    assert changed.hash != base.hash


def test_hash_changes_with_nested_partial_text(load):
    base = load()
    changed = load(files={"prompts/partials/legal.j2": LEGAL + "Ever.\n"})
    assert changed.hash != base.hash


def test_hash_changes_when_partial_is_edited_in_place(load, tmp_path):
    before = load()
    (tmp_path / "proj1" / "prompts/partials/legal.j2").write_text("Changed.\n")
    after = open_project(tmp_path / "proj1").get_prompt("support/reply")
    assert (tmp_path / "proj1" / "prompts/support/reply.prompt.yaml").read_text() == BASE
    assert after.hash != before.hash
    assert after.ref != before.ref


def test_hash_ignores_unincluded_partials(load):
    assert load(files={"prompts/partials/unused.j2": "other\n"}).hash == load().hash


@pytest.mark.parametrize(
    "old, new",
    [
        ("description: Reply to a ticket.", "description: Something else entirely."),
        ("tags: [support]", "tags: [support, billing]"),
        ("owners: [team-support]", "owners: [team-billing]"),
        ('{name: refund, inputs: {ticket: "refund please"}}', '{name: other, inputs: {ticket: "x"}}'),
        ("tags: [support]\n", "tags: [support]\nlint: {ignore: [PC201]}\n"),
    ],
)
def test_hash_ignores_metadata(load, old, new):
    assert old in BASE
    changed = load(BASE.replace(old, new))
    assert changed.hash == load(BASE).hash


def test_hash_ignores_removed_metadata(load):
    stripped = "\n".join(
        line
        for line in BASE.splitlines()
        if not line.startswith(("description:", "tags:", "owners:", "samples:", "  - {name: refund"))
    )
    assert load(stripped + "\n").hash == load().hash


def test_copy_under_another_name_has_the_same_hash(load, tmp_path, monkeypatch):
    root = write_tree(
        tmp_path / "both",
        {
            "promptctl.yaml": CONFIG,
            "prompts/support/reply.prompt.yaml": BASE,
            "prompts/support/reply_v2.prompt.yaml": BASE,
            "prompts/partials/policy.j2": POLICY,
            "prompts/partials/legal.j2": LEGAL,
        },
    )
    monkeypatch.chdir(root)
    proj = open_project(root)
    a, b = proj.get_prompt("support/reply"), proj.get_prompt("support/reply_v2")
    assert a.hash == b.hash
    assert a.ref == f"support/reply@{a.short_hash}"
    assert b.ref == f"support/reply_v2@{a.short_hash}"
    assert a.ref != b.ref


def test_moved_prompt_has_the_same_hash(load):
    assert load(name="billing/answer").hash == load().hash
