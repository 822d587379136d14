"""DuckDBWarehouse through the warehouse seam (warehouse/base.py): what silver, the checks and the
command line rely on, asked the way they ask it (writer, commit, screen, reading, read_rows)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from claims_platform.contracts import load_contracts
from claims_platform.silver.job import FILES_MANIFEST
from claims_platform.silver.schema import ledger_columns
from claims_platform.warehouse import duckdb as local
from claims_platform.warehouse.base import (
    BatchConflict,
    BatchOutput,
    QueryError,
    Warehouse,
    ledger_paths,
    reading,
)
from claims_platform.warehouse.duckdb import DuckDBWarehouse

CONTRACTS = load_contracts()
T0 = dt.datetime(2024, 1, 2, 10, 0, 0)
GOOD = "CLAIMS/PLAN/20240102-100000000.csv"
BAD = "CLAIMS/PLAN/20240102-110000000.csv"


@dataclass(frozen=True)
class Listed:
    path: str
    size_bytes: int
    modified_at: dt.datetime


def _file(path: str, status: str, *, rows: int = 0) -> dict:
    row = {name: None for name, _ in ledger_columns()}
    row.update(
        path=path,
        table_name="PLAN",
        file_name=path.rsplit("/", 1)[1],
        format="csv",
        is_full_load=False,
        size_bytes=100,
        checksum_sha256="c1",
        row_count=rows or 1,
        rows_loaded=rows,
        rows_rejected=0,
        status=status,
        reason="unknown Op in row 1" if status == "quarantined" else None,
    )
    return {k: v for k, v in row.items() if k not in ("landed_at", "_batch_id", "processed_at")}


def _batch(tmp: Path, batch_id: str, files: list[dict], plans: int = 0) -> BatchOutput:
    """A finished job's output: `_files.json` and `plans` silver.plan rows of the first file."""
    out = tmp / batch_id
    (out / "plan").mkdir(parents=True)
    (out / FILES_MANIFEST).write_text(json.dumps({"batch_id": batch_id, "files": files}))
    if plans:
        con = duckdb.connect()
        con.execute(
            "COPY (SELECT 'c' || i AS _change_id, 'I' AS _op, ? AS _source_file, "
            "i AS _row_number, ? AS _batch_id, 'P' || i AS plan_id FROM range(?) t(i)) "
            "TO ? (FORMAT parquet)",
            [files[0]["path"], batch_id, plans, str(out / "plan" / "part-0.parquet")],
        )
        con.close()
    return BatchOutput(batch_id, out)


@pytest.fixture
def warehouse(tmp_path: Path) -> DuckDBWarehouse:
    return DuckDBWarehouse(tmp_path / "data" / "warehouse.duckdb", tmp_path / "data" / "w.lock")


def _state(warehouse: Warehouse) -> dict[str, list]:
    """What a batch can write: silver rows, ledger, attempts, batch records."""
    with reading(warehouse) as reader:
        return {
            name: reader.read_rows(sql)
            for name, sql in {
                "plan": "SELECT _batch_id, count(*) AS n FROM silver.plan GROUP BY 1 ORDER BY 1",
                "ledger": "SELECT path, status, _batch_id FROM audit.file_ledger ORDER BY path",
                "attempts": "SELECT path, attempt, status FROM audit.file_attempts ORDER BY 1, 2",
                "batches": "SELECT _batch_id FROM audit.batches ORDER BY 1",
            }.items()
        }


def _commit(warehouse: Warehouse, batch: BatchOutput, paths: list[str]):
    with warehouse.writer() as writer:
        return writer.commit(batch, {p: T0 for p in paths}, CONTRACTS)


def test_a_warehouse_exists_once_a_writer_has_created_it(warehouse):
    assert warehouse.kind == "duckdb"
    assert not warehouse.exists()
    assert warehouse.ledger_totals() == {} and warehouse.quarantined_files() == []
    with warehouse.writer() as writer:
        writer.ensure(CONTRACTS)
    assert warehouse.exists()
    assert warehouse.read_rows("SELECT count(*) AS n FROM audit.file_ledger") == [{"n": 0}]
    with pytest.raises(QueryError, match="CatalogException"):
        warehouse.read_rows("SELECT * FROM silver.no_such_table")


def test_a_commit_that_fails_before_commit_leaves_nothing_and_the_batch_commits_later(
    warehouse, tmp_path, monkeypatch
):
    batch = _batch(tmp_path, "b1", [_file(GOOD, "processed", rows=3)], plans=3)
    with warehouse.writer() as writer:
        writer.ensure(CONTRACTS)
    empty = _state(warehouse)

    def fail_at(name: str) -> None:
        if name == "silver.commit.before_commit":  # rows, ledger and batch row all inserted
            raise RuntimeError("the process died here")

    monkeypatch.setattr(local, "checkpoint", fail_at)
    with pytest.raises(RuntimeError, match="died here"):
        _commit(warehouse, batch, [GOOD])
    assert _state(warehouse) == empty, "nothing of the failed batch is visible"

    monkeypatch.undo()
    summary = _commit(warehouse, batch, [GOOD])
    assert (summary.batch_id, summary.files, summary.rows_by_table) == ("b1", 1, {"plan": 3})
    state = _state(warehouse)
    assert state["plan"] == [{"_batch_id": "b1", "n": 3}]
    assert state["ledger"] == [{"path": GOOD, "status": "processed", "_batch_id": "b1"}]
    assert state["batches"] == [{"_batch_id": "b1"}]


def test_a_batch_holding_a_processed_file_is_refused_and_writes_nothing(warehouse, tmp_path):
    _commit(warehouse, _batch(tmp_path, "b1", [_file(GOOD, "processed", rows=2)], 2), [GOOD])
    before = _state(warehouse)
    again = _batch(tmp_path, "b2", [_file(GOOD, "processed", rows=2), _file(BAD, "processed")], 2)
    with pytest.raises(BatchConflict):
        _commit(warehouse, again, [GOOD, BAD])
    assert _state(warehouse) == before


def test_replaying_a_quarantined_file_replaces_its_ledger_row_and_keeps_the_attempt(
    warehouse, tmp_path
):
    first = [_file(GOOD, "processed", rows=1), _file(BAD, "quarantined")]
    _commit(warehouse, _batch(tmp_path, "b1", first, 1), [GOOD, BAD])
    assert warehouse.quarantined_files() == [(BAD, "PLAN", "unknown Op in row 1")]

    _commit(warehouse, _batch(tmp_path, "b2", [_file(BAD, "processed", rows=2)], 2), [BAD])
    state = _state(warehouse)
    assert state["ledger"] == [
        {"path": GOOD, "status": "processed", "_batch_id": "b1"},
        {"path": BAD, "status": "processed", "_batch_id": "b2"},
    ]
    assert [a for a in state["attempts"] if a["path"] == BAD] == [
        {"path": BAD, "attempt": 1, "status": "quarantined"},
        {"path": BAD, "attempt": 2, "status": "processed"},
    ]
    assert warehouse.quarantined_files() == []
    totals = warehouse.ledger_totals()["PLAN"]
    assert (totals.files, totals.size_bytes, totals.newest_landed_at) == (2, 200, T0)


def test_screening_reads_what_is_new_records_what_changed_and_reads_nothing_twice(
    warehouse, tmp_path
):
    _commit(warehouse, _batch(tmp_path, "b1", [_file(GOOD, "processed", rows=1)], 1), [GOOD])
    new = Listed("CLAIMS/PLAN/20240103-000000000.csv", 10, T0)
    changed = Listed(GOOD, 90, T0 + dt.timedelta(hours=1))  # a reload under a used name
    with warehouse.writer() as writer:
        front = writer.ledger_front()
        screening = writer.screen([new, changed])
    assert front.newest_change == {"CLAIMS/PLAN/": GOOD}
    assert screening.to_read == [new] and screening.quarantined == []
    [change] = screening.changed
    assert (change.path, change.table) == (GOOD, "PLAN")
    assert "size 100 → 90 bytes" in change.reason
    with reading(warehouse) as reader:
        assert [c.path for c in reader.open_changes("plan")] == [GOOD]
        assert ledger_paths(reader, [GOOD, new.path]) == {GOOD}
    # The same version is judged once: screening again records nothing more.
    with warehouse.writer() as writer:
        assert writer.screen([changed]).changed == []
    assert warehouse.acknowledge_changes([GOOD]) == [GOOD]
    assert warehouse.open_changes() == []


def test_row_counts_and_unclassified_columns_name_tables_not_values(warehouse, tmp_path):
    _commit(warehouse, _batch(tmp_path, "b1", [_file(GOOD, "processed", rows=4)], 4), [GOOD])
    with warehouse.writer() as writer:
        assert writer.row_counts(["plan", "member", "rejects"]) == {
            "plan": 4,
            "member": 0,
            "rejects": 0,
        }
        assert writer.unclassified_columns() == {}


def test_a_warehouse_read_that_fails_reports_the_error_type_in_every_implementation(warehouse):
    """What a check sees when its query cannot run: QueryError naming the driver's error type,
    from DuckDB's reader and from Snowflake's connector (fakesnow answers it) alike."""
    import warnings
    from contextlib import closing

    import fakesnow
    import snowflake.connector

    from claims_platform.warehouse.snowflake import SnowflakeLake, SnowflakeWarehouse

    with warehouse.writer() as writer:
        writer.ensure(CONTRACTS)
    with reading(warehouse) as reader, pytest.raises(QueryError) as local_error:
        reader.read_rows("SELECT * FROM silver.no_such_table")
    with warnings.catch_warnings(), fakesnow.patch():
        warnings.simplefilter("ignore", UserWarning)  # fakesnow's note on Arrow copies
        snowflake_warehouse = SnowflakeWarehouse(
            SnowflakeLake(database="CLAIMS", lake_url="s3://claims-lake/"),
            lambda: closing(snowflake.connector.connect(database="CLAIMS")),
        )
        with reading(snowflake_warehouse) as reader:
            assert reader.kind == "snowflake"
            with pytest.raises(QueryError) as snowflake_error:
                reader.read_rows("SELECT * FROM silver.no_such_table WHERE path = ?", ["x"])
    assert str(local_error.value) == "CatalogException"
    assert str(snowflake_error.value) == "ProgrammingError"


def test_the_lock_is_reentrant_in_a_thread_and_exclusive_across_threads(tmp_path):
    """The gold build holds the lock and reads the warehouse again under it (the actuarial
    pictures): that read must not wait for its own step; another thread still waits."""
    import threading

    from filelock import Timeout

    from claims_platform.warehouse.duckdb import warehouse_lock

    lock = tmp_path / "warehouse.lock"
    outcome: list[str] = []

    def other() -> None:
        try:
            with warehouse_lock(lock, timeout_s=0.5):
                outcome.append("acquired")
        except Timeout:
            outcome.append("waited")

    with warehouse_lock(lock, timeout_s=1), warehouse_lock(lock, timeout_s=1):
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert outcome == ["waited"]
    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert outcome == ["waited", "acquired"]
