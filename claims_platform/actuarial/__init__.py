"""Actuarial reporting as of a valuation month: paid lag triangles, completion factors, IBNR.

The marts are dbt models (dbt/models/marts/actuarial/); this package wires them into Dagster as
monthly-partitioned assets (one partition per valuation month-end) in a code location of their
own, and attaches the pictures an actuary looks at to each materialization.
"""
