"""Data quality without Dagster: expectation suites generated from the table contracts (run with
Great Expectations, or pushed down as SQL), reconciliation of the ledger, silver and gold, and
rejects reporting. The asset checks that run them are in claims_platform.orchestration.quality.

Nothing here imports Great Expectations at import time (≈ 3 s): the functions import it when
they run. Results carry counts, rule names and row positions, never a data value.
"""
