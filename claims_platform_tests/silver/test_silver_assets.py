"""The silver step through Dagster: quarantine without stopping, exactly once, atomic commit."""

import duckdb
import pytest

from claims_platform.definitions import defs
from claims_platform.warehouse.base import BatchConflict
from claims_platform.warehouse.duckdb import commit_batch, connect
from claims_platform_tests.support.pipeline import materialize_all

pytestmark = pytest.mark.slow

MEMBER_HEADER = (
    "Op,DMS_TIMESTAMP,MEMBER_ID,SUBSCRIBER_ID,RELATIONSHIP_CODE,FIRST_NAME,LAST_NAME,BIRTH_DATE,"
    "GENDER,SSN,ADDRESS_LINE1,CITY,STATE,ZIP5,PHONE,EMAIL,UPDATED_AT"
)


def member_row(op, ts, mid, last="Doe"):
    return (
        f"{op},{ts},{mid},{mid},18,Ann,{last},1980-01-01,F,123456789,1 Main St,Austin,TX,78701,"
        f"555-010-0000,ann@example.com,{ts}"
    )


def land(root, rel, *rows, header=MEMBER_HEADER):
    path = root / "landing" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n")


def select(db, sql):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_quarantine_does_not_stop_other_files_and_nothing_is_loaded_twice(platform_env):
    land(
        platform_env,
        "CLAIMS/MEMBER/20240102-100000000.csv",
        member_row("I", "2024-01-02 10:00:00", "M1"),
    )
    land(
        platform_env,
        "CLAIMS/MEMBER/20240102-110000000.csv",
        member_row("X", "2024-01-02 11:00:00", "M2"),
    )
    # The same change re-delivered under another name: loaded as a row, deduplicated in gold.
    land(
        platform_env,
        "CLAIMS/MEMBER/20240102-120000000.csv",
        member_row("I", "2024-01-02 10:00:00", "M1"),
    )
    assert materialize_all().success
    db = platform_env / "warehouse.duckdb"
    ledger = dict(select(db, "SELECT path, status FROM audit.file_ledger"))
    assert ledger == {
        "CLAIMS/MEMBER/20240102-100000000.csv": "processed",
        "CLAIMS/MEMBER/20240102-110000000.csv": "quarantined",
        "CLAIMS/MEMBER/20240102-120000000.csv": "processed",
    }
    (reason,) = select(db, "SELECT reason FROM audit.file_ledger WHERE status = 'quarantined'")[0]
    assert "unknown Op" in reason
    assert select(db, "SELECT count(*), count(DISTINCT _change_id) FROM silver.member") == [(2, 1)]
    assert select(db, "SELECT member_id, is_current FROM gold.dim_member") == [("M1", True)]

    # Second run: no new files, nothing added anywhere; the quarantined file is not attempted
    # again (only a re-delivery or a replay would).
    assert materialize_all().success
    assert select(db, "SELECT count(*) FROM silver.member") == [(2,)]
    assert select(db, "SELECT count(*) FROM audit.file_ledger") == [(3,)]
    assert select(db, "SELECT path, count(*) FROM audit.file_attempts GROUP BY ALL ORDER BY 1") == [
        ("CLAIMS/MEMBER/20240102-100000000.csv", 1),
        ("CLAIMS/MEMBER/20240102-110000000.csv", 1),
        ("CLAIMS/MEMBER/20240102-120000000.csv", 1),
    ]

    land(
        platform_env,
        "CLAIMS/MEMBER/20240103-090000000.csv",
        member_row("U", "2024-01-03 09:00:00", "M1", "Roe"),
    )
    assert materialize_all().success
    rows = select(db, "SELECT last_name, is_current FROM gold.dim_member ORDER BY valid_from")
    assert rows == [("Doe", False), ("Roe", True)]


def test_a_batch_whose_files_are_already_in_the_ledger_commits_nothing(platform_env, tmp_path):
    from claims_platform.environment import get_settings
    from claims_platform.silver.job import BatchManifest

    land(
        platform_env,
        "CLAIMS/MEMBER/20240102-100000000.csv",
        member_row("I", "2024-01-02 10:00:00", "M1"),
    )
    settings = get_settings()
    runner = defs.resources["silver_runner"]
    manifest = BatchManifest("b1", settings.landing_uri, ["CLAIMS/MEMBER/20240102-100000000.csv"])
    out1 = runner.run(manifest, settings).local_dir
    con = connect(settings.duckdb_path)
    try:
        commit_batch(con, out1, {})
        manifest2 = BatchManifest("b2", settings.landing_uri, manifest.files)
        out2 = runner.run(manifest2, settings).local_dir
        with pytest.raises(BatchConflict):
            commit_batch(con, out2, {})
        assert con.execute("SELECT count(*) FROM silver.member").fetchone() == (1,)
        assert con.execute("SELECT count(*) FROM audit.batches").fetchone() == (1,)
    finally:
        con.close()
