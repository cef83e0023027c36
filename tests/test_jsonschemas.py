"""promptctl.jsonschemas: jsonschema without the 0.8 s import of rfc3987_syntax, every format still checked.

Each check runs in a fresh interpreter: in this one jsonschema may have been imported already.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO

pytest.importorskip("rfc3987_syntax")  # what jsonschema[format-nongpl] installs for iri and iri-reference


def fresh(code: str) -> object:
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(REPO)},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_jsonschema_loads_without_the_slow_format_library_and_still_checks_every_format():
    result = fresh(
        "import sys, json\n"
        "from promptctl.jsonschemas import load\n"
        "js = load()\n"
        "before = 'rfc3987_syntax' in sys.modules\n"
        "v = js.Draft202012Validator({'type': 'string', 'format': 'iri'},"
        " format_checker=js.Draft202012Validator.FORMAT_CHECKER)\n"
        "ok, bad = v.is_valid('https://例え.jp/パス'), v.is_valid('http://exa mple.com/')\n"
        "ref = js.Draft7Validator({'format': 'iri-reference'}, format_checker=js.Draft7Validator.FORMAT_CHECKER)\n"
        "other = js.Draft202012Validator({'format': 'date-time'}, format_checker=js.FormatChecker())\n"
        "print(json.dumps([before, ok, bad, ref.is_valid('../a b'), ref.is_valid('../a'),"
        " other.is_valid('2026-12-07T03:00:00Z'), other.is_valid('yesterday'),"
        " sorted(set(js.FormatChecker.checkers) & {'iri', 'iri-reference'}), 'rfc3987_syntax' in sys.modules]))\n"
    )
    assert result == [False, True, False, False, True, True, False, ["iri", "iri-reference"], True]


def test_a_schema_check_of_the_example_imports_no_slow_library(tmp_path):
    """`promptctl test` on the example checks an output schema (jsonschema for its verdicts): without
    rfc3987_syntax, which only an iri format would load."""
    from promptctl.scaffold import init_project

    root = tmp_path / "demo"
    init_project(root)
    probe = ("import sys, json\nfrom promptctl.cli import main\ncode = 0\n"
             "try:\n    main(['test', '--mode', 'replay', '-q'])\nexcept SystemExit as e:\n    code = e.code\n"
             "print(json.dumps([code, 'jsonschema' in sys.modules, 'rfc3987_syntax' in sys.modules]))\n")
    out = subprocess.run([sys.executable, "-c", probe], cwd=root, env={**os.environ, "PYTHONPATH": str(REPO)},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [0, True, False]


def test_a_jsonschema_imported_before_is_used_as_it_is():
    result = fresh(
        "import sys, json\nimport jsonschema\nfrom promptctl.jsonschemas import load\n"
        "print(json.dumps([load() is jsonschema, 'rfc3987_syntax' in sys.modules]))\n"
    )
    assert result == [True, True]


IRIS = ["https://例え.jp/パス", "http://exa mple.com/", "../a", "../a b", "a", "/x/y?q=1#f", "mailto:a@b.c", "", ":",
        "http://[::1]:80/", "urn:isbn:0451450523", "http://a/%zz", 42]


def test_the_iri_formats_give_jsonschema_s_own_verdicts():
    check = ("import sys, json\n{load}\nvalues = json.loads(sys.argv[1])\n"
             "print(json.dumps([[js.Draft202012Validator({{'format': f}}, format_checker=js.Draft202012Validator.FORMAT_CHECKER)"
             ".is_valid(v) for v in values] for f in ('iri', 'iri-reference')]))\n")
    run = [sys.executable, "-c"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    stock, ours = (subprocess.run([*run, check.format(load=load), json.dumps(IRIS)], env=env, capture_output=True,
                                  text=True, timeout=60)
                   for load in ("import jsonschema as js", "from promptctl.jsonschemas import load; js = load()"))
    assert stock.returncode == 0 and ours.returncode == 0, stock.stderr + ours.stderr
    assert json.loads(ours.stdout) == json.loads(stock.stdout)
    assert any(not ok for ok in json.loads(stock.stdout)[0])  # the values do tell valid from invalid
