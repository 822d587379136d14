"""Temporary: warehouse/snowflake.py still imports CommitSummary from here. The commit moved to
warehouse/duckdb.py and the shared types to warehouse/base.py; delete this module once
warehouse/snowflake.py imports from warehouse.base (issue 14)."""

from claims_platform.warehouse.base import CommitSummary

__all__ = ["CommitSummary"]
