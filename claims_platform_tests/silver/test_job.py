"""The silver job on a batch that mixes poison files with good ones (issue 15, part 2).

Real Spark: every good row of the batch is written, each poison file ends quarantined with a
reason or as rejected rows, and the job does not fail. A file whose problem shows only after rows
were already streamed (a bad Op deep in the file) leaves none of them behind.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from claims_platform.contracts import load_contracts
from claims_platform.dms.files import parse_path
from claims_platform.dms.parse import ParseLimits
from claims_platform.silver.job import BatchManifest, run_batch
from claims_platform.silver.spark import get_spark
from claims_platform.simulator.runner import simulate
from claims_platform_tests.dms import rowwise

pytestmark = pytest.mark.slow
CONTRACTS = load_contracts()
KEY = "k" * 40

LINE_HEADER = (
    "Op,DMS_TIMESTAMP,AR_H_CHANGE_SEQ,CLAIM_ID,LINE_NUMBER,SERVICE_FROM_DATE,SERVICE_THRU_DATE,"
    "PROCEDURE_CODE,MODIFIER_1,MODIFIER_2,REVENUE_CODE,PLACE_OF_SERVICE,UNITS,"
    "RENDERING_PROVIDER_ID,BILLED_AMT,ALLOWED_AMT,PAID_AMT,DEDUCTIBLE_AMT,COPAY_AMT,"
    "COINSURANCE_AMT,LINE_STATUS,ADJUSTMENTS,UPDATED_AT"
)


def _line(i: int, op: str = "I", billed: str = "150.00", adjustments: str = "[]") -> str:
    return (
        f"{op},2024-03-01 10:00:00.{i:06d},{i:035d},CX{i:05d},1,2024-01-01,2024-01-01,99213,,,,11,1,"
        f'P1,{billed},110.00,100.00,10.00,0.00,0.00,PAID,"{adjustments}",2024-03-01 09:00:00'
    )


def _poison(landing: Path) -> dict[str, str]:
    """Poison files → what each must end as (`quarantined` or `rejected`)."""
    out: dict[str, str] = {}

    def put(path: str, data: bytes, outcome: str) -> None:
        (landing / path).parent.mkdir(parents=True, exist_ok=True)
        (landing / path).write_bytes(data)
        out[path] = outcome

    rows = "\n".join([LINE_HEADER, _line(1), _line(2, billed="1E+300000"), ""])
    put("CLAIMS/CLAIM_LINE/20240301-100000001.csv", rows.encode(), "rejected")
    deep = "[" * 5000 + "]" * 5000
    rows = "\n".join([LINE_HEADER, _line(3), _line(4, adjustments=deep), ""])
    put("CLAIMS/CLAIM_LINE/20240301-100000002.csv", rows.encode(), "rejected")
    # A bad Op after many good rows: rows already streamed out must not be written.
    rows = "\n".join([LINE_HEADER, *(_line(100 + i) for i in range(20)), _line(200, op="X"), ""])
    put("CLAIMS/CLAIM_LINE/20240301-100000003.csv", rows.encode(), "quarantined")
    # A key beyond 64 bits, an added column named like a derived one, a timestamp past 9999.
    put(
        "CLAIMS/CLAIM_LINE/20240301-100000004.csv",
        "\n".join(
            [
                LINE_HEADER,
                _line(5).replace(",1,2024-01-01", ",99999999999999999999999,2024-01-01", 1),
                "",
            ]
        ).encode(),
        "quarantined",
    )
    member = "Op,DMS_TIMESTAMP,MEMBER_ID,SSN_TOKEN\nI,2024-03-01 10:00:00.000000,MX1,123456789\n"
    put("CLAIMS/MEMBER/20240301-100000005.csv", member.encode(), "quarantined")
    table = pa.table(
        {
            "Op": ["I"],
            "DMS_TIMESTAMP": pa.array([300_000_000_000_000_000], pa.timestamp("us")),
            "MEMBER_ID": ["MX2"],
        }
    )
    buf = io.BytesIO()
    pq.write_table(table, buf)
    put("CLAIMS/MEMBER/20240301-100000006.parquet", buf.getvalue(), "quarantined")
    put("CLAIMS/MEMBER/20240301-100000007.csv.gz", b"\x1f\x8b\x08 not gzip", "quarantined")
    return out


def test_poison_files_never_fail_the_batch_and_every_good_row_is_written(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    simulate(landing, members=30, days=2, history_days=30, seed=5)
    poison = _poison(landing)
    fifo = landing / "CLAIMS" / "MEMBER" / "20240301-100000008.csv"
    os.mkfifo(fifo)  # listed by mistake: must not hang the task
    files = sorted(p.relative_to(landing).as_posix() for p in landing.rglob("*") if not p.is_dir())
    out = tmp_path / "out"
    result = run_batch(
        get_spark(),
        BatchManifest(batch_id="b1", landing_uri=str(landing), files=files),
        str(out),
        tokenization_key=KEY,
        limits=ParseLimits(batch_rows=4),
    )
    status = {f["path"]: f for f in result.files}
    for path, outcome in poison.items():
        f = status[path]
        if outcome == "quarantined":
            assert f["status"] == "quarantined" and f["reason"], path
            assert f["rows_loaded"] == 0
        else:
            assert f["status"] == "processed" and f["rows_rejected"] == 1, path
    assert status[fifo.relative_to(landing).as_posix()]["reason"] == "not a regular file"

    con = duckdb.connect()
    loaded_at = dt.datetime(2024, 1, 1)
    for name, contract in CONTRACTS.items():
        expected = set()
        for path in files:
            f = parse_path(path)
            if f is None or f.table != name or path in poison or (landing / path).is_fifo():
                continue
            parsed = rowwise.parse_dms_file(
                (landing / path).read_bytes(),
                f,
                contract,
                tokenization_key=KEY,
                batch_id="b1",
                loaded_at=loaded_at,
            )
            expected |= {r[0] for r in parsed.rows}
        for path, outcome in poison.items():
            if outcome == "rejected" and name == "CLAIM_LINE":
                f = parse_path(path)
                assert f is not None
                good = rowwise.parse_dms_file(
                    (landing / path).read_bytes().splitlines(keepends=True)[0]
                    + (landing / path).read_bytes().splitlines(keepends=True)[1],
                    f,
                    contract,
                    tokenization_key=KEY,
                    batch_id="b1",
                    loaded_at=loaded_at,
                )
                expected |= {r[0] for r in good.rows}
        got = {
            r[0]
            for r in con.execute(
                f"SELECT _change_id FROM read_parquet('{out}/{contract.silver_table}/*.parquet')"
            ).fetchall()
        }
        assert got == expected, name
    rejects = con.execute(f"SELECT rule FROM read_parquet('{out}/rejects/*.parquet')").fetchall()
    assert sorted(r[0] for r in rejects) == ["type:ADJUSTMENTS", "type:BILLED_AMT"]


def test_a_deployed_job_refuses_the_development_key(tmp_path: Path, monkeypatch) -> None:
    """Glue passes --JOB_RUN_ID: the public development key never tokenizes a deployed run."""
    from claims_platform.governance.tokenize import LOCAL_DEVELOPMENT_KEY
    from claims_platform.silver.job import main

    manifest = tmp_path / "m.json"
    manifest.write_text(BatchManifest(batch_id="b", landing_uri=str(tmp_path), files=[]).to_json())
    monkeypatch.setenv("CLAIMS_TOKENIZATION_KEY", LOCAL_DEVELOPMENT_KEY)
    args = ["--manifest", str(manifest), "--output", str(tmp_path / "out")]
    assert main([*args, "--JOB_RUN_ID", "jr_1"]) == 2
    assert not (tmp_path / "out").exists()


def test_parse_limits_travel_with_the_batch(monkeypatch) -> None:
    from claims_platform.environment import get_settings

    monkeypatch.setenv("CLAIMS_MAX_ADDED_COLUMNS", "7")
    settings = get_settings()
    manifest = BatchManifest(batch_id="b", landing_uri="x", files=[], limits=settings.parse_limits)
    assert BatchManifest.from_json(manifest.to_json()).parse_limits().max_added_columns == 7
    monkeypatch.setenv("CLAIMS_MAX_ADDED_COLUMNS", "many")
    with pytest.raises(Exception, match="CLAIMS_MAX_ADDED_COLUMNS must be a positive whole number"):
        get_settings()
