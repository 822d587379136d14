"""The vectorised parser against the row-by-row one it replaced (`rowwise`, an independent model).

Same files in, same outcome out: status, quarantine reason, ledger facts, every row (change id,
SSN token, typed values, added columns) and every reject (rule, reason, raw record) — on the
simulator's files in each DMS format, the real DMS file, and generated files whose values take the
shapes that go through the scalar route. Then files mutated at the byte level: the parser never
raises, whatever the bytes.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claims_platform.contracts import TableContract, load_contracts
from claims_platform.dms.files import DmsFile, parse_path
from claims_platform.dms.parse import FileParse, ParseLimits, parse_dms_file
from claims_platform.simulator.runner import simulate
from claims_platform_tests.conftest import SHARED_FIXTURES
from claims_platform_tests.dms import rowwise
from claims_platform_tests.dms.test_parse import real_dms_contract

CONTRACTS = load_contracts()
KEY = "k" * 40
LOADED_AT = dt.datetime(2024, 5, 1)
FACTS = (
    "status",
    "reason",
    "row_count",
    "rows_loaded",
    "rows_rejected",
    "first_change_at",
    "last_change_at",
    "extra_columns",
    "size_bytes",
    "checksum_sha256",
)


def both(data: bytes, f: DmsFile, contract: TableContract, limits: ParseLimits | None = None):
    kw: dict[str, Any] = {"tokenization_key": KEY, "batch_id": "b", "loaded_at": LOADED_AT}
    new = parse_dms_file(data, f, contract, **kw, **({"limits": limits} if limits else {}))
    old = rowwise.parse_dms_file(data, f, contract, **kw)
    return old, new


def assert_same(old: Any, new: Any, what: str) -> None:
    for name in FACTS:
        assert getattr(new, name) == getattr(old, name), f"{what}: {name}"
    assert new.rejects == old.rejects, what
    assert len(new.rows) == len(old.rows), what
    for i, (a, b) in enumerate(zip(old.rows, new.rows, strict=True)):
        # Equal values and equal change ids (the id covers what equality cannot see, e.g. -0.00).
        assert b == a and b[0] == a[0], f"{what} row {i + 1}"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    roots = {}
    for fmt in ("csv", "csv.gz", "parquet"):
        root = tmp_path_factory.mktemp(fmt.replace(".", "_"))
        simulate(root, members=40, days=3, history_days=45, fmt=fmt, seed=11)
        roots[fmt] = root
    return roots


@pytest.mark.parametrize("fmt", ["csv", "csv.gz", "parquet"])
def test_simulator_files_parse_the_same_as_row_by_row(corpus: dict[str, Path], fmt: str) -> None:
    root = corpus[fmt]
    seen = 0
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        f = parse_path(rel)
        if not path.is_file() or f is None or f.table not in CONTRACTS:
            continue
        old, new = both(path.read_bytes(), f, CONTRACTS[f.table])
        assert old.status == "processed", rel
        assert_same(old, new, rel)
        seen += 1
    assert seen >= 20


def test_small_batches_give_the_same_result(corpus: dict[str, Path]) -> None:
    """Batch boundaries (row numbers, first/last change, per-batch rules) change nothing."""
    root = corpus["csv"]
    path = next(root.glob("CLAIMS/CLAIM_LINE/LOAD*"))
    f = parse_path(path.relative_to(root).as_posix())
    assert f is not None
    old, new = both(path.read_bytes(), f, CONTRACTS[f.table], ParseLimits(batch_rows=7))
    assert_same(old, new, "batch_rows=7")


# Values of every shape the scalar route exists for, and ordinary ones.
ODD_TEXT = [
    "",
    " ",
    "0",
    "-0",
    "-0.00",
    "007",
    "1E+3",
    "1e-2",
    "1E+300000",
    "12.345",
    "12.3",
    " 12.30 ",
    "99999999999.99",
    "100000000000.00",
    "9" * 25,
    "NaN",
    "Infinity",
    "2024-02-30",
    "2024-01-01T10:00:00",
    "2024-01-01 10:00:00.1234567891",
    "2024-01-01 10:00:00.5",
    "2024-01-01 24:00:00",
    "0999-01-01",
    "10000-01-01",
    "2024-1-1",
    "José",
    'a"b',
    "a\\b",
    "tab\there",
    "line\nbreak",
    "1234F\n",
    "99213",
    "A1234",
    "٣٤",
    "[]",
    '[{"group":"CO","carc":"45","amount":1.5}]',
    '[{"group":"CO","carc":"45","amount":1.555}]',
    '[{"group":"CO"}]',
    '{"a":1}',
    "[" * 5000,
    "true",
]


def _claim_line_row(draw: Any, i: int, mutate: bool) -> list[str | None]:
    base = {
        "Op": draw(st.sampled_from(["I", "U", "D"])),
        "DMS_TIMESTAMP": f"2024-03-01 10:00:{i % 60:02d}.{i:06d}",
        "AR_H_CHANGE_SEQ": f"{i:035d}",
        "CLAIM_ID": f"C{i:04d}",
        "LINE_NUMBER": str(i),
        "SERVICE_FROM_DATE": "2024-01-01",
        "SERVICE_THRU_DATE": "2024-01-02",
        "PROCEDURE_CODE": "99213",
        "MODIFIER_1": None,
        "MODIFIER_2": None,
        "REVENUE_CODE": "0450",
        "PLACE_OF_SERVICE": "11",
        "UNITS": "1",
        "RENDERING_PROVIDER_ID": "P1",
        "BILLED_AMT": "150.00",
        "ALLOWED_AMT": "110.00",
        "PAID_AMT": "100.00",
        "DEDUCTIBLE_AMT": "10.00",
        "COPAY_AMT": "0.00",
        "COINSURANCE_AMT": "0.00",
        "LINE_STATUS": "PAID",
        "ADJUSTMENTS": '[{"group":"CO","carc":"45","amount":40.0}]',
        "UPDATED_AT": "2024-03-01 09:00:00",
    }
    if mutate:
        names = [n for n in base if n not in ("Op", "DMS_TIMESTAMP", "CLAIM_ID", "LINE_NUMBER")]
        for name in draw(st.lists(st.sampled_from(names), max_size=3)):
            base[name] = draw(st.sampled_from([None, *ODD_TEXT]))
    return list(base.values())


@st.composite
def claim_line_files(draw: Any) -> tuple[str, bytes]:
    n = draw(st.integers(1, 12))
    rows = [_claim_line_row(draw, i + 1, draw(st.booleans())) for i in range(n)]
    header = list(CONTRACTS["CLAIM_LINE"].column_names)
    header = ["Op", "DMS_TIMESTAMP", "AR_H_CHANGE_SEQ", *header]
    if draw(st.booleans()):
        header.append("REFERRAL_NUMBER")  # a column added at the source
        for r in rows:
            r.append(draw(st.sampled_from([None, "R1", 'q"', "Ω"])))
    fmt = draw(st.sampled_from(["csv", "parquet"]))
    if fmt == "parquet":
        table = pa.table(
            {h: pa.array([r[k] for r in rows], pa.string()) for k, h in enumerate(header)}
        )
        buf = io.BytesIO()
        pq.write_table(table, buf)
        return "parquet", buf.getvalue()
    out = io.StringIO()
    import csv

    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        # DMS: NULL is an empty unquoted field; an empty string is quoted.
        out.write(",".join("" if v is None else _quote(v) for v in r) + "\n")
    return "csv", out.getvalue().encode("utf-8")


def _quote(v: str) -> str:
    return '"' + v.replace('"', '""') + '"' if (not v or set(v) & set(',"\n\r')) else v


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(claim_line_files())
def test_generated_values_parse_the_same_as_row_by_row(case: tuple[str, bytes]) -> None:
    fmt, data = case
    f = parse_path(f"CLAIMS/CLAIM_LINE/20240301-100000000.{fmt}")
    assert f is not None
    try:
        old = rowwise.parse_dms_file(
            data,
            f,
            CONTRACTS["CLAIM_LINE"],
            tokenization_key=KEY,
            batch_id="b",
            loaded_at=LOADED_AT,
        )
    except RecursionError:
        old = None  # the row-by-row parser crashed on deep nesting; the vectorised one must not
    new = parse_dms_file(
        data, f, CONTRACTS["CLAIM_LINE"], tokenization_key=KEY, batch_id="b", loaded_at=LOADED_AT
    )
    if old is None:
        assert new.status in ("processed", "quarantined")
        assert all(r[3] in ("json", "type:ADJUSTMENTS") for r in new.rejects if "[[[" in r[5])
        return
    assert_same(old, new, fmt)


def test_the_real_dms_parquet_file_parses_the_same() -> None:
    path = SHARED_FIXTURES / "dms-real" / "dms_test_table_LOAD00000001.parquet"
    if not path.exists():
        pytest.skip("shared fixtures are not beside this checkout")
    # Two more columns typed unlike the file (float as text, int16 as a decimal): the scalar route.
    contract = real_dms_contract(
        {"name": "MY_REAL", "type": "string", "description": "real as text"},
        {"name": "MY_SMALLINT", "type": "decimal(10,0)", "description": "smallint"},
    )
    f = parse_path("CLAIMS/DMS_TEST_TABLE/LOAD00000001.parquet")
    assert f is not None
    old, new = both(path.read_bytes(), f, contract)
    assert new.status == "processed" and new.rows_loaded > 0
    assert_same(old, new, "dms-real")


# ---------------------------------------------------------------------------------------------
# Byte-level mutations: whatever the bytes, a quarantine or rows — never an exception.

MEMBER = CONTRACTS["MEMBER"]
MEMBER_CSV = (
    "Op,DMS_TIMESTAMP,AR_H_CHANGE_SEQ,MEMBER_ID,SUBSCRIBER_ID,RELATIONSHIP_CODE,FIRST_NAME,"
    "LAST_NAME,BIRTH_DATE,GENDER,SSN,ADDRESS_LINE1,CITY,STATE,ZIP5,PHONE,EMAIL,UPDATED_AT\n"
    + "".join(
        f"U,2024-01-02 10:00:0{i}.000000,{i:035d},M{i},M{i},18,Ann,Able,1980-01-01,F,"
        f"12345678{i},1 Main St,Austin,TX,78701,555-010-0000,ann@example.com,2024-01-02 10:00:00\n"
        for i in range(1, 6)
    )
).encode()


def _member_parquet() -> bytes:
    import csv

    rows = list(csv.reader(io.StringIO(MEMBER_CSV.decode())))
    table = pa.table({h: [r[k] for r in rows[1:]] for k, h in enumerate(rows[0])})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


SEEDS = {"csv": MEMBER_CSV, "csv.gz": gzip.compress(MEMBER_CSV), "parquet": _member_parquet()}


@st.composite
def mutated_files(draw: Any) -> tuple[str, bytes]:
    fmt = draw(st.sampled_from(sorted(SEEDS)))
    data = bytearray(SEEDS[fmt])
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["truncate", "flip", "insert", "latin1", "huge", "column"]))
        if kind == "truncate" and data:
            del data[draw(st.integers(0, len(data) - 1)) :]
        elif kind == "flip" and data:
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            i = draw(st.integers(0, len(data)))
            data[i:i] = draw(
                st.sampled_from([b",", b'"', b"\n", b"\r", b"\x00", b"\xff\xfe", b"[" * 3000])
            )
        elif kind == "latin1" and fmt == "csv":
            data = bytearray(bytes(data).replace(b"Ann", "Änn".encode("latin-1")))
        elif kind == "huge" and fmt == "csv":
            data = bytearray(bytes(data).replace(b"Able", b"1E+300000", 1))
        elif kind == "column" and fmt == "csv":
            extra = draw(
                st.sampled_from(["ORDER", "WINDOW", "SSN_TOKEN", "A#B", "MEMBER_ID", "_EXTRA"])
            )
            lines = bytes(data).split(b"\n")
            lines = [lines[0] + f",{extra}".encode(), *(ln + b",x" for ln in lines[1:] if ln)]
            data = bytearray(b"\n".join(lines) + b"\n")
    return fmt, bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_files())
def test_mutated_files_are_quarantined_or_parsed_never_raised(case: tuple[str, bytes]) -> None:
    fmt, data = case
    f = parse_path(f"CLAIMS/MEMBER/20240102-100001000.{fmt}")
    assert f is not None
    parse = FileParse(data, f, MEMBER, tokenization_key=KEY, batch_id="b", loaded_at=LOADED_AT)
    pieces = list(parse.pieces())
    facts = parse.facts
    assert facts.status in ("processed", "quarantined")
    if facts.status == "quarantined":
        assert facts.reason and facts.rows_loaded == 0
        for value in ("Ann", "Able", "123456781", "Main", "ann@example.com"):
            assert value not in facts.reason
    else:
        rows = sum(b.num_rows for k, b in pieces if k == "rows")
        assert (
            rows == facts.rows_loaded and facts.rows_loaded + facts.rows_rejected == facts.row_count
        )


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ("SSN_TOKEN", "has the name of a silver column"),
        ("_CHANGE_ID", "not an identifier"),
    ],
)
def test_an_added_column_colliding_with_a_platform_column_quarantines(
    extra: str, reason: str
) -> None:
    lines = MEMBER_CSV.decode().splitlines()
    data = "\n".join([lines[0] + f",{extra}", *(ln + ",x" for ln in lines[1:])]).encode()
    f = parse_path("CLAIMS/MEMBER/20240102-100001000.csv")
    assert f is not None
    p = parse_dms_file(data, f, MEMBER, tokenization_key=KEY, batch_id="b", loaded_at=LOADED_AT)
    assert p.status == "quarantined" and reason in (p.reason or "")


def test_more_added_columns_than_the_limit_quarantines() -> None:
    lines = MEMBER_CSV.decode().splitlines()
    added = [f"NEW_{k}" for k in range(5)]
    data = "\n".join([lines[0] + "," + ",".join(added), *(ln + ",x" * 5 for ln in lines[1:])])
    f = parse_path("CLAIMS/MEMBER/20240102-100001000.csv")
    assert f is not None
    kw: dict[str, Any] = {"tokenization_key": KEY, "batch_id": "b", "loaded_at": LOADED_AT}
    p = parse_dms_file(data.encode(), f, MEMBER, **kw, limits=ParseLimits(max_added_columns=4))
    assert p.status == "quarantined" and "more than the limit of 4" in (p.reason or "")
    p = parse_dms_file(data.encode(), f, MEMBER, **kw, limits=ParseLimits(max_added_columns=5))
    assert p.status == "processed" and p.extra_columns == [n.lower() for n in added]


def test_a_gzip_bomb_stops_at_the_decompressed_limit_and_is_quarantined() -> None:
    body = MEMBER_CSV + b"".join(
        b"U,2024-01-02 10:00:09.000000,,M9,M9,18,Ann,Able,1980-01-01,F,,,,,,,,"
        + b" " * 1000
        + b",\n"
        for _ in range(2000)
    )
    f = parse_path("CLAIMS/MEMBER/20240102-100001000.csv.gz")
    assert f is not None
    kw: dict[str, Any] = {"tokenization_key": KEY, "batch_id": "b", "loaded_at": LOADED_AT}
    p = parse_dms_file(
        gzip.compress(body), f, MEMBER, **kw, limits=ParseLimits(max_decompressed_bytes=100_000)
    )
    assert p.status == "quarantined" and "decompressed size exceeds" in (p.reason or "")


def test_values_outside_python_ranges_are_rejects_not_crashes() -> None:
    """Parquet holds timestamps past year 9999 and integers past 64 bits; Python and Spark do not."""
    table = pa.table(
        {
            "Op": ["I", "I"],
            "DMS_TIMESTAMP": ["2024-01-02 10:00:00", "2024-01-02 10:00:01"],
            "MEMBER_ID": ["M1", "M2"],
            "UPDATED_AT": pa.array([10**17, 0], pa.timestamp("us")),  # year ~5138 vs …
        }
    )
    buf = io.BytesIO()
    pq.write_table(table, buf)
    f = parse_path("CLAIMS/MEMBER/20240102-100001000.parquet")
    assert f is not None
    p = parse_dms_file(
        buf.getvalue(), f, MEMBER, tokenization_key=KEY, batch_id="b", loaded_at=LOADED_AT
    )
    assert p.status == "processed", p.reason
    far = pa.table(
        {
            "Op": ["I"],
            "DMS_TIMESTAMP": pa.array([300_000_000_000_000_000], pa.timestamp("us")),
            "MEMBER_ID": ["M1"],
        }
    )
    buf = io.BytesIO()
    pq.write_table(far, buf)
    p = parse_dms_file(
        buf.getvalue(), f, MEMBER, tokenization_key=KEY, batch_id="b", loaded_at=LOADED_AT
    )
    assert p.status == "quarantined" and "DMS_TIMESTAMP is outside the supported date range" in (
        p.reason or ""
    )
    json.dumps(p.ledger_row(), default=str)  # the ledger row is writable


# Nested JSON values: the ones a pattern accepts without Python must be exactly the valid ones.
_JSON_NUMBERS = [
    "0",
    "-0",
    "01",
    "1.",
    "40",
    "40.0",
    "40.00",
    "40.001",
    "-5.5",
    "1e5",
    "1E-2",
    "99999999999",
    "9999999999.99",
    "true",
    "null",
    '"40.00"',
    "NaN",
]
_JSON_STRINGS = ['"CO"', '""', '"a\\"b"', '"\\u00e9"', '"é"', '"x\\\\y"', "1", "null", '"\\n"']


@st.composite
def adjustments(draw: Any) -> str:
    ws = st.sampled_from(["", " ", "\n", "\t"])
    plain = draw(st.booleans())  # half the values use only shapes the pattern accepts
    numbers = (
        ["0", "-0", "40", "40.0", "40.05", "-5.5", "9999999999.99"] if plain else _JSON_NUMBERS
    )
    strings = ['"CO"', '""', '"PR 1"'] if plain else _JSON_STRINGS
    items = []
    for _ in range(draw(st.integers(0, 3))):
        fields = [
            f'"group"{draw(ws)}:{draw(ws)}{draw(st.sampled_from(strings))}',
            f'"carc":{draw(st.sampled_from(strings))}',
            f'"amount":{draw(st.sampled_from(numbers))}',
        ]
        if not plain and draw(st.booleans()):
            fields = draw(st.permutations(fields))
        if not plain and draw(st.integers(0, 5)) == 0:
            fields = fields[: draw(st.integers(0, 2))]
        if not plain and draw(st.integers(0, 5)) == 0:
            fields.append('"extra":1')
        items.append("{" + f",{draw(ws)}".join(fields) + "}")
    text = draw(ws) + "[" + ",".join(items) + "]" + draw(ws)
    return draw(st.sampled_from([text, text, text, "{}", "[1]", "[", text + "x"]))


def claim_line_csv(adjustment_values: list[str]) -> bytes:
    """A CDC file of valid claim lines, one per ADJUSTMENTS value (quoted as DMS quotes)."""
    import csv

    contract = CONTRACTS["CLAIM_LINE"]
    header = ["Op", "DMS_TIMESTAMP", "AR_H_CHANGE_SEQ", *contract.column_names]
    out = io.StringIO()
    w = csv.DictWriter(out, header, lineterminator="\n", quoting=csv.QUOTE_ALL)
    w.writeheader()
    for i, value in enumerate(adjustment_values, start=1):
        row = {h: "" for h in header}
        row.update(
            {
                "Op": "I",
                "DMS_TIMESTAMP": "2024-03-01 10:00:00",
                "CLAIM_ID": f"C{i}",
                "LINE_NUMBER": "1",
                "ALLOWED_AMT": "1.00",
                "PAID_AMT": "1.00",
                "DEDUCTIBLE_AMT": "0.00",
                "COPAY_AMT": "0.00",
                "COINSURANCE_AMT": "0.00",
                "ADJUSTMENTS": value,
            }
        )
        w.writerow(row)
    data = out.getvalue().replace('""', "\x00").replace(',"\x00"', ",").replace("\x00", '""')
    return data.encode()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(adjustments())
def test_nested_json_values_get_the_same_verdict_as_row_by_row(value: str) -> None:
    f = parse_path("CLAIMS/CLAIM_LINE/20240301-100000000.csv")
    assert f is not None
    old, new = both(claim_line_csv([value]), f, CONTRACTS["CLAIM_LINE"])
    assert_same(old, new, value)


@pytest.mark.parametrize("fmt", ["csv", "csv.gz", "parquet"])
def test_a_read_that_fails_midway_is_unreadable_not_quarantined(fmt: str, monkeypatch) -> None:
    """A network error while streaming the object is not the file's fault: no ledger verdict."""
    import claims_platform.dms.parse as parse_module

    class Flaky(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self.data, self.pos = data, 0

        def readable(self) -> bool:
            return True

        def readinto(self, b: Any) -> int:
            if self.pos >= len(self.data) // 2:
                raise ConnectionError("reset by peer")
            n = min(len(b), 64, len(self.data) // 2 - self.pos)
            b[:n] = self.data[self.pos : self.pos + n]
            self.pos += n
            return n

    data = SEEDS[fmt] * (1 if fmt != "csv" else 50)
    monkeypatch.setattr(parse_module, "_open_source", lambda source: Flaky(data))
    f = parse_path(f"CLAIMS/MEMBER/20240102-100001000.{fmt}")
    assert f is not None
    parse = FileParse(
        "s3://b/k", f, MEMBER, tokenization_key=KEY, batch_id="b", loaded_at=LOADED_AT
    )
    list(parse.pieces())
    assert parse.facts.status == "unreadable"
