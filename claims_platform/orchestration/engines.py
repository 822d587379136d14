"""What each environment really runs on, as the asset catalogue names it: the engine that computes
silver and the warehouse that holds silver and gold.

Kinds and descriptions are part of an asset's definition, so they follow the environment switch
(`environment.get_env()`) when the definitions load: the one variable read then (CLAIMS_ENV, or
Dagster+'s deployment variables, which its code servers and run workers share), never a setting,
secret or network. Builders take the environment as an argument so a test can build any of them.
"""

from __future__ import annotations

from claims_platform.environment import Env

WAREHOUSE_KIND: dict[Env, str] = {"local": "duckdb", "branch": "snowflake", "prod": "snowflake"}

_WAREHOUSE_NAME = {"duckdb": "the DuckDB warehouse file", "snowflake": "Snowflake"}


def warehouse_kind(env: Env) -> str:
    """The kind of every asset the warehouse holds (silver, gold)."""
    return WAREHOUSE_KIND[env]


def silver_kinds(env: Env) -> set[str]:
    """Spark computes silver everywhere; outside local it runs as an AWS Glue job."""
    return {"spark", warehouse_kind(env)} | ({"glue"} if env != "local" else set())


def silver_compute(env: Env) -> str:
    """One sentence naming where the silver job runs and where its tables live."""
    warehouse = _WAREHOUSE_NAME[warehouse_kind(env)]
    if env == "local":
        return (
            "Built by the silver PySpark job in the run's process (Spark 3.5 `local[N]`, its "
            f"session from dagster-pyspark's resource); the table lives in {warehouse}."
        )
    return (
        "Built by the silver PySpark job on AWS Glue 5 (Spark 3.5) through Dagster Pipes; the "
        f"table lives in {warehouse}."
    )
