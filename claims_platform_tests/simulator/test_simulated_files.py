"""The landing files a simulation writes: names, layout, order, formats and determinism."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from claims_platform.simulator import CDC_FILE_RE, LOAD_FILE_RE, simulate
from claims_platform_tests.simulator.helpers import data_files, read_dms, read_jsonl, relative

_CDC_STEM = re.compile(r"^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})(\d{3})")


def _name_time(name: str) -> str:
    """A CDC file name as a DMS_TIMESTAMP prefix (milliseconds)."""
    y, mo, d, h, mi, s, ms = _CDC_STEM.match(name).groups()
    return f"{y}-{mo}-{d} {h}:{mi}:{s}.{ms}"


def _bytes(root: Path) -> dict[str, bytes]:
    return {relative(root, p): p.read_bytes() for p in data_files(root)}


@pytest.mark.parametrize("fmt", ["csv", "csv.gz", "parquet"])
def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path, fmt):
    options = {"members": 40, "days": 4, "fmt": fmt}
    simulate(tmp_path / "a", seed=5, **options)
    simulate(tmp_path / "b", seed=5, **options)
    simulate(tmp_path / "c", seed=6, **options)
    first = _bytes(tmp_path / "a")
    assert first and first == _bytes(tmp_path / "b")
    other = _bytes(tmp_path / "c")
    assert first[f"CLAIMS/MEMBER/LOAD00000001.{fmt}"] != other[f"CLAIMS/MEMBER/LOAD00000001.{fmt}"]


def test_file_names_paths_and_time_order(demo, by_format, contracts):
    for run in (demo, *by_format.values()):
        cdc: dict[str, list[Path]] = defaultdict(list)
        for path in data_files(run.landing):
            parts = relative(run.landing, path).split("/")
            assert parts[0] == "CLAIMS" and parts[1] in contracts
            if LOAD_FILE_RE.match(path.name):
                assert len(parts) == 3  # full-load files are never date-partitioned
            else:
                assert CDC_FILE_RE.match(path.name), path
                if len(parts) == 6:  # YYYY/MM/DD of the file's own date
                    assert "".join(parts[2:5]) == path.name[:8]
                else:
                    assert len(parts) == 3
                cdc[parts[1]].append(path)
        if run is demo:  # tiny runs may leave a table unchanged
            assert set(cdc) == set(contracts)
        for table, paths in cdc.items():
            paths.sort(key=lambda p: p.name)
            previous_last = ""
            for path in paths:
                header, rows = read_dms(path, contracts[table])
                stamps = [r[header.index("DMS_TIMESTAMP")] for r in rows]
                assert rows and stamps == sorted(stamps), path  # commit order within a file
                assert previous_last < stamps[0], path  # names sort in time order
                assert stamps[-1] < _name_time(path.name), path  # named after its close
                previous_last = stamps[-1]


def test_headers_follow_the_contracts(demo, by_format, contracts):
    for run, load_op in ((demo, False), (by_format["csv"], True), (by_format["parquet"], True)):
        for path in data_files(run.landing):
            table = relative(run.landing, path).split("/")[1]
            header, rows = read_dms(path, contracts[table])
            columns = contracts[table].column_names
            if LOAD_FILE_RE.match(path.name):
                prefix = ["Op"] if load_op else []
                assert header == [*prefix, "DMS_TIMESTAMP", "AR_H_CHANGE_SEQ", *columns]
                if load_op:
                    assert {r[0] for r in rows} == {"I"}
                assert {r[header.index("AR_H_CHANGE_SEQ")] for r in rows} == {None}
            else:
                assert header == ["Op", "DMS_TIMESTAMP", "AR_H_CHANGE_SEQ", *columns]
                assert {r[0] for r in rows} <= {"I", "U", "D"}


def test_change_seq_is_35_digits_unique_and_increasing_in_commit_order(demo, contracts):
    changes = []
    for path in data_files(demo.landing):
        if CDC_FILE_RE.match(path.name):
            table = relative(demo.landing, path).split("/")[1]
            _header, rows = read_dms(path, contracts[table])
            changes += [(r[1], r[2]) for r in rows]
    assert len(changes) > 1000
    changes.sort()
    seqs = [seq for _, seq in changes]
    assert all(re.fullmatch(r"\d{35}", s) for s in seqs)
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    stamps = [ts for ts, _ in changes]
    assert len(set(stamps)) == len(stamps)  # commit times are strictly increasing too
    assert all(13 <= int(ts[11:13]) < 23 for ts in stamps)  # business hours (UTC)


def test_full_load_splits_into_hex_numbered_files(by_format, contracts):
    run = by_format["csv"]
    loads = sorted(p.name for p in (run.landing / "CLAIMS" / "MEMBER").glob("LOAD*"))
    assert len(loads) > 10 and "LOAD0000000A.csv" in loads
    assert loads == [f"LOAD{n:08X}.csv" for n in range(1, len(loads) + 1)]
    sizes = [
        len(read_dms(run.landing / "CLAIMS" / "MEMBER" / n, contracts["MEMBER"])[1]) for n in loads
    ]
    assert all(s == 7 for s in sizes[:-1]) and 0 < sizes[-1] <= 7


def test_every_format_lands_the_same_changes(by_format, contracts):
    def content(run):
        out = {}
        for path in data_files(run.landing):
            rel = relative(run.landing, path)
            out[rel.rsplit(".", 2 if rel.endswith(".gz") else 1)[0]] = read_dms(
                path, contracts[rel.split("/")[1]]
            )
        return out

    csv_content = content(by_format["csv"])
    assert csv_content == content(by_format["csv.gz"]) == content(by_format["parquet"])
    assert read_jsonl(by_format["csv"].truth / "CLAIM.final.jsonl") == read_jsonl(
        by_format["parquet"].truth / "CLAIM.final.jsonl"
    )


def test_parquet_column_types(by_format):
    run = by_format["parquet"]
    schema = pq.read_schema(run.landing / "CLAIMS" / "CLAIM_LINE" / "LOAD00000001.parquet")
    assert [schema.field(n).type for n in ("Op", "DMS_TIMESTAMP", "AR_H_CHANGE_SEQ")] == [
        pa.string()
    ] * 3
    assert schema.field("LINE_NUMBER").type == pa.int64()
    assert schema.field("PAID_AMT").type == pa.decimal128(12, 2)
    assert schema.field("SERVICE_FROM_DATE").type == pa.date32()
    assert schema.field("UPDATED_AT").type == pa.timestamp("us", tz="UTC")
    assert schema.field("ADJUSTMENTS").type == pa.string()


def test_every_table_sees_inserts_updates_and_deletes(demo):
    for table, ops in demo.summary.rows.items():
        assert all(ops[op] > 0 for op in "IUD"), (table, ops)
    # "--members 200 --days 30 gives a few thousand rows"
    assert 2_000 <= demo.summary.rows_total <= 10_000


def test_deletes_carry_the_key_only_or_the_whole_before_image(demo, tmp_path, contracts):
    def deletes(landing):
        found = []
        for path in data_files(landing):
            table = relative(landing, path).split("/")[1]
            header, rows = read_dms(path, contracts[table])
            found += [(table, dict(zip(header, r, strict=True))) for r in rows if r[0] == "D"]
        return found

    for table, row in deletes(demo.landing):
        keys = set(contracts[table].primary_key)
        assert all((row[c] is not None) == (c in keys) for c in contracts[table].column_names)
    simulate(tmp_path, members=60, days=10, key_only_deletes=False, include_change_seq=False)
    full = deletes(tmp_path)
    assert full and all(row["UPDATED_AT"] is not None for _, row in full)
    assert all("AR_H_CHANGE_SEQ" not in row for _, row in full)
