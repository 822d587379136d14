"""The actuarial marts (dbt/models/marts/actuarial/) as monthly-partitioned assets (one partition
per valuation month-end), in a code location of their own, with the pictures an actuary looks at
(claims_platform.actuarial.pictures) on each materialization.
"""
