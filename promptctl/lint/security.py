"""Security rules: secret-shaped strings in project files (PC401) and personal data in prompt text (PC402).

Secrets are searched in the raw text of every file lint reads (prompts,
partials, datasets, case files, promptctl.yaml), so a key in a comment counts
too. A finding never repeats the secret: only its kind prefix and last four
characters (``sk-…a1b2``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .base import Linter

#: (kind, pattern, prefix kept in the redacted form). Anthropic before OpenAI: both start with "sk-".
SECRETS: list[tuple[str, re.Pattern[str], int]] = [
    ("Anthropic API key", re.compile(r"(?<![\w-])sk-ant-(?:[a-z]+\d\d-)?[A-Za-z0-9_-]{32,}"), 7),
    ("OpenAI API key", re.compile(r"(?<![\w-])sk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{32,}"), 3),
    ("AWS access key id", re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"), 4),
    ("GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"), 4),
    ("GitHub token", re.compile(r"\bgithub_pat_[A-Za-z0-9_]{22,}\b"), 11),
    ("private key", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"), -1),
]
_PLACEHOLDER = re.compile(r"^[xX*.0_-]+$")

EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?|\d{2,4}[ .-])\d{3,4}[ .-]\d{3,4}(?![\w-])"
)
#: Reserved example domains (RFC 2606): placeholders, not personal data.
EXAMPLE_DOMAINS = re.compile(r"@(?:[\w-]+\.)*(?:example\.(?:com|org|net)|[\w-]+\.(?:example|test|invalid|localhost))$", re.I)
_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)


def allowed(kind: str, value: str, prefix: int) -> bool:
    """Documented example keys (ending in EXAMPLE) and placeholders (``sk-xxxx...``) are not secrets."""
    if value.upper().endswith("EXAMPLE"):
        return True
    body = value[prefix:] if prefix > 0 else value
    body = re.sub(r"^(?:proj|svcacct|admin|api\d\d|[a-z]+\d\d)-", "", body)
    return bool(_PLACEHOLDER.match(body))


def redact(value: str, prefix: int) -> str:
    """``sk-…a1b2``: the kind prefix and the last four characters only."""
    if prefix < 0:
        return value
    return f"{value[:prefix]}…{value[-4:]}"


def find_secrets(text: str) -> list[tuple[int, str, str]]:
    """``(offset, kind, redacted)`` for every secret-shaped string in ``text``."""
    found: list[tuple[int, str, str]] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern, prefix in SECRETS:
        for m in pattern.finditer(text):
            value = m.group(0)
            if any(s <= m.start() < e for s, e in taken) or allowed(kind, value, prefix):
                continue
            if kind.startswith(("OpenAI", "Anthropic")) and not re.search(r"\d", value[prefix:]):
                continue  # a long dashed word (sk-some-very-long-slug...), not a key
            taken.append((m.start(), m.end()))
            found.append((m.start(), kind, redact(value, prefix)))
    return sorted(found)


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def scan_file(lin: Linter, rel: str) -> None:
    """PC401 for every secret in file ``rel`` (read through the linter's cache)."""
    if not lin.on("PC401"):
        return
    text = lin.text(rel, report=False)
    if not text:
        return
    for offset, kind, shown in find_secrets(text):
        line, col = _position(text, offset)
        if kind == "private key":
            message = "a private key block is committed here; remove it and rotate the key"
        else:
            message = (f"{kind} {shown} is committed here; remove it, rotate it (it may already be in git history), "
                       "and name its environment variable with `api_key_env` instead")
        lin.add("PC401", rel, line, col, message)


def scan_pii(lin: Linter, rel: str, template: str, where: Any) -> None:
    """PC402 for email addresses and phone numbers in the literal text of a template (not in Jinja code)."""
    literal = _JINJA.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), template)
    lines = literal.splitlines()
    for lineno, text in enumerate(lines, 1):
        hits = []
        for m in EMAIL.finditer(text):
            if not EXAMPLE_DOMAINS.search(m.group(0)):
                hits.append((m.group(0), "an email address"))
        for m in PHONE.finditer(text):
            digits = sum(ch.isdigit() for ch in m.group(0))
            if 9 <= digits <= 15:
                hits.append((m.group(0), "a phone number"))
        for value, kind in hits:
            line, col = where.at(lineno, value)
            lin.add("PC402", rel, line, col,
                    f"{kind} in the prompt text ({value[:3]}…); personal data goes to the model provider on "
                    "every call: pass it as an input or remove it")
