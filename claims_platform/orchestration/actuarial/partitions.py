"""Valuation months: the partitions of the actuarial assets."""

from __future__ import annotations

import dagster as dg

# The first valuation month offered for backfills. The demo's simulated history starts in 2023;
# a payer sets this to the first month-end it reports on.
FIRST_VALUATION_MONTH = "2023-01-01"

# end_offset=1: the month in progress is a partition too (valued through the newest change
# processed), so new data refreshes the current valuation, and closed months stay as reported.
valuation_months = dg.MonthlyPartitionsDefinition(start_date=FIRST_VALUATION_MONTH, end_offset=1)
