"""The Dagster wiring of the platform: assets, asset checks, sensors, jobs, schedules, resources
and the `Definitions` (orchestration/definitions.py, re-exported as the code location
`claims_platform.definitions`).

Everything outside this package is the Dagster-free core (contracts, DMS parsing, the silver job
and commit, landing, warehouse, quality suites, governance); the core never imports from here
(claims_platform_tests/test_layout.py).
"""
