"""The lint rules: stable codes, names, default severities and the text of ``--explain``.

Standard library only, so that ``promptctl lint --explain CODE`` and the rule
table load nothing else. Codes are grouped by family, like ruff's:

    PC1xx  files      PC2xx  templates   PC3xx  models
    PC4xx  security   PC5xx  datasets    PC6xx  samples

A code never changes meaning once released; a retired rule keeps its number.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import UsageError

ERROR = "error"
WARNING = "warning"
SEVERITIES = (ERROR, WARNING)


@dataclass(frozen=True, slots=True)
class Rule:
    """One lint rule. ``default`` is False for opt-in rules (enable them with ``--select``)."""

    code: str
    name: str
    family: str
    severity: str
    summary: str
    explanation: str
    default: bool = True
    fix: str = ""  # what `lint --fix` does for a finding of this rule (empty: no safe fix)


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: where it is, which rule found it, and what to do about it.

    ``path`` is the file as shown to the user (relative to the current folder,
    or ``REV:path`` for a git revision); ``uri`` is the same file relative to
    the repository root, for SARIF and GitHub annotations.
    """

    code: str
    severity: str
    path: str
    line: int
    col: int
    message: str
    rule: str
    uri: str = ""
    fix: tuple[str, str] | None = None  # (the text at line:col, its replacement): what `lint --fix` writes

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "code": self.code,
            "severity": self.severity,
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "message": self.message,
            "rule": self.rule,
        }
        if self.fix is not None:
            out["fix"] = {"old": self.fix[0], "new": self.fix[1]}
        return out


def _rule(code: str, name: str, severity: str, summary: str, explanation: str, *, default: bool = True,
          fix: str = "") -> Rule:
    family = {"1": "file", "2": "template", "3": "model", "4": "security", "5": "dataset", "6": "sample"}[code[2]]
    return Rule(code, name, family, severity, summary, explanation.strip(), default, fix)


_ALL = [
    _rule("PC101", "yaml-error", ERROR, "A file cannot be read or parsed.", """
The file is not valid, safe YAML (or a case file line is not valid JSON), is not UTF-8, or is over
the 8 MiB limit. promptctl's loader also refuses duplicate keys, anchors and aliases, tags such as
`!!python/object`, a second document and nesting deeper than 64 levels.

    messages:
      - role: system
    messages: []          # PC101: duplicate key 'messages'

Fix the file at the reported line. Other files are still checked.
"""),
    _rule("PC102", "schema-violation", ERROR, "A file breaks its JSON Schema.", """
Valid YAML that breaks the file's JSON Schema: an unknown field, a missing required field, a wrong
type or value. The message names the JSON path (`messages[1].role`) and suggests the closest field
name for a typo. Every violation in the file is reported, not only the first.

    messages:
      - role: sytem       # PC102: messages[0].role: "sytem" is not one of "system", ...

A value YAML reads as something else because it is unquoted (`yes`, `no`, `on`, `off` are booleans;
`1.10` and `12:30` numbers) is said so, with the word as written.

`promptctl schema prompt|dataset|project` prints the schema; point your editor at it.
""", fix="renames a misspelt field or value to the one allowed name that is close to it (`contnet` -> "
         "`content`, `sytem` -> `system`), and quotes a value YAML read as a boolean or number where a string "
         "is meant (`description: yes` -> `\"yes\"`); a typo with several close names, or whose name is already "
         "used, is left to you."),
    _rule("PC103", "duplicate-prompt-name", ERROR, "Two files define the same prompt name.", """
A prompt's name is its path under the prompt root without `.prompt.yaml`. Two files clash when their
names differ only in letter case (`Support/Reply.prompt.yaml` and `support/reply.prompt.yaml`: the
same file on macOS and Windows), when a suffix differs only in case (`reply.PROMPT.yaml`), or when a
symlink makes one prompt file reachable under two names.

Rename or delete one of them, so that every prompt has exactly one name.
"""),
    _rule("PC104", "unknown-file", WARNING, "A file in the prompt root is neither a prompt nor a used partial.", """
Every file under the prompt root should be a prompt (`*.prompt.yaml`) or a partial that some prompt
includes (directly, through other partials, or possibly through a dynamic include whose pattern
matches it: `{% include "partials/" ~ lang ~ ".j2" %}` makes every `partials/*.j2` a partial). A
partial nothing includes is usually left over; a `reply.prompt.yml` is a prompt with a typo.

Delete or include the file, fix its suffix, or suppress the warning with
`{# promptctl: ignore[PC104] #}` on its first line.
"""),
    _rule("PC105", "unknown-rule-code", WARNING, "A lint setting or suppression names no rule.", """
A code in `lint.ignore` / `lint.severity` (promptctl.yaml), in a prompt's `lint: {ignore: [...]}`,
or in a `# promptctl: ignore[...]` comment matches no rule, so it suppresses nothing: usually a typo.

Fix the code; `promptctl lint --explain CODE` shows what each code means.
"""),
    _rule("PC201", "jinja-syntax-error", ERROR, "A template does not compile.", """
A message's `content` or a partial is not valid Jinja. The error is reported at the file line of the
template line that fails (for a block scalar, `content: |`, every template line is a file line).

    content: "Hello {{ name }"      # PC201: unexpected '}'
"""),
    _rule("PC202", "undeclared-variable", ERROR, "A template uses a variable that is not an input.", """
The template (or a partial it includes) uses a variable that is not declared under `inputs`, is not
set by the template itself (`{% set %}`, `{% for %}`, macros) and is not a Jinja global (`range`,
`dict`, `namespace`, `cycler`, `joiner`, `lipsum`). It would fail at render time (StrictUndefined).
A history splice (`- history: NAME`) must also name a declared input.

    inputs: {ticket: string}
    messages:
      - {role: user, content: "{{ tiket }}"}     # PC202: 'tiket' is not declared

Declare the input, or fix the name.
"""),
    _rule("PC203", "unused-input", WARNING, "A declared input is never used.", """
An input declared under `inputs` is used by no message, no partial the prompt includes and no history
splice. Callers must still pass it (when it has no default), for nothing.

Remove the input, or use it.
"""),
    _rule("PC204", "unknown-attribute", ERROR, "A template reads a field the input's schema does not have.", """
The template reads `{{ user.nmae }}` (or `user["nmae"]`, or a loop variable's field over an array's
`items`) where the input's schema declares `properties` without that field and does not allow extra
ones (`additionalProperties` absent or false). Nested objects are followed (`user.address.city`).
Method calls such as `user.items()` are not checked.

    inputs:
      user: {type: object, properties: {name: {type: string}}}
    messages:
      - {role: user, content: "Hi {{ user.nmae }}"}   # PC204: did you mean 'name'?

Fix the name, or declare the field (or `additionalProperties: true`).
"""),
    _rule("PC205", "missing-partial", ERROR, "An include names a partial that does not exist.", """
`{% include "partials/x.j2" %}` (or import/from/extends) names a file that is not under the prompt
root. Partials are named by their path under the prompt root. `ignore missing` and include lists
(`{% include ["a.j2", "b.j2"] %}`, where one existing candidate is enough) are respected.
"""),
    _rule("PC206", "include-cycle", ERROR, "Partials include each other in a cycle.", """
A partial includes itself, directly or through other partials: rendering would never end. The
message shows the cycle (`partials/a.j2 -> partials/b.j2 -> partials/a.j2`); break it.
"""),
    _rule("PC207", "dynamic-include", WARNING, "An include's target is computed, so it cannot be checked.", """
`{% include "partials/" ~ lang ~ ".j2" %}` or `{% include name %}`: lint cannot know which partial
renders, so it cannot check that it exists, what variables it uses or whether it loops. Lint treats
every file matching the constant parts (`partials/*.j2`) as possibly included.

Prefer explicit includes under `{% if %}`; or suppress with `{# promptctl: ignore[PC207] #}`.
"""),
    _rule("PC208", "sandbox-unsafe", ERROR, "A template reaches for Python internals.", """
Found statically in the template: an attribute or item starting with `_` (`__class__`, `__globals__`,
`_private`), `mro` and frame/code attributes, the `attr` filter (or `map`/`selectattr`/`sort`
`attribute=`) with such a name, `.format()` / `.format_map()` on a string, or calls of `getattr`,
`eval`, `exec`, `open` and similar. The sandbox blocks them at render time; in a prompt they are a
bug or an injection attempt. Use the declared inputs, and Jinja's `format` filter or `~` instead.
"""),
    _rule("PC209", "include-outside-root", ERROR, "An include leaves the prompt root.", """
A partial name with `..`, an absolute path, a backslash, or a symlink whose target is outside the
prompt root. Partials must be real files under the prompt root.
"""),
    _rule("PC301", "unknown-model", ERROR, "A model is neither a known litellm model nor an alias.", """
`model`, `fallbacks`, `defaults.model`, alias targets and `test.grader` must name a model litellm
knows (`gpt-4o-mini`, `openai/gpt-4o-mini`, `anthropic/claude-...`) or an alias under `models:` in
promptctl.yaml. The list is litellm's own model file, read as data: from the installed litellm when
there is one, else from the snapshot shipped with promptctl (no network, litellm is never imported).
An alias with an `api_base` may name any model (a gateway or a self-hosted server), and so may
providers whose model names are the user's own (`ollama/`, `hosted_vllm/`, `azure/` deployments, ...).
The message suggests the closest known names.
"""),
    _rule("PC302", "param-out-of-range", ERROR, "A model parameter is out of its range.", """
`temperature` 0-2 (0-1 for Anthropic models), `top_p` 0-1, `presence_penalty` and `frequency_penalty`
-2 to 2, `max_tokens` and `n` integers of at least 1, and `max_tokens` at most the model's maximum
output tokens (from the model list). Checked in prompts, in `defaults.params` and in alias params.
"""),
    _rule("PC303", "context-window-exceeded", ERROR, "A rendered sample does not fit the model's context window.", """
Each sample is rendered and its size estimated as ceil(characters / 4) tokens over all message
contents, plus 4 tokens per message. When the estimate is over the model's `max_input_tokens`, the
call would be refused. The estimate is rough (no tokenizer is loaded); lower the severity with
`lint.severity: {PC303: warning}` if your text tokenizes better.
"""),
    _rule("PC401", "secret", ERROR, "A secret-shaped string is committed in a project file.", """
An OpenAI (`sk-...`, `sk-proj-...`), Anthropic (`sk-ant-...`), AWS access key id (`AKIA...`), GitHub
(`ghp_...`, `github_pat_...`) token, or a `-----BEGIN ... PRIVATE KEY-----` block, in a prompt,
partial, dataset, case file or promptctl.yaml. The message shows the key redacted (`sk-...a1b2`).
Documented example keys (anything ending in `EXAMPLE`, such as `AKIAIOSFODNN7EXAMPLE`) and
placeholders (`sk-xxxxxxxx...`) are allowed.

Remove the secret and rotate it (it may already be in git history); name the key's environment
variable with `api_key_env` in promptctl.yaml instead.
"""),
    _rule("PC402", "pii", WARNING, "Literal prompt text contains an email address or phone number.", """
Opt-in (enable with `--select PC402` or `lint.severity: {PC402: warning}`). Looks for email addresses
and phone numbers (international `+CC ...` or North American `(555) 123-4567` forms) in the literal
text of templates: Jinja expressions and tags are not searched, input values are not either.
Personal data in a prompt reaches the model provider on every call.
""", default=False),
    _rule("PC501", "unknown-prompt", ERROR, "A dataset names a prompt that does not exist.", """
The dataset's `prompt:` names no prompt file. The message suggests the closest prompt names.
"""),
    _rule("PC502", "invalid-case-inputs", ERROR, "A case's inputs do not match the prompt's inputs.", """
A case (inline, or a row of a JSONL/CSV case file), with the dataset's `defaults.inputs` merged
under it, misses a required input, passes an undeclared one, or a value breaks the input's schema.
The same check as at render time; every problem of the case is listed. CSV values are text: a CSV
cell that reads as a number or boolean is accepted for a number, integer or boolean input.

A string input written unquoted in YAML that YAML reads as something else is pointed at, where it
is written: `NO`, `yes`, `on` and `off` are booleans, and `1.10`, `0123` and `12:30` numbers
(1.1, 83, 750).

    cases:
      - id: norway
        inputs: {country: NO}   # PC502: YAML reads the unquoted NO as boolean false; quote it: "NO"
""", fix="quotes a string input that YAML read as a boolean or number (`country: NO` -> `country: \"NO\"`)"),
    _rule("PC503", "unknown-assertion-type", ERROR, "An assertion or guard type does not exist, or cannot be a guard.", """
Assertion types follow promptfoo's names: equals contains icontains contains-any contains-all
icontains-any icontains-all starts-with regex is-json contains-json json-schema levenshtein similar
word-count is-refusal finish-reason is-xml contains-xml latency cost python llm-rubric factuality
model-graded-closedqa g-eval bleu rouge-n is-valid-openai-tools-call tool-call-f1
context-faithfulness context-recall context-relevance answer-relevance is-sql contains-sql, each with a `not-` form, and
assert-set. A prompt's `guards` take only the deterministic text and JSON checks (equals through
levenshtein, word-count, is-refusal, finish-reason, is-xml, contains-xml), since the application
runs them on every answer. The message suggests the closest type.
"""),
    _rule("PC504", "duplicate-case-id", ERROR, "Two cases of a dataset have the same id.", """
Case ids name cases in reports and recordings, so they must be unique within a dataset (including
cases loaded from JSONL/CSV files).
"""),
    _rule("PC505", "similar-without-golden", ERROR, "A `similar` assertion has nothing to compare with.", """
`{type: similar}` compares the output with the case's `golden`. A case with a `similar` assertion
(its own, from the file reference, or from `defaults.assert`) needs a `golden`, or the assertion
needs a `value` to compare with.
"""),
    _rule("PC506", "untested-prompt", WARNING, "A prompt has no dataset.", """
No `*.eval.yaml` names this prompt, so `promptctl test` never checks it. Add a golden dataset
under the evals folder.
"""),
    _rule("PC507", "missing-case-file", ERROR, "A dataset's case file cannot be found.", """
`cases: [{file: data/tickets.jsonl}]` names a file (relative to the dataset) that does not exist, or
that is outside the project.
"""),
    _rule("PC508", "empty-assertion-value", ERROR, "An assertion's value would pass on every output.", """
`contains: ""` (and `icontains`, `starts-with`, `regex` with an empty value, or an empty item in a
`contains-any`/`contains-all` list) is true of every output, so it checks nothing; promptfoo
refuses it, and `promptctl test` errors the case. Give the text to look for, or remove it.
"""),
    _rule("PC509", "missing-assertion-file", ERROR, "A `file://` assertion value names no file of the project.", """
`value: file://schemas/reply.json` (a schema, a text, a list, or `file://checks.py:fn` for `python`)
is read relative to the dataset file's folder, and must be a file inside the project: a path that
leaves it (`file://../../etc/passwd`) or names nothing fails the case in `promptctl test`. Fix the path.
"""),
    _rule("PC601", "sample-render-error", ERROR, "A sample does not render.", """
Every entry under `samples:` is rendered as a smoke test. Bad inputs (missing, unexpected, wrong
type) and render errors (an undefined field, a sandbox violation, a failing filter) are reported at
the sample's line.
"""),
]

RULES: Mapping[str, Rule] = {r.code: r for r in _ALL}
_BY_NAME = {r.name: r for r in _ALL}


def find_rule(code_or_name: str) -> Rule:
    """The rule with this code (``PC201``) or name (``undeclared-variable``)."""
    key = code_or_name.strip()
    rule = RULES.get(key.upper()) or _BY_NAME.get(key.lower())
    if rule is None:
        close = near_codes(key) or difflib.get_close_matches(key.lower(), list(_BY_NAME), n=3, cutoff=0.6)
        hint = ("did you mean " + ", ".join(close) + "? " if close else "") + "`promptctl lint --list-rules` lists every rule"
        raise UsageError(f"no lint rule {code_or_name!r}", hint=hint)
    return rule


def near_codes(token: str) -> list[str]:
    """Rule codes one typo away from ``token`` (a digit changed, added, dropped, or two swapped):
    PC210 -> PC201, PC21 -> PC201; never an unrelated code (PC999 suggests nothing)."""
    token = token.strip().upper()

    def one_typo(a: str, b: str) -> bool:
        if a == b:
            return False
        if len(a) == len(b):
            diff = [i for i in range(len(a)) if a[i] != b[i]]
            return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
                                      and a[diff[1]] == b[diff[0]])
        short, long_ = sorted((a, b), key=len)
        return len(long_) - len(short) == 1 and any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))

    return [code for code in RULES if one_typo(token, code)][:3]


def explain(rule: Rule) -> str:
    """The text ``promptctl lint --explain CODE`` prints."""
    state = "on by default" if rule.default else "off by default (opt in with --select or lint.severity)"
    return (
        f"{rule.code} {rule.name} ({rule.family} rule, {rule.severity}, {state})\n\n"
        f"{rule.summary}\n\n{rule.explanation}\n\n"
        + (f"Fix: `promptctl lint --fix` {rule.fix}\n\n" if rule.fix else "Fix: none that is always safe; "
           "`promptctl lint --fix` leaves it to you.\n\n")
        + f"Suppress: `# promptctl: ignore[{rule.code}]` on the line (`{{# promptctl: ignore[{rule.code}] #}}` in "
        f"Jinja text), `lint: {{ignore: [{rule.code}]}}` in a prompt, or `lint.ignore` / "
        f"`lint.severity` in promptctl.yaml.\n"
    )


def list_rules() -> str:
    """``promptctl lint --list-rules``: one line per rule, code, name, severity and what it finds (``[*]``
    first when ``lint --fix`` fixes it)."""
    width = max(len(r.name) for r in _ALL)
    return "".join(f"{r.code}  {r.name:<{width}}  {r.severity + ('' if r.default else ', opt-in'):<16}  "
                   f"{'[*] ' if r.fix else ''}{r.summary}\n" for r in _ALL)


def rule_table() -> str:
    """The rule table as Markdown (docs/lint.md's copy is checked against it by the tests)."""
    lines = ["| code | name | severity | what it finds |", "| --- | --- | --- | --- |"]
    for r in _ALL:
        sev = r.severity + ("" if r.default else ", opt-in")
        lines.append(f"| {r.code} | {r.name} | {sev} | {r.summary} |")
    return "\n".join(lines)


def is_code_prefix(token: str) -> bool:
    """True when ``token`` is ``ALL`` or a prefix of at least one rule code (``PC``, ``PC2``, ``PC201``)."""
    token = token.upper()
    return token == "ALL" or any(code.startswith(token) for code in RULES)


def expand(tokens: Iterable[str], *, option: str) -> set[str]:
    """The codes selected by ``tokens`` (codes, prefixes like ``PC2``, or ``ALL``); bad tokens are usage errors."""
    codes: set[str] = set()
    for raw in tokens:
        token = raw.strip().upper()
        if not token:
            continue
        if not is_code_prefix(token):
            close = near_codes(token)
            hint = ("did you mean " + ", ".join(close) + "? " if close else "") + (
                "codes look like PC201; a prefix such as PC2 selects a family")
            raise UsageError(f"{option}: no lint rule matches {raw.strip()!r}", hint=hint)
        codes.update(c for c in RULES if token == "ALL" or c.startswith(token))
    return codes


def split_codes(values: Iterable[str] | None) -> list[str]:
    """``["PC201,PC202", "PC3"]`` -> ``["PC201", "PC202", "PC3"]`` (options may repeat or hold lists)."""
    out: list[str] = []
    for value in values or ():
        out.extend(part.strip() for part in value.split(",") if part.strip())
    return out


def _longest_prefix(code: str, keys: Iterable[str]) -> str | None:
    best = None
    for key in keys:
        k = key.upper()
        if (k == "ALL" or code.startswith(k)) and (best is None or len(k) > len(best)):
            best = key
    return best


@dataclass(frozen=True, slots=True)
class Selection:
    """Which rules run, and at which severity.

    ``select`` (the command line's ``--select``) replaces the default set
    (every rule except the opt-in ones) and may enable opt-in rules;
    ``extend_select`` adds to it; ``ignore`` and the project's ``lint.ignore``
    remove codes; the project's ``lint.severity`` maps a code or prefix
    (the longest match wins) to ``error``, ``warning`` or ``off``, and a
    severity given to an opt-in rule enables it (unless ``--select`` is given).
    """

    enabled: frozenset[str]
    severities: Mapping[str, str]

    @classmethod
    def build(
        cls,
        *,
        select: Iterable[str] | None = None,
        extend_select: Iterable[str] = (),
        ignore: Iterable[str] = (),
        config_ignore: Iterable[str] = (),
        config_severity: Mapping[str, Any] | None = None,  # promptctl.yaml's lint.severity, as written
    ) -> Selection:
        severity_of = dict(config_severity or {})
        if select is None:
            enabled = {c for c, r in RULES.items() if r.default}
            for key, sev in severity_of.items():
                if sev in SEVERITIES and is_code_prefix(key):
                    enabled |= {c for c in RULES if key.upper() == "ALL" or c.startswith(key.upper())}
        else:
            enabled = expand(select, option="--select")
        enabled |= expand(extend_select, option="--extend-select")
        enabled -= expand(ignore, option="--ignore")
        enabled -= {c for c in RULES for t in config_ignore
                    if is_code_prefix(t) and (t.upper() == "ALL" or c.startswith(t.upper()))}
        severities: dict[str, str] = {}
        valid = [k for k in severity_of if is_code_prefix(k)]
        for code in list(enabled):
            match = _longest_prefix(code, valid)
            sev = severity_of[match] if match is not None else RULES[code].severity
            if sev == "off":
                enabled.discard(code)
            else:
                severities[code] = sev
        return cls(frozenset(enabled), severities)

    def severity(self, code: str) -> str | None:
        """The severity of ``code``, or None when the rule does not run."""
        return self.severities.get(code) if code in self.enabled else None


def matches(code: str, tokens: Iterable[str]) -> bool:
    """True when ``code`` is named by one of ``tokens`` (codes or prefixes, case-insensitive)."""
    return any(code.startswith(t.strip().upper()) for t in tokens if t.strip())
