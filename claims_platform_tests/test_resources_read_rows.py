"""`PlatformResource.read_rows`, the read-only query the actuarial pictures use, in each
environment: the DuckDB file locally, Snowflake in prod (the real connector, answered by fakesnow
in-process, as the other Snowflake tests do; the SQL and `?` binding are the production ones)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import duckdb

from claims_platform.orchestration.resources import PlatformResource

QUERY = "select line_of_business, ibnr from gold.mart_ibnr where valuation_month = ? order by 1"
ROWS = [("COMMERCIAL", dt.date(2024, 2, 1), Decimal("10.50")), ("MEDICAID", dt.date(2024, 1, 1), 3)]


def _create(execute) -> None:
    execute("create schema if not exists gold")
    execute(
        "create table gold.mart_ibnr"
        " (line_of_business varchar, valuation_month date, ibnr decimal(18, 2))"
    )
    for row in ROWS:
        execute("insert into gold.mart_ibnr values (?, ?, ?)", row)


def test_read_rows_locally_reads_the_duckdb_file(tmp_path: Path, monkeypatch):
    database = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(database))
    _create(lambda sql, params=None: con.execute(sql, params))
    con.close()
    monkeypatch.setenv("CLAIMS_ENV", "local")
    monkeypatch.setenv("CLAIMS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CLAIMS_DUCKDB_PATH", str(database))
    rows = PlatformResource().read_rows(QUERY, [dt.date(2024, 2, 1)])
    assert rows == [{"line_of_business": "COMMERCIAL", "ibnr": Decimal("10.50")}]


def test_read_rows_in_prod_queries_snowflake(tmp_path: Path, monkeypatch):
    import fakesnow
    import snowflake.connector

    for name, value in {
        "CLAIMS_ENV": "prod",
        "CLAIMS_DATA_DIR": str(tmp_path),
        "CLAIMS_TOKENIZATION_KEY": "k" * 32,
        "SNOWFLAKE_ACCOUNT": "acme-claims",
        "SNOWFLAKE_USER": "DAGSTER",
        "SNOWFLAKE_ROLE": "TRANSFORMER",
        "SNOWFLAKE_WAREHOUSE": "TRANSFORMING",
        "SNOWFLAKE_DATABASE": "CLAIMS",
    }.items():
        monkeypatch.setenv(name, value)
    with fakesnow.patch():
        setup = snowflake.connector.connect(database="CLAIMS", paramstyle="qmark")
        cursor = setup.cursor()
        _create(lambda sql, params=None: cursor.execute(sql, params))
        setup.close()
        # no DuckDB file anywhere: the rows can only come from "Snowflake"
        rows = PlatformResource().read_rows(QUERY, [dt.date(2024, 2, 1)])
    assert not (tmp_path / "warehouse.duckdb").exists()
    assert rows == [{"line_of_business": "COMMERCIAL", "ibnr": Decimal("10.50")}]
