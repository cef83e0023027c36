"""Report formats: text (ruff-style), json, sarif (SARIF 2.1.0 for GitHub code scanning) and github (workflow commands).

Each function returns the whole report as a string for stdout; the summary
line for stderr comes from :func:`summary`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from .. import __version__
from .rules import RULES, Finding

INFORMATION_URI = "https://promptctl.dev"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
FORMATS = ("text", "json", "sarif", "github")


def text(findings: Sequence[Finding]) -> str:
    """``path:line:col: PC201 message`` per finding; warnings carry ``[warning]`` before the message."""
    out = []
    for f in findings:
        tag = "[warning] " if f.severity == "warning" else ""
        out.append(f"{f.path}:{f.line}:{f.col}: {f.code} {tag}{f.message}\n")
    return "".join(out)


def as_json(findings: Sequence[Finding]) -> str:
    """A JSON list of finding objects: code, severity, path, line, col, message, rule."""
    return json.dumps([f.to_json() for f in findings], indent=2, ensure_ascii=False) + "\n"


def _first_paragraph(text: str) -> str:
    return " ".join(text.split("\n\n", 1)[0].split())


def sarif(findings: Sequence[Finding]) -> str:
    """A SARIF 2.1.0 log with one run: every rule (with help text) and every finding."""
    codes = list(RULES)
    rules = []
    for code in codes:
        r = RULES[code]
        config: dict[str, object] = {"level": r.severity}
        if not r.default:
            config["enabled"] = False
        rules.append(
            {
                "id": r.code,
                "name": r.name,
                "shortDescription": {"text": r.summary},
                "fullDescription": {"text": _first_paragraph(r.explanation)},
                "help": {"text": r.explanation, "markdown": r.explanation},
                "defaultConfiguration": config,
                "properties": {"tags": [r.family]},
            }
        )
    results = [
        {
            "ruleId": f.code,
            "ruleIndex": codes.index(f.code),
            "level": f.severity,
            "message": {"text": f.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": f.uri or f.path},
                        "region": {"startLine": f.line, "startColumn": f.col},
                    }
                }
            ],
        }
        for f in findings
    ]
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "promptctl",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": rules,
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def github(findings: Sequence[Finding]) -> str:
    """``::error file=…,line=…,col=…,title=PC201::message`` per finding (``::warning`` for warnings)."""
    out = []
    for f in findings:
        props = ",".join(
            f"{k}={_escape_property(str(v))}"
            for k, v in (("file", f.uri or f.path), ("line", f.line), ("col", f.col), ("title", f.code))
        )
        out.append(f"::{f.severity} {props}::{_escape_data(f.message)}\n")
    return "".join(out)


def render(fmt: str, findings: Sequence[Finding]) -> str:
    """The report in format ``fmt`` (one of :data:`FORMATS`)."""
    return {"text": text, "json": as_json, "sarif": sarif, "github": github}[fmt](findings)


from ..text import plural as _plural  # noqa: E402


def summary(errors: int, warnings: int, files: int) -> str:
    """The one line for stderr: what was found, in how many files."""
    checked = f"{_plural(files, 'file')} checked"
    if not errors and not warnings:
        return f"All checks passed ({checked})."
    parts = [_plural(errors, "error")] if errors else []
    if warnings:
        parts.append(_plural(warnings, "warning"))
    return f"Found {' and '.join(parts)} ({checked})."
