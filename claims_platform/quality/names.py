"""Check names as they appear in the Dagster UI, and which of them block downstream assets."""

from __future__ import annotations

# Silver change tables (and their flattened children), from the contract suites.
CHANGE_KEYS = "change_keys"
CHANGE_ORDER = "change_order"
CONTRACT_TYPES = "contract_types"
CONTRACT_VALUES = "contract_values"
PAYER_RULES = "payer_rules"
# Silver change tables, from the file ledger.
LEDGER_RECONCILES = "ledger_reconciles"
QUARANTINED_FILES = "quarantined_files"
PROCESSED_FILES_UNCHANGED = "processed_files_unchanged"
# silver/rejects.
REJECTS_BY_RULE = "rejects_by_rule"
# Gold models of the contracts.
RECONCILES_WITH_SILVER = "reconciles_with_silver"
LAG_BEHIND_LANDING = "lag_behind_landing"

# A failure of these would corrupt gold (a change without its key, changes in the wrong order, a
# change lost or loaded twice): they are blocking, so gold waits. Every other check warns.
BLOCKING = frozenset({CHANGE_KEYS, CHANGE_ORDER, LEDGER_RECONCILES})
# The blocking checks of the contract suites; they run as SQL in the warehouse (pushdown.py).
SUITE_BLOCKING = frozenset({CHANGE_KEYS, CHANGE_ORDER})

DESCRIPTIONS = {
    CHANGE_KEYS: "Every change row has its key and change id; a change id names one key; a "
    "landed row (file, row position) is loaded once. Blocking: gold waits.",
    CHANGE_ORDER: "The change-order columns (Op, DMS timestamp, change sequence, file name, row "
    "position, full-load flag, batch) are present and well formed. Blocking: gold waits.",
    CONTRACT_TYPES: "Every contract column is present with its contract type.",
    CONTRACT_VALUES: "Not-null columns, accepted values and code shapes of the contract, on the "
    "inserted and updated rows.",
    PAYER_RULES: "Payer domain rules of the contract (CONTRACT §3) on the inserted and updated rows.",
    LEDGER_RECONCILES: "Every landed change is accounted for: per file of the ledger, rows = "
    "rows loaded + rows rejected, and the silver and rejects tables hold exactly those rows. "
    "Blocking: gold waits.",
    QUARANTINED_FILES: "Files of this table the silver job quarantined (path and reason). Warns "
    "when the table's latest batch quarantined a file; other files and tables go on.",
    PROCESSED_FILES_UNCHANGED: "Every processed file of this table is still the one that was "
    "loaded. Warns while a file changed in place afterwards (another size or SHA-256: a DMS table "
    "reload reusing LOAD file names) is recorded open in audit.file_changes; it is not read again "
    "(its first version stays loaded, once) until an operator deals with it.",
    REJECTS_BY_RULE: "Rejected rows by table and rule (counts and row positions only). Warns when "
    "the latest batch rejected rows.",
    RECONCILES_WITH_SILVER: "The gold row count equals the keys existing in the silver current "
    "state (current versions for SCD2 dimensions), key by key.",
    LAG_BEHIND_LANDING: "Gold reflects the newest landed change of its source table (ledger "
    "last_change_at) within the allowed lag.",
}
