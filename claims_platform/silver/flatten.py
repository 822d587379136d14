"""Child tables flattened from a change table's JSON array columns, inside the file's Spark task.

A claim's DIAGNOSIS_CODES, a line's ADJUSTMENTS: each item of the array becomes a row of the
child table, with the parent change's `_change_id`, `_batch_id` and key, and its 1-based position.
Flattening here, from the rows the task has just parsed, saves a second Spark job that read every
written part back and ran `from_json` over it (a third of the silver job's time on claim lines).

Only rows the parser kept reach this point, so every value is valid JSON whose items passed the
contract's nested rules. Values of the plain shape the parser validated by pattern
(`dms.parse.clean_json_pattern`) are parsed by Arrow's JSON reader in one call; any other value
(escapes, other key order, numbers as strings, exponents) is typed item by item by the same
scalar converters that validated it, so a value is typed the way it was checked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from claims_platform.contracts import Column, TableContract
from claims_platform.dms.parse import arrow_type, clean_json_pattern
from claims_platform.dms.values import converter
from claims_platform.silver.schema import SilverTable, child_tables


def flatten_children(
    rows: pa.RecordBatch, contract: TableContract
) -> Iterator[tuple[SilverTable, pa.RecordBatch]]:
    """(child table, its rows) for each JSON array column of the contract, from silver rows
    that carry `_change_id`. A child with no rows in this batch is still yielded (empty)."""
    keys = [contract.column(k).silver_name for k in contract.primary_key]
    for child in child_tables(contract):
        col = contract.column(child.source_column or "")
        schema = pa.schema([pa.field(n, arrow_type(t)) for n, t in child.columns])
        parents, positions, fields = _items(rows.column(col.silver_name), col)
        take = pa.array(parents, pa.int64())
        arrays = [
            rows.column("_change_id").take(take),
            rows.column("_batch_id").take(take),
            *(rows.column(k).take(take) for k in keys),
            pa.array(positions, pa.int64()),
            *fields,
        ]
        yield child, pa.record_batch(arrays, schema=schema)


def _items(text: pa.Array, col: Column) -> tuple[np.ndarray, np.ndarray, list[pa.Array]]:
    """Row index, 1-based position and typed field arrays of every item, in row then item order."""
    assert col.nested is not None
    fields = col.nested.fields
    types = [arrow_type(f.type) for f in fields]
    valid = np.asarray(pc.fill_null(text.is_valid(), False).to_numpy(zero_copy_only=False), bool)
    pattern = clean_json_pattern(col)
    clean = valid.copy()
    if pattern:
        clean &= np.asarray(
            pc.fill_null(pc.match_substring_regex(text, pattern), False).to_numpy(
                zero_copy_only=False
            ),
            bool,
        )
    else:
        clean[:] = False
    fast_rows = np.flatnonzero(clean)
    parsed = _arrow_items(text.take(pa.array(fast_rows, pa.int64())), fields, types)
    if parsed is None:  # not expected for values of the pattern; the exact route is always right
        fast_rows, parsed = fast_rows[:0], None
        slow_rows = np.flatnonzero(valid)
    else:
        slow_rows = np.flatnonzero(valid & ~clean)
    parents, positions, columns = [], [], [[] for _ in fields]
    if parsed is not None:
        p, pos, arrays = parsed
        parents.append(fast_rows[p])
        positions.append(pos)
        for k, a in enumerate(arrays):
            columns[k].append(a)
    if len(slow_rows):
        p, pos, arrays = _python_items(text, slow_rows, fields, types)
        parents.append(p)
        positions.append(pos)
        for k, a in enumerate(arrays):
            columns[k].append(a)
    if not parents:
        return (
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            [pa.array([], t) for t in types],
        )
    parent = np.concatenate(parents)
    position = np.concatenate(positions)
    order = np.lexsort((position, parent))
    idx = pa.array(order, pa.int64())
    typed = [pa.concat_arrays(c).take(idx) for c in columns]
    return parent[order], position[order], typed


def _arrow_items(
    values: pa.Array, fields: tuple, types: list[pa.DataType]
) -> tuple[np.ndarray, np.ndarray, list[pa.Array]] | None:
    """The items of plain-shaped values by one call of Arrow's JSON reader; None if it refuses."""
    if len(values) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), [pa.array([], t) for t in types]
    item = pa.struct([pa.field(f.name, t) for f, t in zip(fields, types, strict=True)])
    lines = pc.binary_join_element_wise('{"v":', values, "}\n", "")
    offsets = np.frombuffer(lines.buffers()[1], np.int32)[
        lines.offset : lines.offset + len(lines) + 1
    ]
    data = lines.buffers()[2][int(offsets[0]) : int(offsets[-1])]
    try:
        table = pj.read_json(
            pa.BufferReader(data),
            read_options=pj.ReadOptions(block_size=max(1 << 20, data.size + 1)),
            parse_options=pj.ParseOptions(
                explicit_schema=pa.schema([pa.field("v", pa.list_(item))]),
                unexpected_field_behavior="ignore",
            ),
        )
    except pa.ArrowInvalid:
        return None
    lists = table.column("v").combine_chunks()
    if table.num_rows != len(values) or lists.null_count:
        return None
    parent = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False).astype(np.int64)
    starts = lists.offsets.to_numpy(zero_copy_only=False).astype(np.int64)
    position = np.arange(len(parent), dtype=np.int64) + starts[0] - starts[parent] + 1
    flat = pc.list_flatten(lists)
    return parent, position, [flat.field(k) for k in range(len(fields))]


def _python_items(
    text: pa.Array, rows: np.ndarray, fields: tuple, types: list[pa.DataType]
) -> tuple[np.ndarray, np.ndarray, list[pa.Array]]:
    convert = [converter(f.type) for f in fields]
    parent: list[int] = []
    position: list[int] = []
    columns: list[list] = [[] for _ in fields]
    for i, value in zip(rows, text.take(pa.array(rows, pa.int64())).to_pylist(), strict=True):
        for pos, item in enumerate(json.loads(value), start=1):
            parent.append(int(i))
            position.append(pos)
            for k, f in enumerate(fields):
                raw = item.get(f.name)
                columns[k].append(None if raw is None else convert[k](raw))
    return (
        np.array(parent, np.int64),
        np.array(position, np.int64),
        [pa.array(c, t) for c, t in zip(columns, types, strict=True)],
    )
