"""`PlatformResource.read_rows` (the environment's Warehouse.read_rows), the read-only query the actuarial pictures use, in each
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


def _private_key(path: Path, passphrase: str) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase.encode()),
        )
    )
    return path


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
        # The Snowflake warehouse stages batches from the S3 lake (nothing is read from it here).
        "CLAIMS_LAKE_URI": "s3://claims-lake/lake",
        "CLAIMS_KMS_KEY_ID": "alias/claims-lake",
        # Key-pair authentication, as in production: dagster-snowflake's SnowflakeResource
        # (orchestration/snowflake.py) reads the key before fakesnow answers the connection.
        "SNOWFLAKE_PRIVATE_KEY_PATH": str(_private_key(tmp_path / "rsa_key.p8", "test-only")),
        "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE": "test-only",
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
