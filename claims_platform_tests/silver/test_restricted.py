"""The local committer's restricted schema, without Spark: rejects and the columns added at the
source that no contract classifies land there, never in silver; names are quoted all the way."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from claims_platform.silver.job import FILES_MANIFEST
from claims_platform.silver.schema import ledger_columns
from claims_platform.warehouse.duckdb import commit_batch, ensure_warehouse, unclassified_columns

PATH = "CLAIMS/PLAN/20240102-100000000.csv"
# Legal Oracle column names: SQL keywords, `#`, `$`; and one that may hold SSNs.
ADDED = {"order": "o", "window": "w", "a#b": "h", "x$y": "d", "alt_ssn": "987654329"}


def _batch(tmp: Path, batch_id: str, added: dict[str, str], *, rejects: int = 0) -> Path:
    out = tmp / batch_id
    (out / "plan").mkdir(parents=True)
    file = {name: None for name, _ in ledger_columns()}
    file.update(
        path=PATH,
        table_name="PLAN",
        file_name=PATH.rsplit("/", 1)[1],
        format="csv",
        is_full_load=False,
        size_bytes=100,
        checksum_sha256="c1",
        row_count=2 + rejects,
        rows_loaded=2,
        rows_rejected=rejects,
        status="processed",
        extra_columns=",".join(added) or None,
    )
    for k in ("landed_at", "_batch_id", "processed_at"):
        file.pop(k)
    (out / FILES_MANIFEST).write_text(json.dumps({"batch_id": batch_id, "files": [file]}))
    extra = "".join(f', {i}::varchar || ? AS "{name}"' for i, name in enumerate(added))
    con = duckdb.connect()
    con.execute(
        "COPY (SELECT 'c' || i AS _change_id, 'I' AS _op, ? AS _source_file, "
        f"i AS _row_number, ? AS _batch_id, 'P' || i AS plan_id{extra} FROM range(2) t(i)) "
        "TO ? (FORMAT parquet)",
        [PATH, batch_id, *added.values(), str(out / "plan" / "part-0.parquet")],
    )
    if rejects:
        (out / "rejects").mkdir()
        con.execute(
            "COPY (SELECT 'PLAN' AS table_name, ? AS source_file, 3 AS row_number, 'npi' AS rule, "
            "'row 3: bad NPI' AS reason, '{\"SSN\": \"987654329\"}' AS record, ? AS _batch_id, "
            "now()::timestamp AS rejected_at) TO ? (FORMAT parquet)",
            [PATH, batch_id, str(out / "rejects" / "part-0.parquet")],
        )
    con.close()
    return out


@pytest.fixture
def con():
    con = duckdb.connect()
    ensure_warehouse(con)
    yield con
    con.close()


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [schema, table],
        ).fetchall()
    ]


def test_unclassified_added_columns_are_held_in_restricted_with_quoted_names(con, tmp_path):
    summary = commit_batch(con, _batch(tmp_path, "b1", ADDED, rejects=1), {})
    assert summary.rows_by_table == {"plan": 2, "rejects": 1}
    assert not set(ADDED) & set(_columns(con, "silver", "plan"))
    assert _columns(con, "restricted", "plan__unclassified") == [
        "_change_id",
        "_batch_id",
        "_source_file",
        "_row_number",
        *ADDED,
    ]
    held = con.execute(
        'SELECT s.plan_id, r."order", r."window", r."a#b", r."x$y", r.alt_ssn '
        "FROM restricted.plan__unclassified r JOIN silver.plan s "
        "USING (_change_id, _batch_id, _source_file, _row_number) ORDER BY 1"
    ).fetchall()
    assert held == [
        ("P0", "0o", "1w", "2h", "3d", "4987654329"),
        ("P1", "0o", "1w", "2h", "3d", "4987654329"),
    ]
    assert unclassified_columns(con) == {"plan": list(ADDED)}
    # Rejects: raw rows, restricted too.
    assert con.execute("SELECT count(*) FROM restricted.rejects").fetchone() == (1,)
    assert "rejects" not in {r[0] for r in con.execute("SHOW TABLES FROM silver").fetchall()}


def test_a_later_batch_adds_its_new_columns_to_the_held_ones(con, tmp_path):
    commit_batch(con, _batch(tmp_path, "b1", {"order": "o"}), {})
    second = _batch(tmp_path, "b2", {"order": "p", "group": "g"})
    manifest = json.loads((second / FILES_MANIFEST).read_text())
    manifest["files"][0]["path"] = PATH.replace("100000000", "110000000")
    (second / FILES_MANIFEST).write_text(json.dumps(manifest))
    commit_batch(con, second, {})
    rows = con.execute(
        'SELECT _batch_id, "order", "group" FROM restricted.plan__unclassified ORDER BY ALL'
    ).fetchall()
    assert rows == [("b1", "0o", None), ("b1", "0o", None), ("b2", "0p", "1g"), ("b2", "0p", "1g")]


def test_a_batch_without_added_columns_creates_no_restricted_table(con, tmp_path):
    commit_batch(con, _batch(tmp_path, "b1", {}), {})
    assert unclassified_columns(con) == {}
    assert con.execute("SELECT count(*) FROM silver.plan").fetchone() == (2,)


def test_rejects_kept_in_silver_by_an_older_warehouse_move_to_restricted(tmp_path):
    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    con.execute("CREATE SCHEMA silver")
    con.execute(
        "CREATE TABLE silver.rejects (table_name VARCHAR, source_file VARCHAR, "
        "row_number BIGINT, rule VARCHAR, reason VARCHAR, record VARCHAR, _batch_id VARCHAR, "
        "rejected_at TIMESTAMP)"
    )
    con.execute(
        "INSERT INTO silver.rejects VALUES ('PLAN', ?, 1, 'npi', 'bad', '{}', 'b0', now())", [PATH]
    )
    ensure_warehouse(con)
    assert "rejects" not in {r[0] for r in con.execute("SHOW TABLES FROM silver").fetchall()}
    assert con.execute("SELECT _batch_id FROM restricted.rejects").fetchall() == [("b0",)]
    ensure_warehouse(con)  # idempotent
    assert con.execute("SELECT count(*) FROM restricted.rejects").fetchone() == (1,)
    con.close()
