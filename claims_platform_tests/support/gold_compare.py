"""Read the gold schema of a DuckDB warehouse and compare it with the reference model's rows.

* :func:`read_gold` returns every table (and view) of schema ``gold`` as lists of row dicts with
  lower-case column names and the reference model's Python types: DECIMAL -> ``Decimal``
  quantized to 0.01, DOUBLE/REAL -> ``Decimal`` rounded half-up to 0.01 (e.g. a DOUBLE
  ``pmpm_paid``), DATE -> ``date``, TIMESTAMP -> naive ``datetime`` (a TIMESTAMPTZ is converted
  to UTC first); everything else as DuckDB's Python client gives it.
* :func:`diff_gold` compares tables as multisets of rows over the expected columns. Tables only
  in ``actual`` and columns only in ``actual`` (surrogate keys, audit columns) are not compared.
  Values are compared with ``==``, so a ``datetime`` where a ``date`` is expected is a
  difference, while ``int`` vs ``Decimal`` of the same value is not.
* :func:`assert_surrogate_keys` checks ``member_sk`` / ``provider_sk`` are non-null and unique.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

__all__ = ["GOLD_KEYS", "assert_surrogate_keys", "diff_gold", "read_gold"]

CENT = Decimal("0.01")

# Natural key of each gold table, used only to sort rows and to pair a missing row with the
# unexpected row of the same key ("changed" instead of one missing plus one unexpected).
GOLD_KEYS: dict[str, tuple[str, ...]] = {
    "dim_member": ("member_id", "valid_from"),
    "dim_provider": ("provider_id", "valid_from"),
    "dim_plan": ("plan_id",),
    "fct_claim": ("claim_id",),
    "fct_claim_line": ("claim_id", "line_number"),
    "fct_claim_diagnosis": ("claim_id", "dx_seq"),
    "fct_claim_line_adjustment": ("claim_id", "line_number", "adj_seq"),
    "fct_member_month": ("member_id", "year_month"),
    "mart_pmpm": ("year_month", "line_of_business"),
    "mart_claim_lag": ("incurred_month", "paid_month"),
}

SURROGATE_KEYS: tuple[tuple[str, str], ...] = (
    ("dim_member", "member_sk"),
    ("dim_provider", "provider_sk"),
)

MAX_EXAMPLES = 5


def _python_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return value.quantize(CENT, rounding=ROUND_HALF_UP)
    if isinstance(value, float):
        return Decimal(repr(value)).quantize(CENT, rounding=ROUND_HALF_UP)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def read_gold(duckdb_path: str | Path, schema: str = "gold") -> dict[str, list[dict[str, Any]]]:
    """Every table and view of ``schema`` in the DuckDB file, through a read-only connection."""
    import duckdb

    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        names = [
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables"
                " where table_schema = ? and table_catalog = current_database()"
                " order by table_name",
                [schema],
            ).fetchall()
        ]
        gold: dict[str, list[dict[str, Any]]] = {}
        for name in names:
            # Identifiers come from the catalog, not from input; quoting keeps odd names safe.
            quoted = ".".join('"' + part.replace('"', '""') + '"' for part in (schema, name))
            cursor = con.execute(f"select * from {quoted}")
            columns = [d[0].lower() for d in cursor.description]
            gold[name.lower()] = [
                {c: _python_value(v) for c, v in zip(columns, row, strict=True)}
                for row in cursor.fetchall()
            ]
        return gold
    finally:
        con.close()


def _sort_key(values: Sequence[Any]) -> tuple[Any, ...]:
    # None and mixed types (only possible in wrong actual data) must not make sorting fail.
    return tuple((v is None, type(v).__name__, v if v is not None else 0) for v in values)


def _columns(rows: Iterable[Mapping[str, Any]], ignore: set[str]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        for column in row:
            if column not in ignore and column not in columns:
                columns.append(column)
    return columns


def _format_row(columns: Sequence[str], values: Sequence[Any]) -> str:
    return "{" + ", ".join(f"{c}={v!r}" for c, v in zip(columns, values, strict=True)) + "}"


def _diff_table(
    table: str,
    expected_rows: list[Mapping[str, Any]],
    actual_rows: list[Mapping[str, Any]],
    ignore: set[str],
) -> list[str]:
    columns = _columns(expected_rows, ignore) or _columns(actual_rows, ignore)
    if not columns:
        return []
    absent = sorted({c for c in columns for row in actual_rows if c not in row})
    if absent:
        return [f"{table}: column(s) missing in actual: {', '.join(absent)}"]

    expected = Counter(tuple(row.get(c) for c in columns) for row in expected_rows)
    actual = Counter(tuple(row[c] for c in columns) for row in actual_rows)
    missing = sorted((expected - actual).elements(), key=_sort_key)
    unexpected = sorted((actual - expected).elements(), key=_sort_key)
    if not missing and not unexpected:
        return []

    messages = [
        f"{table}: {len(missing)} expected row(s) missing, {len(unexpected)} unexpected row(s)"
        f" (expected {len(expected_rows)} rows, actual {len(actual_rows)})"
    ]
    key_columns = [c for c in GOLD_KEYS.get(table, ()) if c in columns]
    changed: list[tuple[tuple, tuple]] = []
    if key_columns:
        positions = [columns.index(c) for c in key_columns]
        unexpected_by_key: dict[tuple, list[int]] = {}
        for index, values in enumerate(unexpected):
            unexpected_by_key.setdefault(tuple(values[p] for p in positions), []).append(index)
        still_missing, paired = [], set()
        for values in missing:
            candidates = unexpected_by_key.get(tuple(values[p] for p in positions))
            if candidates:
                index = candidates.pop(0)
                paired.add(index)
                changed.append((values, unexpected[index]))
            else:
                still_missing.append(values)
        unexpected = [v for i, v in enumerate(unexpected) if i not in paired]
        missing = still_missing

    for exp, act in changed[:MAX_EXAMPLES]:
        key = ", ".join(f"{c}={exp[columns.index(c)]!r}" for c in key_columns)
        diffs = "; ".join(
            f"{c}: expected {e!r}, actual {a!r}"
            for c, e, a in zip(columns, exp, act, strict=True)
            if e != a
        )
        messages.append(f"{table}: changed row ({key}): {diffs}")
    if len(changed) > MAX_EXAMPLES:
        messages.append(f"{table}: … and {len(changed) - MAX_EXAMPLES} more changed row(s)")
    for label, rows in (("missing", missing), ("unexpected", unexpected)):
        for values in rows[:MAX_EXAMPLES]:
            messages.append(f"{table}: {label} row {_format_row(columns, values)}")
        if len(rows) > MAX_EXAMPLES:
            messages.append(f"{table}: … and {len(rows) - MAX_EXAMPLES} more {label} row(s)")
    return messages


def diff_gold(
    expected: Mapping[str, list[Mapping[str, Any]]],
    actual: Mapping[str, list[Mapping[str, Any]]],
    *,
    ignore_columns: Iterable[str] = ("member_sk", "provider_sk"),
) -> list[str]:
    """Human-readable differences between expected and actual gold; empty when they agree."""
    ignore = set(ignore_columns)
    messages: list[str] = []
    for table in sorted(expected):
        if table not in actual:
            messages.append(
                f"{table}: table missing in actual ({len(expected[table])} rows expected)"
            )
            continue
        messages.extend(_diff_table(table, list(expected[table]), list(actual[table]), ignore))
    return messages


def assert_surrogate_keys(actual: Mapping[str, list[Mapping[str, Any]]]) -> None:
    """Raise AssertionError unless member_sk / provider_sk are present, non-null and unique."""
    problems = []
    for table, column in SURROGATE_KEYS:
        rows = actual.get(table)
        if rows is None:
            problems.append(f"{table}: table missing")
            continue
        if any(column not in row for row in rows):
            problems.append(f"{table}: column {column} missing")
            continue
        values = [row[column] for row in rows]
        nulls = sum(v is None for v in values)
        duplicates = {v: n for v, n in Counter(v for v in values if v is not None).items() if n > 1}
        if nulls:
            problems.append(f"{table}: {nulls} row(s) with NULL {column}")
        if duplicates:
            problems.append(
                f"{table}: {len(duplicates)} duplicated {column} value(s), e.g. "
                f"{next(iter(duplicates))!r}"
            )
    if problems:
        raise AssertionError("; ".join(problems))
