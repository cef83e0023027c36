"""``is-sql`` and ``contains-sql``: the output is (or holds, in a fenced block) SQL that parses.

promptfoo parses with node-sql-parser; promptctl with sqlglot (``pip install 'promptctl[sql]'``), a
well-kept pure-Python parser, imported only when one of these runs. The value is optional:
``{databaseType: MySQL, allowedTables: [...], allowedColumns: [...]}`` as in promptfoo (a whitelist
entry is a name, or node-sql-parser's ``select::null::users`` form, of which the last part counts).
promptfoo's extra checks are kept: unbalanced backticks, two bare names between SELECT and FROM (a
missing comma), ``generate_series`` under MySQL. sqlglot is more lenient than node-sql-parser on
some dialect details (a trailing comma in a select list parses), so such outputs pass here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..errors import DependencyError
from .assertions import AssertionSetupError, Judge, Outcome, Subject, _show

#: promptfoo's databaseType names (node-sql-parser's) -> sqlglot dialects
DIALECTS = {
    "mysql": "mysql", "mariadb": "mysql", "postgresql": "postgres", "postgres": "postgres", "sqlite": "sqlite",
    "transactsql": "tsql", "tsql": "tsql", "bigquery": "bigquery", "snowflake": "snowflake", "redshift": "redshift",
    "hive": "hive", "athena": "athena", "trino": "trino", "db2": "postgres", "flinksql": "spark", "noql": "postgres",
}
_MODIFIERS = ("distinct", "distinctrow", "all", "high_priority", "straight_join", "sql_no_cache", "sql_cache",
              "sql_calc_found_rows", "sql_small_result", "sql_big_result", "sql_buffer_result")
_MISSING_COMMA = re.compile(
    r"\bselect\s+(?!(?:" + "|".join(_MODIFIERS) + r")\b)([A-Za-z_][\w.]*)\s+([A-Za-z_][\w.]*)\s+from\b", re.I)
_FENCE = re.compile(r"(```|~~~)[ \t]*(sql)?[ \t]*\n([\s\S]*?)\1", re.I)


def _sqlglot() -> Any:
    try:
        import sqlglot
    except ImportError:
        raise DependencyError("is-sql and contains-sql need sqlglot",
                              hint="pip install 'promptctl[sql]'") from None
    return sqlglot


def _options(spec: Mapping[str, Any]) -> tuple[str, str, list[str] | None, list[str] | None]:
    value = spec.get("value")
    if value in (None, ""):
        value = {}
    if not isinstance(value, Mapping):
        raise AssertionSetupError(f"{spec.get('type')}'s value is a mapping {{databaseType, allowedTables, "
                                  f"allowedColumns}} (or none), not {_show(value)}")
    shown = str(value.get("databaseType") or "MySQL")
    dialect = DIALECTS.get(shown.lower().replace(" ", ""))
    if dialect is None:
        raise AssertionSetupError(f"unknown databaseType {shown!r}: one of " + ", ".join(sorted(DIALECTS)))

    def names(key: str) -> list[str] | None:
        raw = value.get(key)
        if raw is None:
            return None
        if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
            raise AssertionSetupError(f"{key} is a list of names")
        return [x.split("::")[-1].lower() for x in raw]

    return shown, dialect, names("allowedTables"), names("allowedColumns")


def sql_problem(text: str, spec: Mapping[str, Any]) -> str | None:
    """Why ``text`` is not SQL as ``spec`` asks (None: it is)."""
    shown, dialect, tables, columns = _options(spec)
    text = text.strip()
    if not text:
        return "the output is empty"
    problems = []
    if text.count("`") % 2:
        problems.append("it has an odd number of backticks")
    found = _MISSING_COMMA.search(text)
    if found:
        problems.append(f"a comma seems missing between {found.group(1)} and {found.group(2)}")
    if dialect == "mysql" and re.search(r"\bgenerate_series\s*\(", text, re.I):
        problems.append("generate_series is not a MySQL function")
    sqlglot = _sqlglot()
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    statements = tuple(getattr(exp, name) for name in (
        "Query", "DML", "DDL", "Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "Show", "Grant",
        "Command", "Use", "Set", "Describe", "Transaction", "Commit", "Rollback", "Pragma", "Cache", "Uncache")
        if hasattr(exp, name))
    try:
        trees = [t for t in sqlglot.parse(text, read=dialect) if t is not None]
    except SqlglotError as e:
        detail = str(e).splitlines()[0] if str(e) else type(e).__name__
        return "; ".join([*problems, f"it is not valid {shown} SQL ({detail[:160]})"])
    if not trees or not all(isinstance(t, statements) for t in trees):
        problems.append(f"it is not a {shown} SQL statement")
    if problems:
        return "; ".join(problems)
    if tables is not None:
        used = sorted({t.name.lower() for tree in trees for t in tree.find_all(exp.Table) if t.name})
        bad = [t for t in used if t not in tables]
        if bad:
            return f"it uses tables that are not allowed: {', '.join(bad)} (allowed: {', '.join(tables) or 'none'})"
    if columns is not None:
        used = sorted({c.name.lower() for tree in trees for c in tree.find_all(exp.Column) if c.name})
        bad = [c for c in used if c not in columns]
        if bad:
            return f"it uses columns that are not allowed: {', '.join(bad)} (allowed: {', '.join(columns) or 'none'})"
    return None


def _is_sql(spec: Mapping[str, Any], s: Subject, judge: Judge, inverse: bool) -> Outcome:
    problem = sql_problem(s.output, spec)
    return problem is None, float(problem is None), problem or "valid SQL"


def _contains_sql(spec: Mapping[str, Any], s: Subject, judge: Judge, inverse: bool) -> Outcome:
    """Some fenced block (```sql, ``` or ~~~) holds SQL that passes is-sql; without a block, the whole output."""
    blocks = [m.group(3) for m in _FENCE.finditer(s.output)] or [s.output]
    problem = None
    for block in blocks:
        problem = sql_problem(block, spec)
        if problem is None:
            return True, 1.0, "contains valid SQL"
    return False, 0.0, f"no valid SQL in the output: {problem}"


CHECKS = {"is-sql": _is_sql, "contains-sql": _contains_sql}
