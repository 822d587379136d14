"""CONTRACT §2/§4 hard cases through the real pipeline, batch after batch (issue: exactly once).

One landing holds every case, each on its own keys, so one pipeline run per batch exercises all of
them; each test then checks its own keys. Gold as a whole is also compared with the independent
reference model after every batch.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from claims_platform.contracts import load_contracts
from claims_platform.simulator import write_dms_file
from claims_platform_tests.support.gold_compare import assert_surrogate_keys, diff_gold, read_gold
from claims_platform_tests.support.pipeline import LandingBatches
from claims_platform_tests.support.reference_model import expected_gold

pytestmark = pytest.mark.slow
CONTRACTS = load_contracts()
# Batch 3's columns added at the source: ALT_SSN holds a (reserved, never issued) SSN.
ALT_SSN = "987654329"
ADDED_VALUES = {
    "PREFERRED_LANGUAGE": "spa",
    "ALT_SSN": ALT_SSN,
    "ORDER": "o-1",
    "WINDOW": "w-1",
    "A#B": "h-1",
    "X$Y": "d-1",
}
# The silver member asset's metadata after batch 3 (filled by the pipeline fixture).
SILVER_MEMBER_METADATA: dict[str, Any] = {}


def member(mid: str, ts: str, **over: Any) -> dict[str, Any]:
    values = {
        "MEMBER_ID": mid,
        "SUBSCRIBER_ID": mid,
        "RELATIONSHIP_CODE": "18",
        "FIRST_NAME": "Ann",
        "LAST_NAME": "Able",
        "BIRTH_DATE": "1980-01-01",
        "GENDER": "F",
        "SSN": "123456789",
        "ADDRESS_LINE1": "1 Main St",
        "CITY": "Austin",
        "STATE": "TX",
        "ZIP5": "78701",
        "PHONE": "555-010-0000",
        "EMAIL": "ann@example.com",
        "UPDATED_AT": ts,
    }
    values.update(over)
    return values


def claim_line(cid: str, n: int, ts: str, units: int) -> dict[str, Any]:
    return {
        "CLAIM_ID": cid,
        "LINE_NUMBER": n,
        "SERVICE_FROM_DATE": "2024-01-01",
        "SERVICE_THRU_DATE": "2024-01-01",
        "PROCEDURE_CODE": "99213",
        "PLACE_OF_SERVICE": "11",
        "UNITS": units,
        "RENDERING_PROVIDER_ID": "PR_TS",
        "BILLED_AMT": "150.00",
        "ALLOWED_AMT": "110.00",
        "PAID_AMT": "100.00",
        "DEDUCTIBLE_AMT": "10.00",
        "COPAY_AMT": "0.00",
        "COINSURANCE_AMT": "0.00",
        "LINE_STATUS": "PAID",
        "ADJUSTMENTS": [{"group": "CO", "carc": "45", "amount": 40.0}],
        "UPDATED_AT": ts,
    }


class Landing:
    """Writes DMS files and remembers every change as the reference model reads them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.events: dict[str, list[dict[str, Any]]] = {t: [] for t in CONTRACTS}
        self._seq = 0

    def seq(self, ts: str) -> str:
        """Like DMS: increasing in commit order (so a late file carries early numbers)."""
        self._seq += 1
        return "".join(ch for ch in ts if ch.isdigit())[:20] + f"{self._seq:015d}"

    def write(self, rel: str, table: str, rows: list[tuple], **options: Any) -> Path:
        """rows: (op, ts, values[, seq]); seq None when the file has no AR_H_CHANGE_SEQ."""
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with_seq = options.get("include_change_seq", True)
        prepared = []
        for row in rows:
            op, ts, values = row[:3]
            seq = (
                row[3]
                if len(row) > 3
                else (self.seq(ts) if with_seq and "LOAD" not in rel else None)
            )
            prepared.append({"op": op, "dms_timestamp": ts, "change_seq": seq, "values": values})
        write_dms_file(path, CONTRACTS[table], prepared, **options)
        for i, r in enumerate(prepared, start=1):
            self.events[table].append({**r, "file": rel, "row": i})
        return path

    def copy(self, rel: str, to_rel: str, table: str) -> None:
        """The same file delivered again under another name: the same changes, again."""
        (self.root / to_rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.root / rel, self.root / to_rel)
        again = [e for e in self.events[table] if e["file"] == rel]
        self.events[table].extend({**e, "file": to_rel} for e in again)


def query(db: Path, sql: str, params: list[Any] | None = None) -> list[tuple]:
    """Rows of one query on the warehouse, read-only."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def versions(db: Path, mid: str, *cols: str) -> list[tuple]:
    select = ", ".join(("valid_from", "valid_to", "is_current", *cols))
    return query(
        db,
        f"SELECT {select} FROM gold.dim_member WHERE member_id = ? ORDER BY valid_from, valid_to",
        [mid],
    )


def T(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory):
    """Lands three batches, runs the pipeline after each as the landing sensor requests it, and
    checks gold against the model."""
    data = tmp_path_factory.mktemp("hard_cases") / "data"
    mp = pytest.MonkeyPatch()
    mp.setenv("CLAIMS_DATA_DIR", str(data))
    mp.setenv("CLAIMS_ENV", "local")
    for var in ("CLAIMS_LANDING_URI", "CLAIMS_DUCKDB_PATH", "CLAIMS_TOKENIZATION_KEY"):
        mp.delenv(var, raising=False)
    land = Landing(data / "landing")
    db = data / "warehouse.duckdb"
    diffs: dict[int, list[str]] = {}
    batches = LandingBatches()

    def run(batch: int) -> None:
        assert batches.run(quality_checks=False).success
        gold = read_gold(db)
        diffs[batch] = diff_gold(expected_gold(land.events), gold)
        assert_surrogate_keys(gold)

    # Batch 1 --------------------------------------------------------------------------------
    land.write(
        "CLAIMS/MEMBER/LOAD00000001.csv",
        "MEMBER",
        [
            ("I", "2024-01-01 06:00:00.000000", member("M_LOAD", "2024-01-01 06:00:00")),
            ("I", "2024-01-01 06:00:00.000000", member("M_LATE", "2024-01-01 06:00:00")),
        ],
        include_op=False,
    )
    land.write(
        "CLAIMS/MEMBER/20240102-180000000.csv",
        "MEMBER",
        [
            ("I", "2024-01-02 10:00:00.000000", member("M_DUP", "2024-01-02 10:00:00")),
            ("I", "2024-01-02 10:00:01.000000", member("M_MULTI", "2024-01-02 10:00:01")),
            (
                "U",
                "2024-01-02 10:00:02.000000",
                member("M_MULTI", "2024-01-02 10:00:02", LAST_NAME="Baker"),
            ),
            ("D", "2024-01-02 10:00:03.000000", {"MEMBER_ID": "M_MULTI"}),
            (
                "I",
                "2024-01-02 10:00:04.000000",
                member("M_MULTI", "2024-01-02 10:00:04", LAST_NAME="Cole"),
            ),
            ("I", "2024-01-02 10:00:05.000000", member("M_NOOP", "2024-01-02 10:00:05")),
            ("U", "2024-01-02 10:00:06.000000", member("M_NOOP", "2024-01-02 10:00:06")),
            ("I", "2024-01-02 10:00:07.000000", member("M_KEYDEL", "2024-01-02 10:00:07")),
            ("D", "2024-01-02 10:00:08.000000", {"MEMBER_ID": "M_KEYDEL"}),
            ("I", "2024-01-02 10:00:09.000000", member("M_FULLDEL", "2024-01-02 10:00:09")),
            ("D", "2024-01-02 10:00:10.000000", member("M_FULLDEL", "2024-01-02 10:00:09")),
        ],
    )
    land.write(
        "CLAIMS/MEMBER/2024/01/02/20240102-230000000.csv.gz",
        "MEMBER",
        [("I", "2024-01-02 12:00:00.000000", member("M_PART", "2024-01-02 12:00:00"))],
    )
    land.write(
        "CLAIMS/MEMBER/20240105-180000000.parquet",
        "MEMBER",
        [
            (
                "U",
                "2024-01-05 09:00:00.000000",
                member("M_LATE", "2024-01-05 09:00:00", CITY="Dallas"),
            )
        ],
    )
    # Without AR_H_CHANGE_SEQ: equal timestamps are ordered by file name, then row position.
    land.write(
        "CLAIMS/PROVIDER/20240102-180000000.csv",
        "PROVIDER",
        [
            ("I", "2024-01-02 10:00:00.000000", provider("PR_TS", "IN")),
            ("U", "2024-01-02 11:00:00.000000", provider("PR_TS", "OUT")),
        ],
        include_change_seq=False,
    )
    land.write(
        "CLAIMS/PROVIDER/20240102-230000000.csv",
        "PROVIDER",
        [("U", "2024-01-02 11:00:00.000000", provider("PR_TS", "IN", name="Later file"))],
        include_change_seq=False,
    )
    land.write(
        "CLAIMS/CLAIM_LINE/20240105-180000000.csv",
        "CLAIM_LINE",
        [
            ("I", "2024-01-01 09:00:00.000000", claim_line("C_HARD", 1, "2024-01-01 09:00:00", 1)),
            ("I", "2024-01-02 09:00:00.000000", claim_line("C_HARD", 2, "2024-01-02 09:00:00", 2)),
            ("U", "2024-01-05 09:00:00.000000", claim_line("C_HARD", 1, "2024-01-05 09:00:00", 5)),
        ],
    )
    run(1)

    # Batch 2 --------------------------------------------------------------------------------
    # The same file delivered twice (under a date folder), and the same change re-sent inside a
    # later file under another name (a DMS task restarted from an earlier position).
    land.copy(
        "CLAIMS/MEMBER/20240102-180000000.csv",
        "CLAIMS/MEMBER/2024/01/02/20240102-180000000.csv",
        "MEMBER",
    )
    dup = next(e for e in land.events["MEMBER"] if e["values"]["MEMBER_ID"] == "M_DUP")
    land.write(
        "CLAIMS/MEMBER/20240106-180000000.csv",
        "MEMBER",
        [
            ("I", dup["dms_timestamp"], dup["values"], dup["change_seq"]),
            (
                "U",
                "2024-01-06 10:00:00.000000",
                member("M_DUP", "2024-01-06 10:00:00", PHONE="555-010-9999"),
            ),
            (
                "I",
                "2024-01-06 10:00:01.000000",
                member("M_KEYDEL", "2024-01-06 10:00:01", LAST_NAME="Back"),
            ),
        ],
    )
    # A late file: processed after 20240105, holding a change that belongs before it.
    land.write(
        "CLAIMS/MEMBER/20240103-180000000.csv",
        "MEMBER",
        [
            (
                "U",
                "2024-01-03 09:00:00.000000",
                member("M_LATE", "2024-01-03 09:00:00", CITY="Austin", ZIP5="78702"),
            )
        ],
    )
    # With AR_H_CHANGE_SEQ: the sequence orders changes even against the timestamp.
    land.write(
        "CLAIMS/PROVIDER/20240106-180000000.csv",
        "PROVIDER",
        [
            ("U", "2024-01-06 10:00:00.000000", provider("PR_SEQ", "OUT"), f"{200:035d}"),
            ("I", "2024-01-06 10:00:00.000000", provider("PR_SEQ", "IN"), f"{100:035d}"),
        ],
    )
    # Claim lines whose current change was loaded by an earlier batch though a later batch
    # touches them: a late change that sorts before it (line 1), and the line's insert re-sent
    # under another name (line 2). The current row comes from history, not from the batch.
    land.write(
        "CLAIMS/CLAIM_LINE/20240103-180000000.csv",
        "CLAIM_LINE",
        [("U", "2024-01-03 09:00:00.000000", claim_line("C_HARD", 1, "2024-01-03 09:00:00", 3))],
    )
    resent = next(
        e
        for e in land.events["CLAIM_LINE"]
        if e["values"]["CLAIM_ID"] == "C_HARD" and e["values"]["LINE_NUMBER"] == 2
    )
    land.write(
        "CLAIMS/CLAIM_LINE/20240106-180000000.csv",
        "CLAIM_LINE",
        [("I", resent["dms_timestamp"], resent["values"], resent["change_seq"])],
    )
    run(2)

    # Batch 3: columns added at the source (DDL) appear at the end of later files: one that may
    # hold SSNs, and names legal in Oracle that SQL must quote. No contract classifies them.
    land.write(
        "CLAIMS/MEMBER/20240107-180000000.csv",
        "MEMBER",
        [
            (
                "U",
                "2024-01-07 10:00:00.000000",
                {
                    **member("M_PART", "2024-01-07 10:00:00", CITY="Houston"),
                    **ADDED_VALUES,
                },
            )
        ],
        extra_columns=list(ADDED_VALUES),
    )
    run(3)
    latest = batches.instance.get_latest_materialization_event(dg.AssetKey(["silver", "member"]))
    assert latest is not None and latest.asset_materialization is not None
    SILVER_MEMBER_METADATA.update(latest.asset_materialization.metadata)
    yield db, diffs
    mp.undo()


def provider(pid: str, network: str, name: str = "Clinic") -> dict[str, Any]:
    return {
        "PROVIDER_ID": pid,
        "NPI": "9912345672",
        "ENTITY_TYPE_CODE": "2",
        "PROVIDER_NAME": name,
        "TAXONOMY_CODE": "207Q00000X",
        "STATE": "TX",
        "ZIP5": "78701",
        "NETWORK_STATUS": network,
        "UPDATED_AT": "2024-01-02 10:00:00",
    }


@pytest.mark.parametrize("batch", [1, 2, 3])
def test_gold_equals_the_reference_model_after_every_batch(pipeline, batch):
    _, diffs = pipeline
    assert diffs[batch] == [], "\n".join(diffs[batch])


def test_full_load_without_op_column(pipeline):
    db, _ = pipeline
    assert versions(db, "M_LOAD") == [(T("2024-01-01 06:00:00"), None, True)]


def test_insert_update_delete_insert_inside_one_file(pipeline):
    db, _ = pipeline
    assert versions(db, "M_MULTI", "last_name") == [
        (T("2024-01-02 10:00:01"), T("2024-01-02 10:00:02"), False, "Able"),
        (T("2024-01-02 10:00:02"), T("2024-01-02 10:00:03"), False, "Baker"),
        (T("2024-01-02 10:00:04"), None, True, "Cole"),
    ]


def test_update_changing_no_tracked_column_opens_no_version(pipeline):
    db, _ = pipeline
    assert versions(db, "M_NOOP", "updated_at") == [
        (T("2024-01-02 10:00:05"), None, True, T("2024-01-02 10:00:05"))
    ]


def test_key_only_delete_then_reinsert_opens_a_new_version(pipeline):
    db, _ = pipeline
    assert versions(db, "M_KEYDEL", "last_name", "city") == [
        (T("2024-01-02 10:00:07"), T("2024-01-02 10:00:08"), False, "Able", "Austin"),
        (T("2024-01-06 10:00:01"), None, True, "Back", "Austin"),
    ]


def test_full_before_image_delete_closes_the_version(pipeline):
    db, _ = pipeline
    assert versions(db, "M_FULLDEL") == [
        (T("2024-01-02 10:00:09"), T("2024-01-02 10:00:10"), False)
    ]


def test_file_delivered_twice_and_changes_resent_under_another_name(pipeline):
    db, _ = pipeline
    assert versions(db, "M_DUP", "phone") == [
        (T("2024-01-02 10:00:00"), T("2024-01-06 10:00:00"), False, "555-010-0000"),
        (T("2024-01-06 10:00:00"), None, True, "555-010-9999"),
    ]
    paths = query(db, "SELECT path FROM audit.file_ledger")
    assert len(paths) == len(set(paths))


def test_late_file_lands_between_existing_versions(pipeline):
    db, _ = pipeline
    assert versions(db, "M_LATE", "city", "zip5") == [
        (T("2024-01-01 06:00:00"), T("2024-01-03 09:00:00"), False, "Austin", "78701"),
        (T("2024-01-03 09:00:00"), T("2024-01-05 09:00:00"), False, "Austin", "78702"),
        (T("2024-01-05 09:00:00"), None, True, "Dallas", "78701"),
    ]


def test_a_claim_line_touched_by_a_late_or_resent_change_keeps_its_current_row(pipeline):
    db, _ = pipeline
    rows = query(
        db,
        "SELECT line_number, units, _source_file FROM gold.fct_claim_line"
        " WHERE claim_id = 'C_HARD' ORDER BY line_number",
    )
    first = "CLAIMS/CLAIM_LINE/20240105-180000000.csv"
    assert [(n, units, path.endswith(first)) for n, units, path in rows] == [
        (1, 5, True),  # the late U of 01-03 sorts before the current U of 01-05
        (2, 2, True),  # the re-sent insert is the same change: its first delivery stays
    ]


def test_change_order_by_sequence_and_by_timestamp_file_row(pipeline):
    db, _ = pipeline
    rows = dict(
        query(
            db,
            "SELECT provider_id, network_status || '/' || provider_name FROM gold.dim_provider "
            "WHERE is_current",
        )
    )
    # Timestamp tie without a sequence: the later file's row wins.
    assert rows["PR_TS"] == "IN/Later file"
    # With a sequence: the U (seq 200) follows the I (seq 100) though it sits first in the file.
    assert rows["PR_SEQ"] == "OUT/Clinic"


def test_unclassified_added_columns_are_held_in_restricted_not_silver(pipeline):
    """Columns no contract classifies are held beside their delivery in the restricted schema
    (only the platform's loading role reads it), names quoted; silver and history unchanged."""
    db, _ = pipeline
    held = query(
        db,
        'SELECT s.member_id, r.preferred_language, r.alt_ssn, r."order", r."window", '
        'r."a#b", r."x$y" FROM restricted.member__unclassified AS r '
        "JOIN silver.member AS s USING (_change_id, _batch_id, _source_file, _row_number) "
        "WHERE r.preferred_language IS NOT NULL",
    )
    assert held == [("M_PART", "spa", ALT_SSN, "o-1", "w-1", "h-1", "d-1")]
    silver_columns = {r[0] for r in query(db, "DESCRIBE silver.member")}
    assert not {c.lower() for c in ADDED_VALUES} & silver_columns
    assert versions(db, "M_PART", "city") == [
        (T("2024-01-02 12:00:00"), T("2024-01-07 10:00:00"), False, "Austin"),
        (T("2024-01-07 10:00:00"), None, True, "Houston"),
    ]
    # Listed by name (never a value) on the silver asset, with where they are held.
    listed = SILVER_MEMBER_METADATA["unclassified_columns"].value
    assert listed == {
        "columns": [c.lower() for c in ADDED_VALUES],
        "held_in": "restricted.member__unclassified",
    }


def test_an_alt_ssn_column_landed_at_the_source_shows_its_values_nowhere_but_restricted(pipeline):
    """Every table and view outside `restricted`, gold and the analyst views included, holds
    neither the ALT_SSN column nor its value; the ANALYST role's grants (Snowflake) never reach
    `restricted` (claims_platform_tests/warehouse/test_snowflake_dbt.py)."""
    db, _ = pipeline
    relations = query(
        db,
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_schema <> 'restricted' ORDER BY ALL",
    )
    schemas = {schema for schema, _ in relations}
    assert {"silver", "staging", "gold", "analyst", "audit"} <= schemas
    for schema, table in relations:
        columns = {r[0] for r in query(db, f'DESCRIBE "{schema}"."{table}"')}
        assert "alt_ssn" not in columns, (schema, table)
        rows = query(db, f'SELECT * FROM "{schema}"."{table}"')
        assert not any(ALT_SSN in str(row) for row in rows), (schema, table)
    assert query(
        db, "SELECT count(*) FROM restricted.member__unclassified WHERE alt_ssn = ?", [ALT_SSN]
    ) == [(1,)]
