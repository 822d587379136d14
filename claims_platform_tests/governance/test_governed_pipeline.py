"""One governed pipeline, checked from every side: quarantine → fix → replay exactly once, the
audit trail of a gold row, OpenLineage events, and no PHI value in anything the runs leave behind.

Simulated source data plus two hand-made MEMBER files carrying real PHI of the simulation: one
with a row that is rejected (bad BIRTH_DATE) and one that is quarantined (unknown Op). Two runs
(the landing batch and the replay) serve every test of this module.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from claims_platform import cli
from claims_platform.contracts import load_contracts
from claims_platform.governance.openlineage import local_events_path, read_events
from claims_platform.simulator import simulate, write_dms_file
from claims_platform_tests.governance.phi_scan import (
    CapturedOutput,
    Hit,
    PhiScanner,
    PhiValues,
    capture_output,
)
from claims_platform_tests.support.gold_compare import diff_gold, read_gold
from claims_platform_tests.support.pipeline import warehouse_state
from claims_platform_tests.support.reference_model import expected_gold, load_truth

pytestmark = pytest.mark.slow
MEMBER = load_contracts()["MEMBER"]


@dataclass
class Governed:
    data: Path
    truth_dir: Path
    home: Path
    instance: dg.DagsterInstance
    phi: PhiValues
    quarantined_path: str
    rejected_path: str
    fixed_event: dict[str, Any]
    first_gold: dict[str, list[dict[str, Any]]]
    first_ledger: dict[str, tuple]
    first_rejects: int
    replay_exit: int
    replay_again_exit: int
    replay_again_all_exit: int
    state_after_replay: dict[str, list[tuple]]
    state_after_second_replay: dict[str, list[tuple]]
    captured: list[CapturedOutput] = field(default_factory=list)

    @property
    def warehouse(self) -> Path:
        return self.data / "warehouse.duckdb"

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        con = duckdb.connect(str(self.warehouse), read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()


def _last_member_state(truth_dir: Path) -> tuple[dict[str, Any], str, int, list[dict]]:
    events = [
        json.loads(line)
        for line in (truth_dir / "MEMBER.changes.jsonl").read_text().splitlines()
        if line.strip()
    ]
    latest_ts = max(e["dms_timestamp"] for e in events)
    max_seq = max(int(e["change_seq"]) for e in events if e["change_seq"])
    return events[-1], latest_ts, max_seq, events


def _land_bad_files(landing: Path, truth_dir: Path, phi: PhiValues) -> tuple[str, str, dict, bytes]:
    """A quarantined file (its fixed bytes returned) and a file with one rejected row."""
    _last, ts, seq, events = _last_member_state(truth_dir)
    alive = {}
    for e in events:
        alive[e["values"]["MEMBER_ID"]] = e if e["op"] != "D" else None
    members = [e for e in alive.values() if e is not None]
    updated, rejected = members[0]["values"], members[1]["values"]
    day = ts[:10].replace("-", "")
    quarantined_rel = f"CLAIMS/MEMBER/{day}-235959001.csv"
    rejected_rel = f"CLAIMS/MEMBER/{day}-235959002.csv"
    for rel in (quarantined_rel, rejected_rel):
        assert not (landing / rel).exists()

    new_values = {
        **updated,
        "PHONE": "555-777-0142",
        "EMAIL": "replayed.member77@example.com",
        "ADDRESS_LINE1": "4242 Quarantine Ave",
        "UPDATED_AT": ts,
    }
    for kind, column in (("phone", "PHONE"), ("email", "EMAIL"), ("address", "ADDRESS_LINE1")):
        phi.add(kind, new_values[column])
    fixed_event = {
        "op": "U",
        "dms_timestamp": ts,
        "change_seq": f"{seq + 1:035d}",
        "file": quarantined_rel,
        "row": 1,
        "values": new_values,
    }
    path = landing / quarantined_rel
    write_dms_file(path, MEMBER, [fixed_event])
    fixed = path.read_bytes()
    corrupt = fixed.replace(b"\nU,", b"\nX,", 1)
    assert corrupt != fixed
    path.write_bytes(corrupt)

    bad_row = {**rejected, "BIRTH_DATE": "1980-13-45", "UPDATED_AT": ts}
    write_dms_file(
        landing / rejected_rel,
        MEMBER,
        [{"op": "U", "dms_timestamp": ts, "change_seq": f"{seq + 2:035d}", "values": bad_row}],
    )
    return quarantined_rel, rejected_rel, fixed_event, fixed


@pytest.fixture(scope="module")
def governed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Governed]:
    root = tmp_path_factory.mktemp("governed")
    data, truth_dir, home = root / "data", root / "truth", root / "dagster_home"
    home.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CLAIMS_DATA_DIR", str(data))
        mp.setenv("CLAIMS_ENV", "local")
        mp.setenv("DAGSTER_HOME", str(home))
        for var in ("CLAIMS_LANDING_URI", "CLAIMS_DUCKDB_PATH", "CLAIMS_TOKENIZATION_KEY"):
            mp.delenv(var, raising=False)
        for var in [v for v in os.environ if v.startswith("OPENLINEAGE")]:
            mp.delenv(var, raising=False)
        landing = data / "landing"
        simulate(landing, seed=41, members=12, days=3, fmt="csv", truth_dir=truth_dir)
        phi = PhiValues.from_truth(truth_dir)
        quarantined, rejected, fixed_event, fixed_bytes = _land_bad_files(landing, truth_dir, phi)

        from claims_platform.definitions import defs

        assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition)]
        captured = []
        with dg.DagsterInstance.get() as instance:
            with capture_output() as out:
                result = dg.materialize(assets, resources=defs.resources, instance=instance)
            captured.append(out)
            assert result.success
            first_gold = read_gold(data / "warehouse.duckdb")
            con = duckdb.connect(str(data / "warehouse.duckdb"), read_only=True)
            try:
                first_ledger = {
                    r[0]: r[1:]
                    for r in con.execute(
                        "SELECT path, status, reason, checksum_sha256 FROM audit.file_ledger"
                    ).fetchall()
                }
                first_rejects = con.execute(
                    "SELECT count(*) FROM restricted.rejects WHERE source_file = ?", [rejected]
                ).fetchone()[0]
            finally:
                con.close()

            # The operator fixes the file in place and replays it.
            (landing / quarantined).write_bytes(fixed_bytes)
            # The replay also fetches dbt column lineage (opt-in locally: it costs seconds).
            mp.setenv("CLAIMS_DBT_COLUMN_LINEAGE", "1")
            with capture_output() as out:
                replay_exit = cli.main(["replay", "--path", quarantined])
            mp.delenv("CLAIMS_DBT_COLUMN_LINEAGE")
            captured.append(out)
            state_after_replay = warehouse_state(data / "warehouse.duckdb")
            with capture_output() as out:
                replay_again_exit = cli.main(["replay", "--path", quarantined])
                replay_again_all_exit = cli.main(["replay", "--all"])
            captured.append(out)
            state_after_second_replay = warehouse_state(data / "warehouse.duckdb")

            yield Governed(
                data=data,
                truth_dir=truth_dir,
                home=home,
                instance=instance,
                phi=phi,
                quarantined_path=quarantined,
                rejected_path=rejected,
                fixed_event=fixed_event,
                first_gold=first_gold,
                first_ledger=first_ledger,
                first_rejects=first_rejects,
                replay_exit=replay_exit,
                replay_again_exit=replay_again_exit,
                replay_again_all_exit=replay_again_all_exit,
                state_after_replay=state_after_replay,
                state_after_second_replay=state_after_second_replay,
                captured=captured,
            )


# ----------------------------------------------------------------------------------------------
# quarantine → fix → replay, exactly once


def test_first_run_quarantines_one_file_rejects_one_row_and_matches_the_truth(governed):
    status, reason, _checksum = governed.first_ledger[governed.quarantined_path]
    assert status == "quarantined" and "Op" in reason
    assert governed.first_ledger[governed.rejected_path][0] == "processed"
    assert governed.first_rejects == 1
    problems = diff_gold(expected_gold(load_truth(governed.truth_dir)), governed.first_gold)
    assert problems == [], "\n".join(problems)


def test_replay_loads_the_fixed_file_once_and_gold_follows(governed):
    assert governed.replay_exit == 0
    ledger = governed.query(
        "SELECT status, reason, checksum_sha256, rows_loaded FROM audit.file_ledger WHERE path = ?",
        [governed.quarantined_path],
    )
    fixed_checksum = hashlib.sha256(
        (governed.data / "landing" / governed.quarantined_path).read_bytes()
    ).hexdigest()
    assert ledger == [("processed", None, fixed_checksum, 1)]
    attempts = governed.query(
        "SELECT attempt, status, reason, checksum_sha256 FROM audit.file_attempts "
        "WHERE path = ? ORDER BY attempt",
        [governed.quarantined_path],
    )
    assert [(a, s) for a, s, _, _ in attempts] == [(1, "quarantined"), (2, "processed")]
    assert "Op" in attempts[0][2] and attempts[0][3] != fixed_checksum
    assert governed.query(
        "SELECT count(*) FROM silver.member WHERE _source_file = ?", [governed.quarantined_path]
    ) == [(1,)]

    truth = load_truth(governed.truth_dir)
    truth["MEMBER"].append(governed.fixed_event)
    problems = diff_gold(expected_gold(truth), read_gold(governed.warehouse))
    assert problems == [], "\n".join(problems)
    member_id = governed.fixed_event["values"]["MEMBER_ID"]
    assert governed.query(
        "SELECT phone FROM gold.dim_member WHERE member_id = ? AND is_current", [member_id]
    ) == [(governed.fixed_event["values"]["PHONE"],)]


def test_replaying_again_does_nothing(governed):
    assert governed.replay_again_exit == 0
    assert governed.replay_again_all_exit == 0
    assert governed.state_after_second_replay == governed.state_after_replay
    said = governed.captured[2].stdout_stderr
    assert "already processed" in said and "nothing to replay" in said


# ----------------------------------------------------------------------------------------------
# audit trail: gold row → silver change → ledger entry


def test_every_fact_row_traces_to_its_ledger_entry(governed):
    for fact, key in (("fct_claim", "claim_id"), ("fct_claim_line", "claim_id, line_number")):
        untraced = governed.query(
            f"SELECT count(*) FROM gold.{fact} f LEFT JOIN audit.file_ledger l "
            "ON l.path = f._source_file AND l._batch_id = f._batch_id AND l.status = 'processed' "
            f"WHERE l.path IS NULL OR f._source_change_at IS NULL OR f._change_id IS NULL"
        )
        assert untraced == [(0,)], fact
        total = governed.query(f"SELECT count(DISTINCT ({key})) FROM gold.{fact}")[0][0]
        assert total > 0

    claim_id, source_file, row_number, change_at, change_id, batch_id = governed.query(
        "SELECT claim_id, _source_file, _source_row_number, _source_change_at, _change_id, "
        "_batch_id FROM gold.fct_claim ORDER BY claim_id LIMIT 1"
    )[0]
    checksum, landed_at, processed_at = governed.query(
        "SELECT checksum_sha256, landed_at, processed_at FROM audit.file_ledger WHERE path = ?",
        [source_file],
    )[0]
    landed = (governed.data / "landing" / source_file).read_bytes()
    assert checksum == hashlib.sha256(landed).hexdigest()
    assert landed_at is not None and processed_at is not None
    # The silver change the row came from: same file, row and commit time.
    assert governed.query(
        "SELECT _source_file, _row_number, _dms_timestamp, claim_id FROM silver.claim "
        "WHERE _change_id = ? AND _batch_id = ?",
        [change_id, batch_id],
    ) == [(source_file, row_number, change_at, claim_id)]


# ----------------------------------------------------------------------------------------------
# OpenLineage (file transport, the local default)


def test_openlineage_events_for_bronze_silver_and_gold_with_contract_schemas(governed):
    events = read_events(local_events_path(governed.data))
    by_job: dict[str, list[str]] = {}
    for e in events:
        by_job.setdefault(e["job"]["name"], []).append(e["eventType"])
    for job in ("bronze_landing_inventory", "silver_change_tables", "gold_dbt_models"):
        assert by_job.get(job, [])[:2] == ["START", "COMPLETE"], (job, by_job.get(job))
    silver_done = next(
        e
        for e in events
        if e["job"]["name"] == "silver_change_tables" and e["eventType"] == "COMPLETE"
    )
    assert silver_done["job"]["namespace"] == "claims_platform"
    assert silver_done["run"]["facets"]["parent"]["run"]["runId"]
    outputs = {d["name"]: d for d in silver_done["outputs"]}
    member = outputs["silver/member"]
    fields = {f["name"]: f for f in member["facets"]["schema"]["fields"]}
    assert "ssn_token" in fields and "ssn" not in fields
    assert fields["first_name"]["description"] == "Member first name."
    assert member["outputFacets"]["outputStatistics"]["rowCount"] > 0
    inputs = {d["name"] for d in silver_done["inputs"]}
    assert "bronze/member" in inputs
    gold_done = next(
        e for e in events if e["job"]["name"] == "gold_dbt_models" and e["eventType"] == "COMPLETE"
    )
    assert "gold/fct_claim" in {d["name"] for d in gold_done["outputs"]}
    assert "silver/claim" in {d["name"] for d in gold_done["inputs"]}


# ----------------------------------------------------------------------------------------------
# PHI: nothing the runs leave behind carries a value


def test_no_phi_value_in_logs_event_log_or_lineage(governed):
    assert len(governed.phi) > 50, "the scan knows the simulation's PHI values"
    scanner = PhiScanner(governed.phi)
    hits: list[Hit] = []
    assert len(governed.instance.get_runs()) == 2, "the landing batch and the replay"
    hits += scanner.scan_run_records(governed.instance)
    for i, out in enumerate(governed.captured):
        hits += scanner.scan(out.stdout_stderr, f"stdout/stderr of step {i}")
        hits += scanner.scan("\n".join(out.python_log), f"Python logging of step {i}")
    # Compute logs and instance storage; every local file the platform wrote except the data
    # itself (landing = bronze, the warehouse, the silver job's scratch space).
    hits += scanner.scan_files(governed.home)
    hits += scanner.scan_files(
        governed.data,
        skip=[
            governed.data / "landing",
            governed.data / "lake",
            governed.warehouse,
            governed.data / "warehouse.duckdb.wal",
        ],
    )
    assert hits == [], "\n".join(map(str, hits[:20]))


def test_gold_facts_show_dbt_column_lineage_down_to_the_audit_columns(governed):
    event = governed.instance.get_latest_materialization_event(dg.AssetKey(["gold", "fct_claim"]))
    metadata = event.asset_materialization.metadata
    lineage = metadata["dagster/column_lineage"].value
    deps = {d.asset_key: d.column_name for d in lineage.deps_by_column["_source_file"]}
    assert deps == {dg.AssetKey(["gold", "staging", "stg_silver__claim"]): "_source_file"}
    schema = metadata["dagster/column_schema"].value
    assert "_source_change_at" in {c.name for c in schema.columns}
