"""Data quality as Dagster asset checks over the contract suites (claims_platform.quality)."""
