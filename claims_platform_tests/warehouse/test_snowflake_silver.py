"""Silver into Snowflake: the setup and commit SQL is Snowflake SQL, and the commit's transaction
logic holds when executed against fakesnow (an external stage over a local directory instead of
S3; fakesnow 0.12 does not know COPY's PATTERN option, so that one line is left out there and
validated by sqlglot only)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from claims_platform.warehouse import snowflake as warehouse
from claims_platform_tests.warehouse.snowflake_sql import problems

# fakesnow notes that it copies Arrow results.
pytestmark = pytest.mark.filterwarnings("ignore:Arrow output:UserWarning")

PLAN_ROW = """
    select 'c1' as _change_id, 'I' as _op, timestamp '2024-01-01' as _dms_timestamp,
        null::varchar as _change_seq, true as _is_full_load,
        'CLAIMS/PLAN/LOAD00000001.csv' as _source_file, 'LOAD00000001.csv' as _source_file_name,
        1::bigint as _row_number, 'b1' as _batch_id, timestamp '2024-01-02' as _loaded_at,
        'P1' as plan_id, 'Gold PPO' as plan_name, 'COMMERCIAL' as line_of_business,
        'PPO' as product_type, 'ASO' as funding_type, timestamp '2023-12-01' as updated_at,
        'added at the source' as network_tier
"""


def _manifest(batch_id: str, path: str) -> dict[str, Any]:
    return {
        "batch_id": batch_id,
        "files": [
            {
                "path": path,
                "table_name": "PLAN",
                "file_name": path.rsplit("/", 1)[-1],
                "format": "csv",
                "is_full_load": True,
                "size_bytes": 120,
                "checksum_sha256": "00ff",
                "row_count": 1,
                "rows_loaded": 1,
                "rows_rejected": 0,
                "first_change_at": "2024-01-01 00:00:00.000000",
                "last_change_at": "2024-01-01 00:00:00.000000",
                "status": "processed",
                "reason": None,
                "extra_columns": None,
            }
        ],
    }


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    root = tmp_path / "lake"
    for batch in ("b1", "b2"):
        (root / "batches" / batch / "plan").mkdir(parents=True)
        duckdb.sql(PLAN_ROW).write_parquet(
            str(root / "batches" / batch / "plan" / "part-0.parquet")
        )
    return root


def _parquet_columns(root: Path):
    def columns(table: str, location: str) -> list[str]:
        parts = sorted(str(p) for p in (root / location).glob("*.parquet"))
        if not parts:
            return []
        return [
            r[0] for r in duckdb.sql(f"describe select * from read_parquet({parts})").fetchall()
        ]

    return columns


@pytest.fixture
def snowflake(lake: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    import fakesnow
    import snowflake.connector

    sql_text = warehouse.sql_text

    def without_pattern(name: str, **identifiers: str) -> str:
        text = sql_text(name, **identifiers)
        return text.replace("pattern = '.*[.]parquet'\n", "") if name == "copy_table" else text

    monkeypatch.setattr(warehouse, "sql_text", without_pattern)
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    with fakesnow.patch():
        con = snowflake.connector.connect(database="CLAIMS", schema="SILVER")
        warehouse.setup(con.cursor(), _lake(lake))
        yield con
        con.close()


def _lake(root: Path) -> warehouse.SnowflakeLake:
    return warehouse.SnowflakeLake(database="CLAIMS", lake_url=root.as_uri() + "/")


def _count(con: Any, table: str) -> int:
    return con.cursor().execute(f"select count(*) from {table}").fetchone()[0]


def test_setup_and_commit_sql_is_snowflake_sql():
    lake = warehouse.SnowflakeLake(database="CLAIMS", lake_url="s3://claims-lake/silver/")
    found = []
    for sql, _ in warehouse.setup_statements(lake):
        found += problems(sql, "setup")
    ids = lake.identifiers
    for name, extra in {
        "commit_begin": {},
        "ledger_conflicts": {},
        "copy_table": {"table": "CLAIMS.SILVER.PLAN", "stage": lake.stage, "location": "b/plan/"},
        "batch_columns": {"stage": lake.stage, "location": "b/plan/", "file_format": "F"},
        "ledger_insert": {"columns": "PATH", "placeholders": "%(path)s"},
        "batch_insert": {},
    }.items():
        for statement in warehouse.statements(warehouse.sql_text(name, **ids, **extra)):
            found += problems(statement, name)
    assert found == []
    copy = warehouse.sql_text("copy_table", table="T", stage="S", location="b/plan/")
    assert "match_by_column_name = case_insensitive" in copy
    assert "create stage if not exists CLAIMS.SILVER.LAKE" in warehouse.setup_statements(lake)[3][0]


def test_identifiers_are_checked_before_they_reach_sql():
    with pytest.raises(ValueError, match="not a plain Snowflake identifier"):
        warehouse.identifier("CLAIMS; drop table x")
    with pytest.raises(ValueError, match="not a plain stage path"):
        warehouse._location("batches/../other")


def test_a_batch_and_its_ledger_rows_commit_together(snowflake, lake):
    summary = warehouse.commit_batch(
        snowflake,
        _lake(lake),
        "batches/b1",
        _manifest("b1", "CLAIMS/PLAN/LOAD00000001.csv"),
        {"CLAIMS/PLAN/LOAD00000001.csv": dt.datetime(2024, 1, 1, 12)},
        list_columns=_parquet_columns(lake),
    )
    assert summary.rows_by_table["plan"] == 1
    cursor = snowflake.cursor()
    row = cursor.execute("select plan_id, _batch_id from silver.plan").fetchall()
    assert row == [("P1", "b1")]
    # The column added at the source, classified by no contract, is held apart from silver.
    silver_columns = cursor.execute(
        "select lower(column_name) from information_schema.columns"
        " where table_schema = 'SILVER' and table_name = 'PLAN'"
    ).fetchall()
    assert ("network_tier",) not in silver_columns
    held = cursor.execute(
        "select _change_id, _source_file, _row_number, network_tier"
        " from restricted.plan__unclassified"
    ).fetchall()
    assert held == [("c1", "CLAIMS/PLAN/LOAD00000001.csv", 1, "added at the source")]
    ledger = cursor.execute("select path, status, _batch_id, landed_at from audit.file_ledger")
    assert ledger.fetchall() == [
        ("CLAIMS/PLAN/LOAD00000001.csv", "processed", "b1", dt.datetime(2024, 1, 1, 12))
    ]
    assert _count(snowflake, "audit.batches") == 1


def test_a_file_committed_before_rolls_the_whole_batch_back(snowflake, lake):
    columns = _parquet_columns(lake)
    path = "CLAIMS/PLAN/LOAD00000001.csv"
    warehouse.commit_batch(
        snowflake, _lake(lake), "batches/b1", _manifest("b1", path), {}, list_columns=columns
    )
    with pytest.raises(warehouse.BatchConflict, match="batch b2: 1 of its files"):
        warehouse.commit_batch(
            snowflake, _lake(lake), "batches/b2", _manifest("b2", path), {}, list_columns=columns
        )
    assert _count(snowflake, "silver.plan") == 1
    assert _count(snowflake, "audit.file_ledger") == 1
    assert _count(snowflake, "audit.batches") == 1


def test_a_failure_after_the_copy_leaves_nothing_behind(snowflake, lake, monkeypatch):
    def broken(*args: Any) -> list[dict[str, Any]]:
        raise RuntimeError("ledger rows could not be built")

    monkeypatch.setattr(warehouse, "ledger_rows", broken)
    with pytest.raises(RuntimeError, match="ledger rows"):
        warehouse.commit_batch(
            snowflake,
            _lake(lake),
            "batches/b1",
            _manifest("b1", "CLAIMS/PLAN/LOAD00000001.csv"),
            {},
            list_columns=_parquet_columns(lake),
        )
    assert _count(snowflake, "silver.plan") == 0
    assert _count(snowflake, "audit.file_ledger") == 0


def test_added_columns_named_like_keywords_or_with_oracle_signs_are_quoted(snowflake, lake):
    (lake / "batches" / "b3" / "plan").mkdir(parents=True)
    row = PLAN_ROW.replace(
        "'added at the source' as network_tier",
        "'o' as \"order\", 'w' as \"window\", 'h' as \"a#b\", 'd' as \"x$y\"",
    )
    duckdb.sql(row).write_parquet(str(lake / "batches" / "b3" / "plan" / "part-0.parquet"))
    path = "CLAIMS/PLAN/20240102-000000000.csv"
    warehouse.commit_batch(
        snowflake,
        _lake(lake),
        "batches/b3",
        _manifest("b3", path),
        {},
        list_columns=_parquet_columns(lake),
    )
    held = snowflake.cursor().execute(
        'select "ORDER", "WINDOW", "A#B", "X$Y" from restricted.plan__unclassified'
    )
    assert held.fetchall() == [("o", "w", "h", "d")]
    assert _count(snowflake, "silver.plan") == 1
    assert warehouse.quoted_identifier("a#b") == '"A#B"'
    with pytest.raises(ValueError, match="not a source column name"):
        warehouse.quoted_identifier('x" varchar); drop table t; --')
