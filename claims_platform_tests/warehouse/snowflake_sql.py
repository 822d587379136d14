"""Is this SQL valid Snowflake SQL? sqlglot's Snowflake dialect, plus what it cannot model.

sqlglot parses Snowflake queries and most DDL into typed expressions. A few Snowflake-only
statements (masking policies, role grants, `show`) it keeps as an opaque `Command`; those are
accepted only in the exact forms below, and a masking policy's body is parsed as an expression.
Two more guards: a function sqlglot does not know for Snowflake (`Anonymous`) must be on the
allow-list, and no DuckDB-only construct may appear (sqlglot would read DuckDB's `//` integer
division as a Snowflake comment, and parses `read_parquet` as a function call).
"""

from __future__ import annotations

import logging
import re

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

_NAME = r"[A-Za-z_][\w$]*(?:\.[A-Za-z_][\w$]*)*"
_BODY = r"(?P<body>.+?)"
COMMAND_FORMS = [
    re.compile(p, re.IGNORECASE | re.DOTALL)
    for p in (
        r"(show|describe|desc)\s.+",
        rf"create masking policy if not exists {_NAME} as \(val (varchar|date)\) returns "
        rf"(varchar|date) -> {_BODY} comment = '[^']*'",
        rf"alter masking policy {_NAME} set body -> {_BODY}",
        rf"alter (table|view) {_NAME} modify column {_NAME} set masking policy {_NAME}( force)?",
        rf"create role if not exists {_NAME}",
        rf"grant role {_NAME} to role {_NAME}",
        rf"grant [a-z, ]+ on (all|future) (tables|views) in schema {_NAME} to role {_NAME}",
    )
]
# Snowflake functions sqlglot does not model.
KNOWN_FUNCTIONS = {"is_role_in_session", "infer_schema", "system$abort_session"}
DUCKDB_ONLY = re.compile(
    r"//|\b(hugeint|to_months|to_days|read_parquet|read_csv\w*|struct_pack|list_value|"
    r"list_\w+|epoch_ms|regexp_matches|strftime|strptime|string_split|generate_series|"
    r"json_extract_string|unnest)\b|\bdate_diff\s*\(\s*'|\bby name\b",
    re.IGNORECASE,
)
_LEADING_COMMENT = re.compile(r"^\s*/\*.*?\*/\s*", re.DOTALL)
_PARAM = re.compile(r"%\((\w+)\)s|%s")


def _code_only(sql: str) -> str:
    """The SQL without comments and string literals (a URL's `//` is not an operator)."""
    sql = re.sub(r"/\*.*?\*/", " ", sql, flags=re.DOTALL)
    sql = re.sub(r"'(?:[^']|'')*'", "''", sql)
    return re.sub(r"--[^\n]*", " ", sql)


def problems(sql: str, where: str) -> list[str]:
    """What is not valid Snowflake SQL in `sql` (one or more statements), each naming `where`."""
    # Client-side bound parameters are literals by the time Snowflake reads the statement.
    text = _PARAM.sub("'bound'", sql)
    found: list[str] = []
    duckdb = DUCKDB_ONLY.search(_code_only(text))
    if duckdb:
        found.append(f"{where}: DuckDB-only SQL {duckdb.group(0)!r}")
    logger = logging.getLogger("sqlglot")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        statements = sqlglot.parse(text, read="snowflake")
    except ParseError as e:
        return [*found, f"{where}: {str(e).splitlines()[0]}"]
    finally:
        logger.setLevel(level)
    for statement in statements:
        if statement is None:
            continue
        if isinstance(statement, exp.Command):
            found.extend(_command_problems(statement, where))
            continue
        for function in statement.find_all(exp.Anonymous):
            if function.name.lower() not in KNOWN_FUNCTIONS:
                found.append(f"{where}: function {function.name} is not Snowflake's")
    return found


def _command_problems(statement: exp.Command, where: str) -> list[str]:
    text = " ".join(_LEADING_COMMENT.sub("", statement.sql(dialect="snowflake")).split())
    text = text.rstrip(";").strip()
    for form in COMMAND_FORMS:
        match = form.fullmatch(text)
        if match is None:
            continue
        body = match.groupdict().get("body")
        if body is not None:
            try:
                parsed = sqlglot.parse_one(f"select {body}", read="snowflake")
            except ParseError as e:
                return [f"{where}: masking policy body: {str(e).splitlines()[0]}"]
            return [
                f"{where}: function {f.name} is not Snowflake's"
                for f in parsed.find_all(exp.Anonymous)
                if f.name.lower() not in KNOWN_FUNCTIONS
            ]
        return []
    return [f"{where}: statement sqlglot cannot parse and no known form matches: {text[:120]}"]
