"""Child tables flattened in the file's task (silver/flatten.py) against two independent models.

- The item model: each kept row's JSON value read with `json.loads`, each item's fields typed by
  the scalar converters that validated them, positions counted from 1.
- Spark's `from_json` + `posexplode`, which the job ran over the written parts before the
  flattening moved into the task: on the simulator's claims and claim lines, the same rows.

Generated values mix the plain shape (Arrow's JSON reader) with every other shape (item by item)
in one file, so both routes and their merge back into file order are compared.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claims_platform.contracts import TableContract, load_contracts
from claims_platform.dms.files import parse_path
from claims_platform.dms.parse import FileParse, clean_json_pattern, with_change_ids
from claims_platform.dms.values import converter
from claims_platform.silver.flatten import flatten_children
from claims_platform.simulator.runner import simulate
from claims_platform_tests.dms.test_vectorized import adjustments, claim_line_csv

CONTRACTS = load_contracts()
KEY = "k" * 40


def parsed_rows(data: bytes, path: str, contract: TableContract) -> pa.Table | None:
    f = parse_path(path)
    assert f is not None
    fp = FileParse(
        data, f, contract, tokenization_key=KEY, batch_id="b", loaded_at=dt.datetime(2024, 5, 1)
    )
    batches = [with_change_ids(piece) for kind, piece in fp.pieces() if kind == "rows"]
    assert fp.facts.status == "processed", fp.facts.reason
    return pa.Table.from_batches(batches) if batches else None


def model(rows: pa.Table, contract: TableContract) -> dict[str, list[tuple[Any, ...]]]:
    keys = [contract.column(k).silver_name for k in contract.primary_key]
    out: dict[str, list[tuple[Any, ...]]] = {}
    for col in contract.nested_columns:
        assert col.nested is not None
        got = out.setdefault(col.nested.child, [])
        for row in rows.to_pylist():
            if row[col.silver_name] is None:
                continue
            for pos, item in enumerate(json.loads(row[col.silver_name]), start=1):
                fields = tuple(
                    None if item.get(f.name) is None else converter(f.type)(item[f.name])
                    for f in col.nested.fields
                )
                got.append(
                    (row["_change_id"], row["_batch_id"], *(row[k] for k in keys), pos, *fields)
                )
    return out


def flattened(rows: pa.Table, contract: TableContract) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    for batch in rows.to_batches():
        for child, table in flatten_children(batch, contract):
            out.setdefault(child.name, []).extend(tuple(r.values()) for r in table.to_pylist())
    return out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("flatten")
    simulate(root, members=40, days=3, history_days=45, fmt="csv", seed=11)
    return root


def _nested_files(root: Path) -> list[tuple[str, bytes, TableContract]]:
    out = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        f = parse_path(rel)
        if path.is_file() and f is not None and CONTRACTS.get(f.table, None) is not None:
            contract = CONTRACTS[f.table]
            if contract.nested_columns:
                out.append((rel, path.read_bytes(), contract))
    return out


def test_simulator_children_equal_the_item_model(corpus: Path) -> None:
    items = 0
    plain = 0
    for rel, data, contract in _nested_files(corpus):
        rows = parsed_rows(data, rel, contract)
        if rows is None:
            continue
        expected = model(rows, contract)
        assert flattened(rows, contract) == expected, rel
        items += sum(len(v) for v in expected.values())
        for col in contract.nested_columns:
            pattern = clean_json_pattern(col)
            assert pattern is not None
            plain += int(
                pa.compute.sum(
                    pa.compute.match_substring_regex(rows.column(col.silver_name), pattern)
                ).as_py()
                or 0
            )
    # Both children of the simulator, mostly through Arrow's JSON reader.
    assert items > 300 and plain > 100


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(adjustments(), min_size=1, max_size=12))
def test_generated_values_flatten_like_the_item_model(values: list[str]) -> None:
    contract = CONTRACTS["CLAIM_LINE"]
    rows = parsed_rows(claim_line_csv(values), "CLAIMS/CLAIM_LINE/20240301-100000000.csv", contract)
    if rows is None:  # every value was rejected
        return
    assert flattened(rows, contract) == model(rows, contract)


@pytest.mark.slow
def test_the_same_rows_as_spark_from_json(corpus: Path) -> None:
    """What the job wrote before flattening moved into the task: Spark SQL over the rows."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    from claims_platform.silver.schema import child_tables, spark_type
    from claims_platform.silver.spark import get_spark

    spark = get_spark()
    compared = 0
    for rel, data, contract in _nested_files(corpus):
        rows = parsed_rows(data, rel, contract)
        if rows is None:
            continue
        keys = [contract.column(k).silver_name for k in contract.primary_key]
        df = spark.createDataFrame(
            rows.select(
                [
                    "_change_id",
                    "_batch_id",
                    *keys,
                    *(c.silver_name for c in contract.nested_columns),
                ]
            ).to_pandas()
        )
        ours = flattened(rows, contract)
        for child in child_tables(contract):
            col = contract.column(child.source_column or "")
            assert col.nested is not None
            item = T.ArrayType(
                T.StructType([T.StructField(f.name, spark_type(f.type)) for f in col.nested.fields])
            )
            exploded = (
                df.where(F.col(col.silver_name).isNotNull())
                .select(
                    "_change_id",
                    "_batch_id",
                    *keys,
                    F.posexplode(F.from_json(F.col(col.silver_name), item)).alias("_pos", "_item"),
                )
                .select(
                    "_change_id",
                    "_batch_id",
                    *keys,
                    (F.col("_pos") + 1).cast("long"),
                    *(F.col("_item")[f.name] for f in col.nested.fields),
                )
            )
            theirs = sorted(tuple(r) for r in exploded.collect())
            assert sorted(ours.get(child.name, [])) == theirs, (rel, child.name)
            compared += len(theirs)
    assert compared > 300
