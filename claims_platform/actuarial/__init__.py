"""Actuarial reporting as of a valuation month: paid lag triangles, completion factors, IBNR.

The marts are dbt models (dbt/models/marts/actuarial/), wired into Dagster as monthly-partitioned
assets by claims_platform.orchestration.actuarial; this package draws the pictures an actuary
looks at on each materialization.
"""
