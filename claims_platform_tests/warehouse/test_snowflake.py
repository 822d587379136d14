"""The Snowflake warehouse against Snowflake's protocol on loopback: fakesnow's server reached by
snowflake-connector-python, the lake on moto's S3 (SSE-KMS) read through the external stage
(claims_platform_tests/support/snowflake.py says what the emulator was taught, and why).

Batches are Parquet parts written with pyarrow in the silver layout (silver/schema.py) plus the
job's `_files.json`, uploaded under `batches/<id>/` of the lake as the Glue job leaves them."""

from __future__ import annotations

import datetime as dt
import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from claims_platform.bronze.landing import LandedFile
from claims_platform.dms.files import parse_path
from claims_platform.silver.schema import all_silver_tables
from claims_platform.warehouse import snowflake as sf
from claims_platform.warehouse.base import BatchConflict, BatchOutput
from claims_platform_tests.support.snowflake import SnowflakeServers
from claims_platform_tests.warehouse.snowflake_sql import problems

# fakesnow notes that it copies Arrow results.
pytestmark = pytest.mark.filterwarnings("ignore:Arrow output:UserWarning")

PLAN = next(t for t in all_silver_tables() if t.name == "plan")
T0 = dt.datetime(2024, 1, 1)


def _arrow(type_name: str) -> pa.DataType:
    return {
        "string": pa.string(),
        "integer": pa.int64(),
        "timestamp": pa.timestamp("us"),
        "boolean": pa.bool_(),
    }[type_name]


def plan_rows(path: str, batch_id: str, plan_ids: list[str], **added: str) -> pa.Table:
    """Silver rows of the plan table from one landed file (`added`: columns added at the source)."""
    rows = [
        {
            "_change_id": f"{path}#{i}",
            "_op": "I",
            "_dms_timestamp": T0,
            "_is_full_load": True,
            "_source_file": path,
            "_source_file_name": path.rsplit("/", 1)[-1],
            "_row_number": i + 1,
            "_batch_id": batch_id,
            "_loaded_at": T0,
            "plan_id": plan_id,
            "plan_name": f"plan {plan_id}",
            "updated_at": T0,
            **added,
        }
        for i, plan_id in enumerate(plan_ids)
    ]
    schema = pa.schema(
        [pa.field(n, _arrow(t)) for n, t in PLAN.columns]
        + [pa.field(n, pa.string()) for n in added]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def file_entry(path: str, rows: int, status: str = "processed", **extra: Any) -> dict[str, Any]:
    return {
        "path": path,
        "table_name": "PLAN",
        "file_name": path.rsplit("/", 1)[-1],
        "format": "csv",
        "is_full_load": "LOAD" in path,
        "size_bytes": 100 + rows,
        "checksum_sha256": "00ff",
        "row_count": rows,
        "rows_loaded": 0 if status == "quarantined" else rows,
        "rows_rejected": 0,
        "first_change_at": "2024-01-01 00:00:00.000000",
        "last_change_at": "2024-01-01 00:00:00.000000",
        "status": status,
        "reason": "bad header" if status == "quarantined" else None,
        "extra_columns": None,
        **extra,
    }


@dataclass
class Lake:
    servers: SnowflakeServers
    root: Path
    prefix: str
    written: list[str] = field(default_factory=list)

    def batch(
        self,
        batch_id: str,
        files: list[dict[str, Any]],
        parts: list[pa.Table],
        tables: dict[str, int] | None = None,
    ) -> BatchOutput:
        """A finished silver job run: parts on S3 (SSE-KMS), manifest in the local dir, with
        the job's row count per table (`tables`; by default counted from `files` as the job
        counts them)."""
        local = self.root / batch_id
        local.mkdir(parents=True, exist_ok=True)
        if tables is None:
            loaded = sum(int(f["rows_loaded"] or 0) for f in files)
            tables = {"plan": loaded} if loaded else {}
            tables["rejects"] = sum(int(f["rows_rejected"] or 0) for f in files)
        manifest = {"batch_id": batch_id, "tables": tables, "files": files}
        (local / sf.FILES_MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
        location = f"batches/{batch_id}"
        for i, part in enumerate(parts):
            buffer = io.BytesIO()
            pq.write_table(part, buffer)
            key = f"{self.prefix}{location}/plan/part-{i:05d}.parquet"
            self.servers.put(key, buffer.getvalue())
        # What Spark leaves beside the parts; PATTERN keeps COPY off it.
        self.servers.put(f"{self.prefix}{location}/plan/_SUCCESS", b"")
        return BatchOutput(batch_id=batch_id, local_dir=local, lake_location=location)


@pytest.fixture
def lake(snowflake_servers: SnowflakeServers, tmp_path: Path) -> Lake:
    return Lake(snowflake_servers, tmp_path / "batches", f"lake-{tmp_path.name}/")


@pytest.fixture
def warehouse(snowflake_servers: SnowflakeServers, lake: Lake) -> sf.SnowflakeWarehouse:
    # fakesnow creates the database a session names, as an account's admin would beforehand.
    database = snowflake_servers.database()
    return sf.SnowflakeWarehouse(
        sf.SnowflakeLake(database, f"s3://{snowflake_servers.bucket}/{lake.prefix}"),
        snowflake_servers.connect(database),
        poll_s=0.05,
        wait_s=5,
    )


def _count(warehouse: sf.SnowflakeWarehouse, table: str) -> int:
    return warehouse.read_rows(f"select count(*) as n from {warehouse.lake.database}.{table}")[0][
        "n"
    ]


def _commit(warehouse: sf.SnowflakeWarehouse, batch: BatchOutput) -> Any:
    with warehouse.writer() as writer:
        writer.ensure(warehouse.contracts)
        return writer.commit(batch, {}, warehouse.contracts)


def test_two_batches_commit_with_their_ledger_and_a_second_commit_is_refused(warehouse, lake):
    a, b = "CLAIMS/PLAN/LOAD00000001.csv", "CLAIMS/PLAN/20240102-000000000.csv"
    first = lake.batch("b1", [file_entry(a, 2)], [plan_rows(a, "b1", ["P1", "P2"])])
    second = lake.batch("b2", [file_entry(b, 1)], [plan_rows(b, "b2", ["P3"])])
    assert not warehouse.exists()
    assert _commit(warehouse, first).rows_by_table["plan"] == 2
    assert warehouse.exists()
    assert _commit(warehouse, second).rows_by_table["plan"] == 1
    rows = warehouse.read_rows(
        f"select plan_id, _batch_id from {warehouse.lake.database}.silver.plan order by plan_id"
    )
    assert rows == [
        {"plan_id": "P1", "_batch_id": "b1"},
        {"plan_id": "P2", "_batch_id": "b1"},
        {"plan_id": "P3", "_batch_id": "b2"},
    ]
    totals = warehouse.ledger_totals()["PLAN"]
    assert (totals.files, totals.full_load_files) == (2, 1)

    again = lake.batch("b3", [file_entry(a, 2)], [plan_rows(a, "b3", ["P1", "P2"])])
    with pytest.raises(BatchConflict, match="batch b3: 1 of its files"):
        _commit(warehouse, again)
    assert _count(warehouse, "silver.plan") == 3
    assert _count(warehouse, "audit.file_ledger") == 2
    assert _count(warehouse, "audit.file_attempts") == 2
    assert _count(warehouse, "audit.batches") == 2
    with warehouse.writer() as writer:
        assert writer.row_counts(["plan", "rejects"]) == {"plan": 3, "rejects": 0}


@pytest.mark.parametrize(
    ("point", "how"),
    [
        *(
            (p, "raise")
            for p in (
                "silver.commit.begun",
                "silver.commit.inserted:plan",
                "silver.commit.copied",
                "silver.commit.ledger_inserted",
                "silver.commit.before_commit",
            )
        ),
        ("silver.commit.copied", "connection closed"),
        ("silver.commit.before_commit", "connection closed"),
    ],
)
def test_a_commit_killed_at_any_statement_leaves_nothing_and_the_retry_loads_once(
    warehouse, lake, monkeypatch, point, how
):
    path = "CLAIMS/PLAN/LOAD00000001.csv"
    batch = lake.batch("b1", [file_entry(path, 2)], [plan_rows(path, "b1", ["P1", "P2"])])

    class Killed(Exception):
        pass

    def kill(name: str) -> None:
        if name == point:
            if how.startswith("connection"):
                writer.connection.close()
            raise Killed(name)

    with warehouse.writer() as writer:
        writer.ensure(warehouse.contracts)
    monkeypatch.setattr(sf, "checkpoint", kill)
    with pytest.raises(Exception) as raised, warehouse.writer() as writer:
        writer.commit(batch, {}, warehouse.contracts)
    assert raised.type is Killed or how.startswith("connection")
    monkeypatch.undo()
    assert _count(warehouse, "silver.plan") == 0
    assert _count(warehouse, "audit.file_ledger") == 0
    assert _count(warehouse, "audit.batches") == 0
    # The killed writer's lease: released on exit, or (connection gone) expired.
    warehouse.lease_s = 1 if how.startswith("connection") else warehouse.lease_s
    summary = _commit(warehouse, batch)
    assert summary.rows_by_table["plan"] == 2
    assert _count(warehouse, "silver.plan") == 2
    assert _count(warehouse, "audit.file_ledger") == 1


def test_a_quarantined_file_is_replayed_its_attempts_kept(warehouse, lake):
    path = "CLAIMS/PLAN/LOAD00000001.csv"
    bad = lake.batch("b1", [file_entry(path, 2, status="quarantined")], [])
    assert _commit(warehouse, bad).quarantined[0]["path"] == path
    assert warehouse.quarantined_files() == [(path, "PLAN", "bad header")]
    fixed = lake.batch("b2", [file_entry(path, 2)], [plan_rows(path, "b2", ["P1", "P2"])])
    assert _commit(warehouse, fixed).rows_by_table["plan"] == 2
    assert warehouse.quarantined_files() == []
    attempts = warehouse.read_rows(
        f"select attempt, status, _batch_id from {warehouse.lake.database}.audit.file_attempts"
        " where path = ? order by attempt",
        [path],
    )
    assert attempts == [
        {"attempt": 1, "status": "quarantined", "_batch_id": "b1"},
        {"attempt": 2, "status": "processed", "_batch_id": "b2"},
    ]
    ledger = warehouse.read_rows(
        f"select status, _batch_id from {warehouse.lake.database}.audit.file_ledger"
    )
    assert ledger == [{"status": "processed", "_batch_id": "b2"}]


def test_added_columns_named_like_keywords_or_with_oracle_signs_land_quoted_in_restricted(
    warehouse, lake
):
    path = "CLAIMS/PLAN/20240102-000000000.csv"
    added = {"order": "o", "window": "w", "a#b": "h", "x$y": "d"}
    entry = file_entry(path, 1, extra_columns=",".join(added))
    batch = lake.batch("b1", [entry], [plan_rows(path, "b1", ["P1"], **added)])
    _commit(warehouse, batch)
    db = warehouse.lake.database
    held = warehouse.read_rows(
        f'select "ORDER" as o, "WINDOW" as w, "A#B" as h, "X$Y" as d, _change_id'
        f" from {db}.restricted.plan__unclassified"
    )
    assert held == [{"o": "o", "w": "w", "h": "h", "d": "d", "_change_id": f"{path}#0"}]
    assert _count(warehouse, "silver.plan") == 1
    with warehouse.writer() as writer:
        assert writer.unclassified_columns() == {"plan": ["order", "window", "a#b", "x$y"]}
    silver = warehouse.read_rows(
        f"select lower(column_name) as c from {db}.information_schema.columns"
        " where table_schema = 'SILVER' and table_name = 'PLAN'"
    )
    assert not {"order", "a#b"} & {r["c"] for r in silver}
    assert sf.column_identifier("a#b") == '"A#B"'
    with pytest.raises(ValueError, match="not a source column name"):
        sf.column_identifier('x" varchar); drop table t; --')


def _claim_params(warehouse: sf.SnowflakeWarehouse, name: str) -> dict[str, Any]:
    """writer_claim.sql's parameters for a writer of this database that claims for 1 s."""
    prefix = f"{warehouse.lake.database.upper()}/"
    return {"holder": f"{prefix}{name}", "lease_s": 1, "holder_database": prefix}


def test_a_second_writer_waits_for_the_lease_and_a_dead_writers_lease_expires(warehouse):
    second = sf.SnowflakeWarehouse(warehouse.lake, warehouse.connect, wait_s=0.2, poll_s=0.05)
    with (
        warehouse.writer(),
        pytest.raises(TimeoutError, match="another writer held"),
        second.writer(),
    ):
        pass
    # A writer that died holding the lease (never released): its claim expires. Its holder has
    # no database prefix (a writer from before it): it counts as this database's, and is waited for.
    claim = {**_claim_params(warehouse, "dead-run"), "holder": "dead-run"}
    holder = claim["holder"]
    with warehouse.connect() as con:
        con.cursor().execute(warehouse._sql("writer_claim"), claim)
    late = sf.SnowflakeWarehouse(warehouse.lake, warehouse.connect, wait_s=10, poll_s=0.1)
    with late.writer() as writer:
        assert writer.holder != holder


def test_a_writer_that_dies_inside_a_commit_is_aborted_once_its_lease_expires(warehouse, lake):
    """A killed run's commit transaction stays open with its session (Snowflake keeps a detached
    session for hours), holding the COMMIT_LOCK row: the next writer aborts that session when
    the lease has expired, the dead commit rolls back, and the batch loads exactly once."""
    path = "CLAIMS/PLAN/LOAD00000001.csv"
    batch = lake.batch("b1", [file_entry(path, 2)], [plan_rows(path, "b1", ["P1", "P2"])])
    with warehouse.writer() as writer:
        writer.ensure(warehouse.contracts)
    # The dying run: claims the lease, begins its commit and inserts its ledger rows, then its
    # process is killed: no rollback, no close, the session stays.
    dead = warehouse.connect().__enter__()
    cursor = dead.cursor()
    claim = _claim_params(warehouse, "killed-run")
    cursor.execute(warehouse._sql("writer_claim"), claim)
    for statement in sf.statements(sf.sql_text("commit_begin", **warehouse.lake.identifiers)):
        cursor.execute(statement, claim)
    cursor.execute(
        f"insert into {warehouse.lake.database}.AUDIT.BATCHES (_batch_id) values ('killed')"
    )
    late = sf.SnowflakeWarehouse(warehouse.lake, warehouse.connect, poll_s=0.1, wait_s=10)
    summary = _commit(late, batch)
    assert summary.rows_by_table["plan"] == 2
    assert _count(warehouse, "silver.plan") == 2
    assert _count(warehouse, "audit.file_ledger") == 1
    assert late.read_rows(
        f"select _batch_id from {warehouse.lake.database}.audit.batches order by _batch_id"
    ) == [{"_batch_id": "b1"}]
    with pytest.raises(Exception):  # noqa: B017 - the aborted session is gone, however it says so
        dead.cursor().execute("select 1")


def test_ensure_sends_ddl_only_for_what_is_missing(warehouse):
    """Every run ensures the tables: on a set-up database that is setup.sql's handful of
    idempotent statements, one catalog query and the stage's, not an ALTER per contract column;
    a column a contract gains is added."""
    with warehouse.writer() as writer:
        writer.ensure(warehouse.contracts)

    class Recording:
        def __init__(self, cursor: Any) -> None:
            self.cursor, self.sent = cursor, []

        def execute(self, sql: str, params: Any = None) -> Any:
            self.sent.append(sql)
            return self.cursor.execute(sql, params)

        def fetchall(self) -> Any:
            return self.cursor.fetchall()

        @property
        def description(self) -> Any:
            return self.cursor.description

    fixed = len(sf.statements(sf.sql_text("setup", **warehouse.lake.identifiers, stage="S")))
    with warehouse.connect() as con:
        recording = Recording(con.cursor())
        sf.setup(recording, warehouse.lake, warehouse.contracts)
        # + the catalog query and the stage's (it reads this deployment's lake: no DDL)
        assert len(recording.sent) == fixed + 2, recording.sent
        contracts = dict(warehouse.contracts)
        plan = contracts["PLAN"]
        tier = plan.columns[-1].model_copy(update={"name": "TIER_CODE"})
        grown = plan.model_copy(update={"columns": (*plan.columns, tier)})
        recording.sent.clear()
        sf.setup(recording, warehouse.lake, {**contracts, "PLAN": grown})
        added = [s for s in recording.sent if "add column" in s.lower() and "COMMIT_LOCK" not in s]
        assert len(added) == 1 and "TIER_CODE" in added[0], added
    columns = warehouse.read_rows(
        f"select column_name from {warehouse.lake.database}.information_schema.columns "
        "where table_schema = 'SILVER' and table_name = 'PLAN'"
    )
    assert "TIER_CODE" in {r["column_name"] for r in columns}


def test_every_statement_is_snowflake_sql():
    lake = sf.SnowflakeLake(database="CLAIMS", lake_url="s3://claims-lake/silver/")
    found = []
    for sql, _ in sf.setup_statements(lake):
        found += problems(sql, "setup")
    ids = lake.identifiers | {"stage": lake.stage}
    extra = {
        "copy_table": {"table": "CLAIMS.SILVER.PLAN", "location": "b/plan/"},
        "create_table": {"table": "CLAIMS.SILVER.PLAN", "columns": '"A#B" VARCHAR'},
        "add_column": {"table": "T", "column": '"ORDER"', "type": "VARCHAR"},
        "row_count": {"table": "CLAIMS.SILVER.PLAN"},
        "lake_stage_url": {"stage_name": lake.stage_name},
        "ledger_insert": {"columns": "PATH", "placeholders": "%(path)s"},
        "attempts_insert": {"columns": "PATH", "placeholders": "%(path)s"},
        "changes_insert": {"columns": "PATH", "placeholders": "%(path)s"},
    }
    sql_dir = Path(sf.__file__).parent / "sql"
    names = sorted(p.stem for p in sql_dir.glob("*.sql"))
    assert len(names) > 20
    for name in names:
        for statement in sf.statements(sf.sql_text(name, **ids, **extra.get(name, {}))):
            found += problems(statement, name)
    assert found == []
    copy = sf.sql_text("copy_table", table="T", stage="S", location="b/plan/")
    assert "match_by_column_name = case_insensitive" in copy
    assert "pattern = '.*[.]parquet'" in copy


def test_check_queries_are_transpiled_with_bound_values():
    sql, params = sf.transpile(
        "select count(*) filter (where status = ?) from audit.file_ledger where path like 'C%'",
        ["quarantined"],
    )
    assert params == {"p0": "quarantined"}
    assert "%(p0)s" in sql and "LIKE 'C%%'" in sql
    assert problems(sql, "transpiled") == []
    # DuckDB finds `"claim_id"` in any case; Snowflake only as stored, in upper case.
    sql, _ = sf.transpile('select "claim_id" as id from silver."claim" as c')
    assert '"CLAIM_ID"' in sql and 'silver."CLAIM"' in sql


def test_identifiers_are_checked_before_they_reach_sql():
    with pytest.raises(ValueError, match="not a plain Snowflake identifier"):
        sf.identifier("CLAIMS; drop table x")
    with pytest.raises(ValueError, match="not a plain stage path"):
        sf._location("batches/../other")


@dataclass(frozen=True)
class _Listed:
    path: str
    size_bytes: int
    modified_at: dt.datetime


def test_screening_and_ledger_front_equal_the_duckdb_warehouse_on_the_same_ledger(
    warehouse, lake, tmp_path
):
    from claims_platform.warehouse import duckdb as local

    files = [
        file_entry("CLAIMS/PLAN/LOAD00000001.csv", 1),
        file_entry("CLAIMS/PLAN/LOAD00000002.csv", 1, status="quarantined"),
        file_entry("CLAIMS/PLAN/20240102-000000000.csv", 1),
        file_entry("CLAIMS/PLAN/2024/01/03/20240103-000000000.csv", 1),
    ]
    landed = {f["path"]: T0 for f in files}
    # The ledger alone is compared: no parts, and no rows for COPY to find.
    batch = lake.batch("b1", files, [], tables={})
    con = local.connect(tmp_path / "warehouse.duckdb")
    local.ensure_warehouse(con)
    local.commit_batch(con, batch.local_dir, landed)
    with warehouse.writer() as writer:
        writer.ensure(warehouse.contracts)
        writer.commit_manifest(
            json.loads((batch.local_dir / sf.FILES_MANIFEST).read_text()), None, landed
        )
        assert writer.ledger_front() == local.ledger_front(con)
        listed = [
            _Listed(files[0]["path"], 101, T0),  # processed, unchanged
            _Listed(files[1]["path"], 999, T0),  # quarantined, re-delivered
            _Listed(files[2]["path"], 555, T0),  # processed, changed in place
            _Listed("CLAIMS/PLAN/20240104-000000000.csv", 10, T0),  # new
        ]
        remote = writer.screen(listed)
    here = local.screen_landed_files(con, listed)
    assert [f.path for f in remote.to_read] == [f.path for f in here.to_read]
    assert [(c.path, c.reason) for c in remote.changed] == [
        (c.path, c.reason) for c in here.changed
    ]
    assert [c.path for c in warehouse.open_changes()] == [files[2]["path"]]


def test_a_writer_keeps_its_lease_while_it_works_longer_than_the_lease(warehouse, lake):
    """The lease expires `lease_s` after its last renewal, and a live writer's heartbeat renews
    it: a batch that takes longer than the lease is neither taken over by the next writer (which
    would abort its session and roll its commit back) nor fenced out of its own commit."""
    path = "CLAIMS/PLAN/LOAD00000001.csv"
    batch = lake.batch("b1", [file_entry(path, 2)], [plan_rows(path, "b1", ["P1", "P2"])])
    with warehouse.writer() as writer:
        writer.ensure(warehouse.contracts)
    # Renewed every lease_s / 3: a heartbeat may come more than a second late on a loaded
    # machine before the lease lapses.
    warehouse.lease_s = 2
    second = sf.SnowflakeWarehouse(warehouse.lake, warehouse.connect, wait_s=1, poll_s=0.1)
    with warehouse.writer() as writer:
        # Three lease periods in which the holder sends nothing on its own session.
        started = time.monotonic()
        with pytest.raises(TimeoutError, match="another writer held"), second.writer():
            pass
        time.sleep(max(0.0, 3 * warehouse.lease_s - (time.monotonic() - started)))
        with pytest.raises(TimeoutError, match="another writer held"), second.writer():
            pass
        summary = writer.commit(batch, {}, warehouse.contracts)
    assert summary.rows_by_table["plan"] == 2
    assert _count(warehouse, "silver.plan") == 2
    # Released at the end: the next writer claims at once.
    with second.writer() as writer:
        assert writer.holder


def _unopenable(path: str, problem: str) -> LandedFile:
    dms_file = parse_path(path)
    assert dms_file is not None
    return LandedFile(file=dms_file, size_bytes=0, modified_at=T0, problem=problem)


def test_a_file_that_must_not_be_opened_is_quarantined_once_with_its_reason(warehouse):
    """A listed file never to be opened (an S3 key that is not canonical) is recorded quarantined
    with its reason in a batch of its own, as on DuckDB (governance/test_replay_ledger.py), and
    is not recorded again until a replay names it."""
    bad = "CLAIMS/PLAN/20240102-110000000.csv"
    good = _Listed("CLAIMS/PLAN/20240102-100000000.csv", 100, T0)
    unread = _unopenable(bad, "not read: the S3 key is not canonical")
    with warehouse.writer() as writer:
        writer.ensure(warehouse.contracts)
        screening = writer.screen([unread, good])
    assert screening.to_read == [good]
    assert screening.quarantined == [unread]
    assert warehouse.quarantined_files() == [(bad, "PLAN", unread.problem)]
    database = warehouse.lake.database
    assert warehouse.read_rows(
        f"select files, quarantined_files, rows_loaded from {database}.audit.batches"
    ) == [{"files": 1, "quarantined_files": 1, "rows_loaded": 0}]

    def attempts() -> list[str]:
        rows = warehouse.read_rows(
            f"select status from {database}.audit.file_attempts where path = ? order by attempt",
            [bad],
        )
        return [r["status"] for r in rows]

    for _ in range(2):
        with warehouse.writer() as writer:
            again = writer.screen([unread])
        assert again.to_read == [] and again.quarantined == []
    assert attempts() == ["quarantined"]
    with warehouse.writer() as writer:
        replayed = writer.screen([unread], [bad])
    assert replayed.to_read == [] and replayed.quarantined == [unread]
    assert attempts() == ["quarantined", "quarantined"]
    assert warehouse.quarantined_files() == [(bad, "PLAN", unread.problem)]


def test_a_changed_file_stays_open_until_acknowledged_and_a_new_version_opens_again(
    warehouse, lake
):
    """A processed file changed in place is an open change until someone acknowledges it (the
    CLI's `acknowledge-changes`); acknowledging closes only open changes, once; a later version
    opens a new one, which `every` closes."""
    path = "CLAIMS/PLAN/20240102-000000000.csv"
    other = "CLAIMS/PLAN/20240103-000000000.csv"
    _commit(warehouse, lake.batch("b1", [file_entry(path, 1)], [plan_rows(path, "b1", ["P1"])]))
    size = file_entry(path, 1)["size_bytes"]
    with warehouse.writer() as writer:
        [change] = writer.screen([_Listed(path, size + 30, T0)]).changed
    assert change.reason == f"changed after it was processed: size {size} → {size + 30} bytes"
    assert [c.path for c in warehouse.open_changes()] == [path]
    assert [c.path for c in warehouse.open_changes("PLAN")] == [path]
    assert warehouse.open_changes("MEMBER") == []

    assert warehouse.acknowledge_changes([other]) == []
    assert warehouse.acknowledge_changes([path]) == [path]
    assert warehouse.open_changes() == []
    assert warehouse.acknowledge_changes([path]) == []
    # The acknowledged version is not judged again; the next one is.
    with warehouse.writer() as writer:
        assert writer.screen([_Listed(path, size + 30, T0)]).changed == []
        assert [c.path for c in writer.screen([_Listed(path, size + 60, T0)]).changed] == [path]
    assert warehouse.acknowledge_changes([], every=True) == [path]
    assert warehouse.open_changes() == []
    statuses = warehouse.read_rows(
        f"select status from {warehouse.lake.database}.audit.file_changes order by detected_at,"
        " landed_size_bytes"
    )
    assert [r["status"] for r in statuses] == ["acknowledged", "acknowledged"]


def test_a_branch_clone_loads_its_own_lake_and_leaves_a_production_writer_alone(
    snowflake_servers, warehouse, lake, tmp_path
):
    """A branch deployment builds in a clone of production's database, made while production may
    be writing (CI's `branch_clones create`). Snowflake's clone copies the lease row, production's
    live holder and session included, and the external stage with production's lake URL. The
    branch's writer neither waits for that copied lease nor aborts production's session when it
    expires (production's commit still goes through), and its batch loads from the branch's own
    lake, not production's."""
    from claims_platform.orchestration.ops.branch_clones import create_clone_sql

    first = "CLAIMS/PLAN/LOAD00000001.csv"
    _commit(warehouse, lake.batch("p1", [file_entry(first, 1)], [plan_rows(first, "p1", ["P1"])]))
    clone = f"{warehouse.lake.database}_CLONE_42"
    branch_lake = Lake(snowflake_servers, tmp_path / "branch", f"{lake.prefix}branches/42/")
    branch = sf.SnowflakeWarehouse(
        sf.SnowflakeLake(clone, f"s3://{snowflake_servers.bucket}/{branch_lake.prefix}"),
        snowflake_servers.connect(clone),
        poll_s=0.05,
        wait_s=10,
    )
    later = "CLAIMS/PLAN/20240102-000000000.csv"
    # Short enough for the copied lease to lapse while the branch would still wait for it.
    warehouse.lease_s = 2
    with warehouse.writer() as production:
        with warehouse.connect() as con:
            con.cursor().execute(create_clone_sql(warehouse.lake.database, clone))
        assert _count(branch, "silver.plan") == 1, "the clone holds production's rows"
        on_branch = branch_lake.batch("b1", [file_entry(later, 1)], [plan_rows(later, "b1", ["B"])])
        assert _commit(branch, on_branch).rows_by_table["plan"] == 1
        in_production = lake.batch("p2", [file_entry(later, 1)], [plan_rows(later, "p2", ["P"])])
        assert production.commit(in_production, {}, warehouse.contracts).rows_by_table["plan"] == 1

    def plan_ids(w: sf.SnowflakeWarehouse) -> list[str]:
        rows = w.read_rows(f"select plan_id from {w.lake.database}.silver.plan order by plan_id")
        return [r["plan_id"] for r in rows]

    assert plan_ids(warehouse) == ["P", "P1"]
    assert plan_ids(branch) == ["B", "P1"]
    # `branch_clones create --replace`: production's data afresh; the branch loads on from there.
    with warehouse.connect() as con:
        con.cursor().execute(create_clone_sql(warehouse.lake.database, clone, replace=True))
    assert plan_ids(branch) == ["P", "P1"]
    again = "CLAIMS/PLAN/20240103-000000000.csv"
    new = branch_lake.batch("b2", [file_entry(again, 1)], [plan_rows(again, "b2", ["B2"])])
    assert _commit(branch, new).rows_by_table["plan"] == 1
    assert plan_ids(branch) == ["B2", "P", "P1"]


def test_a_batch_whose_rows_copy_does_not_find_is_not_committed(warehouse, lake):
    """COPY loads what the stage shows, without an error when that is less than the job wrote (a
    stage over another lake, parts missing): the commit compares each table's rows with the
    job's count and commits nothing on a difference, so its files stay unloaded, to load again."""
    path = "CLAIMS/PLAN/LOAD00000001.csv"
    parts = [plan_rows(path, "b1", ["P1", "P2"])]
    short = lake.batch("b1", [file_entry(path, 2)], parts, tables={"plan": 3, "rejects": 0})
    with pytest.raises(RuntimeError, match=r"batch b1: COPY loaded .*\(plan: 2 of 3\)") as raised:
        _commit(warehouse, short)
    assert "P1" not in str(raised.value)
    assert _count(warehouse, "silver.plan") == 0
    assert _count(warehouse, "audit.file_ledger") == 0
    assert _count(warehouse, "audit.batches") == 0
    again = lake.batch("b2", [file_entry(path, 2)], [plan_rows(path, "b2", ["P1", "P2"])])
    assert _commit(warehouse, again).rows_by_table["plan"] == 2
