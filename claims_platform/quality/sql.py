"""SQL the checks share: identifiers, the change order of CONTRACT §2, current state, batches.

The change order is the one `dbt/macros/change_order.sql` defines; the reconciliation compares gold
with a current state computed here independently of dbt, from the same definition.
"""

from __future__ import annotations

from collections.abc import Sequence

from claims_platform.silver.schema import (
    LEDGER_SCHEMA,
    LEDGER_TABLE,
    REJECTS_TABLE,
    RESTRICTED_SCHEMA,
    SILVER_SCHEMA,
)
from claims_platform.warehouse.ledger import BATCHES_TABLE

LEDGER = f"{LEDGER_SCHEMA}.{LEDGER_TABLE}"
BATCHES = f"{LEDGER_SCHEMA}.{BATCHES_TABLE}"

# try_cast: a malformed change sequence is reported by the change_order check, not a crash here.
# Of a VARCHAR cast: sqlglot writes Snowflake's TRY_CAST (string input only) for a value it knows
# is text, and a plain CAST, which fails on a malformed value, for a column of unknown type.
CHANGE_ORDER = """
    CASE WHEN _change_seq IS NULL THEN 0 ELSE 1 END,
    try_cast(CAST(_change_seq AS VARCHAR) AS DECIMAL(38, 0)),
    _dms_timestamp,
    CASE WHEN _is_full_load THEN 0 ELSE 1 END,
    _source_file_name,
    _row_number,
    _source_file,
    _change_id"""


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def silver(table: str) -> str:
    return f"{SILVER_SCHEMA}.{ident(table)}"


# The rejects hold raw landed rows: the restricted schema, which only the platform reads.
REJECTS = f"{RESTRICTED_SCHEMA}.{ident(REJECTS_TABLE)}"


def current_state_sql(table: str, keys: Sequence[str], where: str = "TRUE") -> str:
    """The last change of each key in change order, for the keys whose last change is no delete."""
    by_key = ", ".join(ident(k) for k in keys)
    return f"""SELECT * EXCLUDE (_qc_rank, _qc_changes) FROM (
        SELECT *,
            row_number() OVER (PARTITION BY {by_key} ORDER BY {CHANGE_ORDER}) AS _qc_rank,
            count(*) OVER (PARTITION BY {by_key}) AS _qc_changes
        FROM {silver(table)} WHERE {where}
    ) WHERE _qc_rank = _qc_changes AND _op <> 'D'"""


def newest_batch_sql(table: str) -> str:
    """The id of the newest committed batch that wrote rows to `table` (no parameters)."""
    return f"""SELECT t._batch_id
        FROM (SELECT DISTINCT _batch_id FROM {silver(table)}) AS t
        LEFT JOIN {BATCHES} AS b USING (_batch_id)
        ORDER BY b.committed_at DESC NULLS LAST, t._batch_id DESC
        LIMIT 1"""


def batches_after_sql(table: str, after: int) -> str:
    """The ids of the committed batches that wrote rows to `table` after the earliest of `after`
    batches (as many parameters: their ids), oldest first."""
    marks = ", ".join(["?"] * after)
    return f"""SELECT t._batch_id
        FROM (SELECT DISTINCT _batch_id FROM {silver(table)}) AS t
        JOIN {BATCHES} AS b USING (_batch_id)
        WHERE b.committed_at > (
            SELECT min(committed_at) FROM {BATCHES} WHERE _batch_id IN ({marks})
        )
        ORDER BY b.committed_at, t._batch_id"""


def warehouse_version_sql() -> str:
    """The silver and audit state as one value (no parameters): every write to them commits a
    batch, so the number of committed batches and the newest one name the state."""
    return f"SELECT count(*) AS batches, arg_max(_batch_id, committed_at) AS newest FROM {BATCHES}"
