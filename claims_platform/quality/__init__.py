"""Data quality as Dagster asset checks: expectation suites generated from the table contracts
(run with Great Expectations), reconciliation of the ledger, silver and gold, quarantine and
rejects reporting, and freshness.

Nothing here imports Great Expectations at import time (≈ 3 s): the check functions import it
when they run. Check results carry counts, rule names and row positions, never a data value.
"""
