"""The DMS file writer: CSV quoting, NULL versus empty string, formats, names, extra columns."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claims_platform.simulator import (
    CDC_FILE_RE,
    LOAD_FILE_RE,
    DmsRow,
    FileLayout,
    cdc_file_name,
    load_file_name,
    write_dms_file,
)
from claims_platform.simulator.dms_writer import CsvEncoder, csv_line
from claims_platform.simulator.encoding import to_epoch_us
from claims_platform_tests.simulator.helpers import file_text, read_dms

_TEXT = st.text(alphabet=st.sampled_from("ab ,\"\n\r'é|x"), max_size=6)
_FIELD = st.one_of(st.none(), st.integers(-(10**6), 10**6), _TEXT)


@settings(max_examples=300, deadline=None)
@given(st.lists(_FIELD, min_size=2, max_size=8))
def test_csv_line_quotes_like_the_csv_module(record):
    # The csv module writes "" as an empty field and leaves "\r" bare with a "\n" terminator;
    # everything else must come out byte for byte as csv.QUOTE_MINIMAL writes it.
    record = [v for v in record if v != "" and not (isinstance(v, str) and "\r" in v)] + [1, None]
    buffer = io.StringIO()
    csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\n").writerow(record)
    assert csv_line(record) == buffer.getvalue()


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(st.one_of(st.none(), _TEXT), min_size=5, max_size=5))
def test_fast_encoder_equals_csv_line_and_reads_back(texts, contracts):
    # Hand-made values may put anything in any column, dates included (to test rejects).
    layout = FileLayout.of(contracts["ENROLLMENT"])
    record = ["U", "2024-01-02 13:00:00.000001", None, *texts, None]
    assert CsvEncoder(layout).encode(list(record)) == csv_line(record)
    parsed = next(csv.reader(io.StringIO(csv_line(record), newline="")))
    assert parsed == ["" if v is None else str(v) for v in record]


def test_empty_string_is_quoted_and_null_is_an_empty_field(tmp_path, contracts):
    path = tmp_path / "CLAIMS" / "MEMBER" / "20240102-130000000.csv"
    values = {"MEMBER_ID": "M1", "FIRST_NAME": "", "LAST_NAME": None, "CITY": 'Dayton, "OH"'}
    write_dms_file(
        path, contracts["MEMBER"], [DmsRow("I", "2024-01-02 12:00:00.000000", None, values)], "csv"
    )
    line = path.read_text(encoding="utf-8").splitlines()[1]
    assert line.startswith('I,2024-01-02 12:00:00.000000,,M1,,,"",,')
    assert '"Dayton, ""OH"""' in line
    assert path.read_bytes().count(b"\r") == 0


def _rows() -> list[DmsRow]:
    values = {
        "CLAIM_ID": "C1",
        "LINE_NUMBER": 2,
        "SERVICE_FROM_DATE": dt.date(2024, 1, 2),
        "SERVICE_THRU_DATE": "2024-01-03",
        "PROCEDURE_CODE": "99213",
        "UNITS": 3,
        "BILLED_AMT": Decimal("100"),
        "ALLOWED_AMT": 80.5,
        "PAID_AMT": "60.50",
        "ADJUSTMENTS": [{"group": "CO", "carc": "45", "amount": 19.5}],
        "UPDATED_AT": dt.datetime(2024, 1, 2, 8, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
    }
    return [
        DmsRow("I", "2024-01-02 13:30:00.000001", "1".zfill(35), values),
        {
            "op": "D",
            "dms_timestamp": "2024-01-02 13:30:00.000002",
            "change_seq": "2".zfill(35),
            "values": {"CLAIM_ID": "C1", "LINE_NUMBER": 2},
        },
    ]


def _expected(contract) -> list[list]:
    inserted = dict.fromkeys(contract.column_names) | {
        "CLAIM_ID": "C1",
        "LINE_NUMBER": 2,
        "SERVICE_FROM_DATE": "2024-01-02",
        "SERVICE_THRU_DATE": "2024-01-03",
        "PROCEDURE_CODE": "99213",
        "UNITS": 3,
        "BILLED_AMT": "100.00",
        "ALLOWED_AMT": "80.50",
        "PAID_AMT": "60.50",
        "ADJUSTMENTS": '[{"group":"CO","carc":"45","amount":19.5}]',
        "UPDATED_AT": "2024-01-02 13:30:00.000000",  # 08:30 at UTC-5
    }
    deleted = dict.fromkeys(contract.column_names) | {"CLAIM_ID": "C1", "LINE_NUMBER": 2}
    return [
        ["I", "2024-01-02 13:30:00.000001", "1".zfill(35), *inserted.values()],
        ["D", "2024-01-02 13:30:00.000002", "2".zfill(35), *deleted.values()],
    ]


@pytest.mark.parametrize("fmt", ["csv", "csv.gz", "parquet"])
def test_written_file_reads_back_in_every_format(tmp_path, contracts, fmt):
    contract = contracts["CLAIM_LINE"]
    path = tmp_path / f"20240102-133000000.{fmt}"
    assert write_dms_file(path, contract, _rows()) == 2  # format from the name
    header, rows = read_dms(path, contract)
    assert header == ["Op", "DMS_TIMESTAMP", "AR_H_CHANGE_SEQ", *contract.column_names]
    assert rows == _expected(contract)
    if fmt == "parquet":
        schema = pq.read_schema(path)
        assert schema.field("Op").type == pa.string()
        assert schema.field("AR_H_CHANGE_SEQ").type == pa.string()
        assert schema.field("LINE_NUMBER").type == pa.int64()
        assert schema.field("BILLED_AMT").type == pa.decimal128(12, 2)
        assert schema.field("SERVICE_FROM_DATE").type == pa.date32()
        assert schema.field("UPDATED_AT").type == pa.timestamp("us", tz="UTC")
        assert schema.field("ADJUSTMENTS").type == pa.string()
    if fmt == "csv.gz":
        assert path.read_bytes()[4:8] == b"\0\0\0\0"  # no mtime in the gzip header
        assert gzip.decompress(path.read_bytes()).decode().endswith("\n")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_full_load_layout_and_extra_columns(tmp_path, contracts, fmt):
    contract = contracts["PLAN"]
    path = tmp_path / f"LOAD00000001.{fmt}"
    rows = [("I", "2024-01-01 06:00:00.000001", None, {"PLAN_ID": "PLN001", "NEW_FLAG": "Y"})]
    write_dms_file(
        path,
        contract,
        rows,
        fmt,
        include_op=False,
        include_change_seq=False,
        extra_columns=["NEW_FLAG", ("NEW_LIMIT", "decimal(12,2)")],
    )
    header, read = read_dms(path, contract)
    assert header == ["DMS_TIMESTAMP", *contract.column_names, "NEW_FLAG", "NEW_LIMIT"]
    assert read == [
        ["2024-01-01 06:00:00.000001", "PLN001", None, None, None, None, None, "Y", None]
    ]


def test_header_only_file(tmp_path, contracts):
    path = tmp_path / "20240102-133000000.csv"
    assert write_dms_file(path, contracts["PLAN"], []) == 0
    assert (
        file_text(path)
        == "Op,DMS_TIMESTAMP,AR_H_CHANGE_SEQ," + ",".join(contracts["PLAN"].column_names) + "\n"
    )


def test_refuses_unknown_columns_and_existing_files(tmp_path, contracts):
    path = tmp_path / "20240102-133000000.csv"
    with pytest.raises(ValueError, match="NOT_A_COLUMN"):
        write_dms_file(path, contracts["PLAN"], [("I", "t", None, {"NOT_A_COLUMN": 1})])
    assert not path.exists() and list(tmp_path.iterdir()) == []
    write_dms_file(path, contracts["PLAN"], [("I", "t", None, {"PLAN_ID": "A"})])
    with pytest.raises(FileExistsError):
        write_dms_file(path, contracts["PLAN"], [("I", "t", None, {"PLAN_ID": "B"})])
    write_dms_file(path, contracts["PLAN"], [("I", "t", None, {"PLAN_ID": "B"})], overwrite=True)
    assert "B" in file_text(path)


def test_file_names():
    assert load_file_name(1, "csv") == "LOAD00000001.csv"
    assert load_file_name(10, "csv.gz") == "LOAD0000000A.csv.gz"
    assert LOAD_FILE_RE.match(load_file_name(255, "parquet"))
    us = to_epoch_us(dt.datetime(2024, 3, 9, 18, 5, 7, 123456))
    assert cdc_file_name(us, "parquet") == "20240309-180507123.parquet"
    assert CDC_FILE_RE.match(cdc_file_name(us, "csv"))
    with pytest.raises(ValueError, match="format"):
        load_file_name(1, "json")
