"""Reconciliation, quarantine, rejects and lag: read-only SQL run in the warehouse.

Every function reads through the given WarehouseReader (warehouse/base.py: DuckDB's dialect with
`?` placeholders, transpiled where the warehouse is Snowflake) and returns a `Finding` (passed, a one-line
description, metadata of counts, rule names, file paths and non-PHI keys), never a data value.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from claims_platform.contracts import TableContract
from claims_platform.quality.results import SAMPLE_ROWS, jsonable
from claims_platform.quality.sql import BATCHES, LEDGER, REJECTS, current_state_sql, ident, silver
from claims_platform.warehouse.base import WarehouseReader

MAX_LISTED_FILES = 20


@dataclass
class Finding:
    passed: bool
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)


def _rows(reader: WarehouseReader, sql: str, params: list[Any] | None = None) -> list[tuple]:
    """The rows as tuples in the order of the select list (each column named distinctly)."""
    return [tuple(r.values()) for r in reader.read_rows(sql, params or [])]


def ledger_reconciles(reader: WarehouseReader, contract: TableContract) -> Finding:
    """Per file of the table: ledger rows = loaded + rejected, and silver/rejects hold exactly
    the loaded/rejected rows; no silver row comes from a file the ledger does not know."""
    rows = _rows(
        reader,
        f"""
        WITH files AS (
            SELECT path, status, row_count, rows_loaded, rows_rejected
            FROM {LEDGER} WHERE upper(table_name) = ?
        ), loaded AS (
            SELECT _source_file AS path, count(*) AS n FROM {silver(contract.silver_table)}
            GROUP BY _source_file
        ), rejected AS (
            SELECT source_file AS path, count(*) AS n FROM {REJECTS}
            WHERE lower(table_name) = ? GROUP BY source_file
        ), paths AS (
            SELECT path FROM files UNION SELECT path FROM loaded UNION SELECT path FROM rejected
        )
        SELECT p.path, f.status, f.row_count, f.rows_loaded, f.rows_rejected,
            coalesce(l.n, 0) AS in_silver, coalesce(r.n, 0) AS in_rejects
        FROM paths AS p
        LEFT JOIN files AS f USING (path)
        LEFT JOIN loaded AS l USING (path)
        LEFT JOIN rejected AS r USING (path)
        ORDER BY p.path
        """,
        [contract.name, contract.silver_table],
    )
    problems: list[dict[str, Any]] = []
    totals = {"files": 0, "ledger_rows": 0, "rows_loaded": 0, "rows_rejected": 0}
    for path, status, row_count, loaded, rejected, in_silver, in_rejects in rows:
        found: list[str] = []
        if status is None:
            found.append("rows_without_ledger_entry")
        elif status == "quarantined":
            if in_silver or in_rejects:
                found.append("quarantined_file_has_rows")
        else:
            totals["files"] += 1
            totals["ledger_rows"] += row_count or 0
            totals["rows_loaded"] += loaded or 0
            totals["rows_rejected"] += rejected or 0
            if (row_count or 0) != (loaded or 0) + (rejected or 0):
                found.append("ledger_rows_not_loaded_plus_rejected")
            if in_silver != (loaded or 0):
                found.append("silver_rows_differ_from_ledger")
            if in_rejects != (rejected or 0):
                found.append("rejects_differ_from_ledger")
        if found:
            problems.append(
                {
                    "path": path,
                    "problems": found,
                    "ledger_rows": row_count,
                    "ledger_loaded": loaded,
                    "ledger_rejected": rejected,
                    "silver_rows": in_silver,
                    "reject_rows": in_rejects,
                }
            )
    meta: dict[str, Any] = {
        "files_reconciled": totals["files"],
        "ledger_rows": totals["ledger_rows"],
        "rows_loaded": totals["rows_loaded"],
        "rows_rejected": totals["rows_rejected"],
        "files_not_reconciled": len(problems),
    }
    if problems:
        meta["unreconciled_files"] = problems[:MAX_LISTED_FILES]
        rules = sorted({p for f in problems for p in f["problems"]})
        return Finding(
            False,
            f"{len(problems)} file(s) of {contract.name} do not reconcile ({', '.join(rules)})",
            meta,
        )
    return Finding(
        True,
        f"{totals['files']} file(s) of {contract.name}: {totals['ledger_rows']} landed rows = "
        f"{totals['rows_loaded']} loaded + {totals['rows_rejected']} rejected",
        meta,
    )


def quarantined_files(reader: WarehouseReader, contract: TableContract) -> Finding:
    """Quarantined files of the table; fails when the table's latest batch quarantined one."""
    rows = _rows(
        reader,
        f"""
        WITH latest AS (
            SELECT _batch_id FROM {LEDGER} WHERE upper(table_name) = ?
            ORDER BY processed_at DESC NULLS LAST, _batch_id DESC LIMIT 1
        )
        SELECT path, reason, _batch_id IN (SELECT _batch_id FROM latest) AS in_latest
        FROM {LEDGER}
        WHERE upper(table_name) = ? AND status = 'quarantined'
        ORDER BY processed_at DESC NULLS LAST, path
        """,
        [contract.name, contract.name],
    )
    latest = [r for r in rows if r[2]]
    meta: dict[str, Any] = {
        "quarantined_files": len(rows),
        "quarantined_in_latest_batch": len(latest),
    }
    if rows:
        meta["files"] = [
            {"path": p, "reason": reason, "latest_batch": bool(in_latest)}
            for p, reason, in_latest in rows[:MAX_LISTED_FILES]
        ]
    if latest:
        return Finding(
            False,
            f"the latest batch quarantined {len(latest)} file(s) of {contract.name} "
            f"({len(rows)} in all); the other files and tables were processed",
            meta,
        )
    return Finding(
        True,
        f"no file of {contract.name} quarantined in its latest batch ({len(rows)} in all)",
        meta,
    )


def processed_files_unchanged(reader: WarehouseReader, contract: TableContract) -> Finding:
    """Open records of processed files of the table that changed in place afterwards
    (audit.file_changes); fails while one is open. Their first version stays loaded, once."""
    changes = reader.open_changes(contract.name)
    meta: dict[str, Any] = {"changed_files_open": len(changes)}
    if changes:
        meta["files"] = [
            {"path": c.path, "reason": c.reason, "detected_at": jsonable(c.detected_at)}
            for c in changes[:MAX_LISTED_FILES]
        ]
        return Finding(
            False,
            f"{len(changes)} processed file(s) of {contract.name} changed in place after they "
            f"were loaded (first: {changes[0].path}); not read again: load the new version "
            "under a new name, then `claims-platform replay --acknowledge-change`",
            meta,
        )
    return Finding(True, f"no processed file of {contract.name} changed since it was loaded", meta)


def rejects_by_rule(reader: WarehouseReader) -> Finding:
    """Rejected rows by table and rule, in all and in the newest batch (which must have none)."""
    latest_rows = _rows(
        reader, f"SELECT _batch_id FROM {BATCHES} ORDER BY committed_at DESC LIMIT 1"
    )
    latest = latest_rows[0][0] if latest_rows else None
    by_rule = _rows(
        reader,
        f"""
        SELECT table_name, rule, count(*) AS n_rows,
            count(*) FILTER (WHERE _batch_id = ?) AS n_latest
        FROM {REJECTS}
        GROUP BY table_name, rule ORDER BY table_name, rule
        """,
        [latest],
    )
    total = sum(r[2] for r in by_rule)
    in_latest = sum(r[3] for r in by_rule)
    meta: dict[str, Any] = {
        "rejected_rows": total,
        "rejected_in_latest_batch": in_latest,
        "latest_batch_id": latest or "none",
        "by_rule": [
            {"table": t, "rule": rule, "rows": n, "rows_in_latest_batch": m}
            for t, rule, n, m in by_rule
        ],
    }
    if in_latest:
        sample = _rows(
            reader,
            f"""
            SELECT table_name, rule, source_file, row_number FROM {REJECTS}
            WHERE _batch_id = ? ORDER BY source_file, row_number LIMIT {SAMPLE_ROWS}
            """,
            [latest],
        )
        meta["sample_rows"] = [
            {"table": t, "rule": rule, "source_file": f, "row_number": n}
            for t, rule, f, n in sample
        ]
        rules = sorted({f"{r[0]}:{r[1]}" for r in by_rule if r[3]})
        return Finding(
            False,
            f"the latest batch rejected {in_latest} row(s) ({', '.join(rules)}); "
            f"{total} rejected in all",
            meta,
        )
    return Finding(True, f"no rows rejected in the latest batch; {total} rejected in all", meta)


def _gold_columns(reader: WarehouseReader, model: str) -> set[str] | None:
    cols = _rows(
        reader,
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = 'gold' AND table_name = ?",
        [model],
    )
    return {c[0] for c in cols} or None


def reconciles_with_silver(reader: WarehouseReader, contract: TableContract) -> Finding:
    """Keys existing in the silver current state = current gold rows, key by key."""
    assert contract.gold is not None and contract.gold.model
    model = contract.gold.model
    keys = [contract.column(k).silver_name for k in contract.primary_key]
    columns = _gold_columns(reader, model)
    if columns is None:
        return Finding(False, f"gold.{model} does not exist", {"gold_rows": 0})
    current = "WHERE is_current" if contract.gold.kind == "scd2" else ""
    key_list = ", ".join(ident(k) for k in keys)
    on = " AND ".join(f"s.{ident(k)} IS NOT DISTINCT FROM g.{ident(k)}" for k in keys)
    k0 = ident(keys[0])
    [(silver_rows, gold_rows, missing, unexpected, duplicated)] = _rows(
        reader,
        f"""
        WITH s AS (SELECT DISTINCT {key_list} FROM ({current_state_sql(contract.silver_table, keys)})),
        g AS (SELECT {key_list} FROM gold.{ident(model)} {current}),
        gk AS (SELECT DISTINCT {key_list} FROM g)
        SELECT
            (SELECT count(*) FROM s) AS silver_rows,
            (SELECT count(*) FROM g) AS gold_rows,
            (SELECT count(*) FROM s LEFT JOIN gk AS g ON {on} WHERE g.{k0} IS NULL) AS missing,
            (SELECT count(*) FROM gk AS g LEFT JOIN s ON {on} WHERE s.{k0} IS NULL)
                AS unexpected,
            (SELECT count(*) FROM g) - (SELECT count(*) FROM gk) AS duplicated
        """,
    )
    meta = {
        "silver_current_keys": silver_rows,
        "gold_rows": gold_rows,
        "keys_missing_in_gold": missing,
        "keys_unexpected_in_gold": unexpected,
        "duplicate_gold_rows": duplicated,
        "gold_table": f"gold.{model}" + (" (is_current)" if current else ""),
    }
    if missing or unexpected or duplicated:
        return Finding(
            False,
            f"gold.{model} has {gold_rows} current row(s), silver current state {silver_rows} "
            f"key(s): {missing} missing, {unexpected} unexpected, {duplicated} duplicated",
            meta,
        )
    return Finding(True, f"gold.{model} matches the {silver_rows} keys of silver", meta)


def lag_behind_landing(
    reader: WarehouseReader,
    contract: TableContract,
    gold_built_at: dt.datetime | None,
    max_lag: dt.timedelta,
) -> Finding:
    """How far, in source time, gold is behind the newest change landed for the table.

    Gold reflects the files the ledger recorded before gold was last built; the lag is the newest
    `last_change_at` of all processed files minus the newest of those reflected.
    """
    [(newest, reflected, pending)] = _rows(
        reader,
        f"""
        SELECT max(last_change_at) AS newest,
            max(last_change_at)
                FILTER (WHERE CAST(? AS TIMESTAMP) IS NOT NULL AND processed_at <= ?) AS reflected,
            count(*) FILTER (WHERE CAST(? AS TIMESTAMP) IS NULL OR processed_at > ?) AS pending
        FROM {LEDGER}
        WHERE upper(table_name) = ? AND status = 'processed'
        """,
        [gold_built_at, gold_built_at, gold_built_at, gold_built_at, contract.name],
    )
    meta: dict[str, Any] = {
        "newest_change_landed": jsonable(newest) or "none",
        "newest_change_in_gold": jsonable(reflected) or "none",
        "gold_built_at": jsonable(gold_built_at) or "never",
        "files_processed_since_gold_build": pending,
        "max_lag_minutes": max_lag.total_seconds() / 60,
    }
    if newest is None:
        meta["lag_minutes"] = 0.0
        return Finding(True, f"no processed file of {contract.name} yet", meta)
    lag = newest - reflected if reflected is not None else None
    meta["lag_minutes"] = round(lag.total_seconds() / 60, 1) if lag is not None else "unbounded"
    if lag is None or lag > max_lag:
        behind = (
            "has not been built since" if lag is None else f"is {meta['lag_minutes']} min behind"
        )
        return Finding(
            False,
            f"gold of {contract.name} {behind} the newest landed change "
            f"(allowed {meta['max_lag_minutes']:.0f} min)",
            meta,
        )
    return Finding(
        True,
        f"gold of {contract.name} is {meta['lag_minutes']} min behind the newest landed change",
        meta,
    )
