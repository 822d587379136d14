import datetime as dt
import gzip
import io
import json
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from claims_platform.contracts import TableContract, load_contracts
from claims_platform.dms.files import parse_path
from claims_platform.dms.parse import parse_dms_file
from claims_platform.governance.tokenize import tokenize
from claims_platform_tests.conftest import SHARED_FIXTURES

MEMBER = load_contracts()["MEMBER"]
HEADER = (
    "Op,DMS_TIMESTAMP,AR_H_CHANGE_SEQ,MEMBER_ID,SUBSCRIBER_ID,RELATIONSHIP_CODE,FIRST_NAME,"
    "LAST_NAME,BIRTH_DATE,GENDER,SSN,ADDRESS_LINE1,CITY,STATE,ZIP5,PHONE,EMAIL,UPDATED_AT"
)
SEQ1 = "0" * 34 + "1"
SEQ2 = "0" * 34 + "2"
ROW_I = (
    f'I,2024-01-02 10:00:00.123456,{SEQ1},M1,M1,18,"Smith, ""Jo""","",1980-01-01,F,'
    '123456789,"1 Main\nSt",Austin,TX,78701,555-010-0000,jo@example.com,2024-01-02 10:00:00'
)
ROW_D = f"D,2024-01-02 10:00:01.000000,{SEQ2},M1,,,,,,,,,,,,,,"
PHI = ["Smith", "123456789", "Main", "jo@example.com", "555-010-0000"]


def parse(data: bytes, path: str = "CLAIMS/MEMBER/20240102-100001000.csv", contract=MEMBER):
    f = parse_path(path)
    assert f is not None
    return parse_dms_file(
        data,
        f,
        contract,
        tokenization_key="k",
        batch_id="b",
        loaded_at=dt.datetime(2024, 1, 3),
    )


def csv_bytes(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def test_csv_quoting_nulls_and_empty_strings():
    p = parse(csv_bytes(ROW_I, ROW_D))
    assert p.status == "processed", p.reason
    ins, dele = p.rows
    names = ["_change_id", "_op", "_dms_timestamp", "_change_seq", "_is_full_load"]
    names += ["_source_file", "_source_file_name", "_row_number", "_batch_id", "_loaded_at"]
    names += [c.silver_name for c in MEMBER.columns]
    names += ["_extra"]
    ins, dele = dict(zip(names, ins, strict=True)), dict(zip(names, dele, strict=True))
    assert ins["_extra"] is None and p.extra_columns == []
    assert ins["first_name"] == 'Smith, "Jo"'
    assert ins["last_name"] == ""  # quoted empty string is a value, not NULL
    assert ins["address_line1"] == "1 Main\nSt"
    assert ins["birth_date"] == dt.date(1980, 1, 1)
    assert ins["_dms_timestamp"] == dt.datetime(2024, 1, 2, 10, 0, 0, 123456)
    assert ins["ssn_token"] == tokenize("123456789", "k")
    assert ins["_row_number"] == 1 and dele["_row_number"] == 2
    assert dele["_op"] == "D" and dele["member_id"] == "M1"
    assert all(dele[c.silver_name] is None for c in MEMBER.columns if c.name != "MEMBER_ID")
    assert p.first_change_at < p.last_change_at
    assert p.row_count == 2


def test_same_change_has_same_identity_in_any_format_and_file():
    csv_p = parse(csv_bytes(ROW_I))
    gz_p = parse(
        gzip.compress(csv_bytes(ROW_I)), "CLAIMS/MEMBER/2024/01/03/20240103-000000000.csv.gz"
    )
    assert csv_p.rows[0][0] == gz_p.rows[0][0]
    other = parse(csv_bytes(ROW_I.replace("Austin", "Dallas")))
    assert other.rows[0][0] != csv_p.rows[0][0]


def test_parquet_typed_columns_match_csv():
    table = pa.table(
        {
            "Op": ["I"],
            "DMS_TIMESTAMP": ["2024-01-02 10:00:00.123456"],
            "AR_H_CHANGE_SEQ": [SEQ1],
            "MEMBER_ID": ["M1"],
            "SUBSCRIBER_ID": ["M1"],
            "RELATIONSHIP_CODE": ["18"],
            "FIRST_NAME": ['Smith, "Jo"'],
            "LAST_NAME": [""],
            "BIRTH_DATE": pa.array([dt.date(1980, 1, 1)], pa.date32()),
            "GENDER": ["F"],
            "SSN": ["123456789"],
            "ADDRESS_LINE1": ["1 Main\nSt"],
            "CITY": ["Austin"],
            "STATE": ["TX"],
            "ZIP5": ["78701"],
            "PHONE": ["555-010-0000"],
            "EMAIL": ["jo@example.com"],
            "UPDATED_AT": pa.array([dt.datetime(2024, 1, 2, 10)], pa.timestamp("ms", tz="UTC")),
        }
    )
    buf = io.BytesIO()
    pq.write_table(table, buf)
    p = parse(buf.getvalue(), "CLAIMS/MEMBER/20240102-100001000.parquet")
    assert p.status == "processed", p.reason
    assert p.rows[0][0] == parse(csv_bytes(ROW_I)).rows[0][0]


def test_full_load_without_op_means_insert():
    header = HEADER.replace("Op,", "", 1)
    row = ROW_I.split(",", 1)[1].replace(SEQ1, "", 1)
    p = parse(csv_bytes(row, header=header), "CLAIMS/MEMBER/LOAD0000000A.csv")
    assert p.status == "processed", p.reason
    assert p.rows[0][1] == "I" and p.rows[0][4] is True and p.rows[0][3] is None


@pytest.mark.parametrize(
    ("data", "path", "reason"),
    [
        (b"", "x.csv", "empty file"),
        (HEADER.encode() + b"\n", "x.csv", "header-only"),
        (b"\x1f\x8b\x08garbage", "x.csv.gz", "gzip"),
        (b"PAR1notparquet", "x.parquet", "Parquet"),
        (csv_bytes(ROW_I, ROW_D[:-3]), "x.csv", "wrong column count"),
        (csv_bytes(ROW_I.replace("I,", "X,", 1)), "x.csv", "unknown Op"),
        (
            csv_bytes(ROW_I.replace("2024-01-02 10:00:00.123456", "yesterday")),
            "x.csv",
            "DMS_TIMESTAMP",
        ),
        (csv_bytes(ROW_I.replace(",M1,M1,", ",,M1,")), "x.csv", "key column MEMBER_ID is NULL"),
        (csv_bytes(ROW_I).replace(b"Austin", b"Aus\xfftin"), "x.csv", "UTF-8"),
        (
            csv_bytes(ROW_I, header=HEADER.replace(",MEMBER_ID", ",MEMBER_NO")),
            "x.csv",
            "key column",
        ),
        (
            csv_bytes(ROW_I, header=HEADER.replace("Op,", "", 1)).replace(b"I,", b"", 1),
            "x.csv",
            "Op",
        ),
    ],
)
def test_malformed_files_are_quarantined_with_a_reason_and_no_phi(data, path, reason):
    name = path.replace("x.", "20240102-100001000.")
    p = parse(data, f"CLAIMS/MEMBER/{name}")
    assert p.status == "quarantined"
    assert reason in p.reason
    assert p.rows == [] and p.rejects == []
    assert not any(v in p.reason for v in PHI)


def test_bad_rows_are_rejected_with_rule_and_original_values():
    claim = load_contracts()["CLAIM"]
    header = (
        "Op,DMS_TIMESTAMP,CLAIM_ID,ORIGINAL_CLAIM_ID,FREQUENCY_CODE,CLAIM_FORM_TYPE,MEMBER_ID,"
        "BILLING_PROVIDER_ID,BILL_TYPE_CODE,STATEMENT_FROM_DATE,STATEMENT_THRU_DATE,RECEIVED_DATE,"
        "ADJUDICATED_DATE,PAID_DATE,CLAIM_STATUS,TOTAL_BILLED,TOTAL_ALLOWED,TOTAL_PAID,"
        "DIAGNOSIS_CODES,UPDATED_AT"
    )
    good_dx = '"[{""seq"":1,""code"":""E119"",""poa"":""Y""}]"'
    base = "I,2024-01-02 10:00:00,C{n},,1,P,M1,P1,,2024-01-01,2024-01-01,2024-01-02,,,RECEIVED,{amt},0.00,0.00,{dx},2024-01-02 10:00:00"
    rows = [
        base.format(n=1, amt="10.00", dx=good_dx),
        base.format(n=2, amt="10.001", dx=good_dx),
        base.format(n=3, amt="10.00", dx='"[{""seq"":1,""code"":""E11.9"",""poa"":""Y""}]"'),
        base.format(n=4, amt="10.00", dx='"not json"'),
        base.format(n=5, amt="ten", dx=good_dx),
        # A delete's before image is not held to domain rules.
        base.format(n=6, amt="10.00", dx='"[{""seq"":1,""code"":""bad"",""poa"":""Y""}]"').replace(
            "I,", "D,", 1
        ),
    ]
    p = parse(csv_bytes(*rows, header=header), "CLAIMS/CLAIM/20240102-100001000.csv", claim)
    assert p.status == "processed"
    assert [r[10] for r in p.rows] == ["C1", "C6"]
    rules = {json.loads(r[5])["CLAIM_ID"]: (r[3], r[2]) for r in p.rejects}
    assert rules == {
        "C2": ("type:TOTAL_BILLED", 2),
        "C3": ("icd10cm", 3),
        "C4": ("type:DIAGNOSIS_CODES", 4),
        "C5": ("type:TOTAL_BILLED", 5),
    }
    for r in p.rejects:
        assert r[4].startswith("CLAIMS/CLAIM/20240102-100001000.csv row ")


def test_line_balance_and_npi_rules():
    line = load_contracts()["CLAIM_LINE"]
    cols = ["Op", "DMS_TIMESTAMP", *line.column_names]

    def row(n, billed, allowed, paid, ded="0.00", proc="99213", pos="11"):
        values = {c: "" for c in line.column_names}
        values.update(
            CLAIM_ID="C1",
            LINE_NUMBER=str(n),
            PROCEDURE_CODE=proc,
            PLACE_OF_SERVICE=pos,
            BILLED_AMT=billed,
            ALLOWED_AMT=allowed,
            PAID_AMT=paid,
            DEDUCTIBLE_AMT=ded,
            COPAY_AMT="0.00",
            COINSURANCE_AMT="0.00",
            ADJUSTMENTS="[]",
        )
        return ",".join(["I", "2024-01-02 10:00:00", *(values[c] for c in line.column_names)])

    data = csv_bytes(
        row(1, "100.00", "80.00", "70.00", "10.00"),
        row(2, "100.00", "80.00", "70.00"),
        row(3, "50.00", "80.00", "80.00"),
        row(4, "100.00", "80.00", "80.00", proc="9921"),
        row(5, "100.00", "80.00", "80.00", proc="J1100", pos="1"),
        header=",".join(cols),
    )
    p = parse(data, "CLAIMS/CLAIM_LINE/20240102-100001000.csv", line)
    assert [r[11] for r in p.rows] == [1]
    assert [(r[2], r[3]) for r in p.rejects] == [
        (2, "line_balance"),
        (3, "billed_covers_allowed"),
        (4, "cpt_hcpcs"),
        (5, "place_of_service"),
    ]


def real_dms_contract(*more_columns: dict[str, str]) -> TableContract:
    """A contract for the table of the real DMS fixture (`../shared/fixtures/dms-real/`)."""
    return TableContract.model_validate(
        {
            "name": "DMS_TEST_TABLE",
            "description": "Table of the real DMS fixture.",
            "owner": "team:data-platform",
            "primary_key": ["ID"],
            "columns": [
                {"name": "ID", "type": "integer", "description": "key"},
                {"name": "MY_INT", "type": "integer", "description": "int4"},
                {"name": "MY_NUMERIC", "type": "decimal(15,2)", "description": "numeric"},
                {"name": "MY_MONEY", "type": "decimal(38,4)", "description": "money"},
                {"name": "MY_VARCHAR", "type": "string", "description": "varchar"},
                {"name": "MY_TIMESTAMP", "type": "timestamp", "description": "timestamp"},
                {"name": "MY_JSONB", "type": "json", "description": "jsonb"},
                {"name": "MY_BOOL", "type": "boolean", "description": "bool"},
                {"name": "MY_DOUBLE", "type": "double", "description": "double"},
                *more_columns,
            ],
        }
    )


def test_real_dms_parquet_file_is_read():
    path = SHARED_FIXTURES / "dms-real" / "dms_test_table_LOAD00000001.parquet"
    if not path.exists():
        pytest.skip("shared fixtures are not beside this checkout")
    contract = real_dms_contract()
    p = parse(path.read_bytes(), "CLAIMS/DMS_TEST_TABLE/LOAD00000001.parquet", contract)
    assert p.status == "processed", p.reason
    assert p.row_count == 10 and len(p.rows) == 10 and not p.rejects
    first = p.rows[0]
    assert first[1] == "I" and first[4] is True
    assert first[2] == dt.datetime(2022, 7, 26, 6, 46, 18, 616807)
    assert first[10:14] == (1, 1298498081, Decimal("1427131847.59"), Decimal("47632969758.5400"))
    assert first[15] == dt.datetime(2021, 10, 31, 15, 34, 12, 458000)
    assert [r[10] for r in p.rows] == list(range(1, 11))


def test_a_column_added_at_the_source_rides_along_as_text():
    header = HEADER + ",PREFERRED_LANGUAGE"
    old = parse(csv_bytes(ROW_I))
    new = parse(csv_bytes(ROW_I + ",spa", ROW_I + ",", header=header))
    assert new.status == "processed", new.reason
    assert new.extra_columns == ["preferred_language"]
    assert new.rows[0][-1] == {"preferred_language": "spa"}
    # NULL in the new column: the same change as before the column existed.
    assert new.rows[1][-1] is None
    assert new.rows[1][0] == old.rows[0][0]
    assert new.rows[0][0] != old.rows[0][0]
    assert new.ledger_row()[-1] == "preferred_language"
