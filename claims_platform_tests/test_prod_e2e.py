"""The production configuration end to end (issue 14): `CLAIMS_ENV=prod` against real protocol
servers started by the test (support/prod.py).

What is real: the platform's code, unchanged, in the production configuration; boto3 against
moto's server for S3 (SSE-KMS), KMS, Secrets Manager and CloudWatch Logs; the Glue job created by
the production deploy code; dagster-aws's `PipesGlueClient` with the S3 context injector and the
CloudWatch message reader; the silver script run with the arguments Glue gives it (no CLAIMS_*
variable, the tokenization key read from Secrets Manager); snowflake-connector-python
(dagster-snowflake) and dbt-snowflake against fakesnow's Snowflake server, dbt through the real
`prod` target of dbt/profiles.yml.

What is emulated: only the Glue job-run API is stood in for (support/glue_standin.py: StartJobRun
runs the deployed script on this machine's Spark); Snowflake's SQL runs on fakesnow (DuckDB), and
the statements fakesnow cannot run as Snowflake does are taught to it in the test's server
process (support/prod.py lists them); each such statement is shown to be Snowflake SQL here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from claims_platform_tests.conftest import REPO_ROOT
from claims_platform_tests.support import prod
from claims_platform_tests.warehouse.snowflake_sql import problems

pytestmark = pytest.mark.slow

DBT_DIR = REPO_ROOT / "dbt"


def _dbt(stack: prod.ProdStack, *args: str) -> subprocess.CompletedProcess:
    target = stack.root / "dbt_target"
    return subprocess.run(
        [
            *(str(Path(sys.executable).parent / "dbt"), *args),
            *("--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR), "--target", "prod"),
            *("--target-path", str(target), "--log-path", str(stack.root / "dbt_logs")),
        ],
        cwd=DBT_DIR,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _taught_statements_are_snowflake_sql(stack: prod.ProdStack) -> dict[str, int]:
    """Every statement the emulator was taught, and every statement the platform sent (dbt's
    are test_snowflake_dbt.py's), is valid Snowflake SQL; the taught ones counted per rule."""
    taught = stack.snowflake.taught()
    found = []
    for number, item in enumerate(taught):
        found += problems(item["sql"], f"taught statement {number} ({item['rule']})")
    for number, sql in enumerate(stack.snowflake.platform_statements()):
        found += [f"{p}: {sql[:300]}" for p in problems(sql, f"platform statement {number}")]
    assert found == [], "\n".join(found)
    counts: dict[str, int] = {}
    for item in taught:
        counts[item["rule"]] = counts.get(item["rule"], 0) + 1
    return counts


def test_each_lesson_taught_to_the_emulator_gives_what_snowflake_gives(tmp_path: Path):
    """support/prod.py's lessons, one statement each, through the connector; every taught
    statement is recorded and is Snowflake SQL."""
    from decimal import Decimal

    with (
        prod.moto_server() as moto,
        prod.snowflake_emulator(moto, tmp_path) as emulator,
        contextlib.closing(emulator.connect("LESSONS")) as connection,
    ):
        cursor = connection.cursor()
        cursor.execute("create schema if not exists LESSONS.S")
        cursor.execute("create or replace temporary table LESSONS.S.T__dbt_tmp as (select 1 as a)")
        cursor.execute("select a from LESSONS.S.T__dbt_tmp")
        assert cursor.fetchall() == [(1,)]
        cursor.execute(
            "create table LESSONS.S.AMOUNTS (changed_at timestamp_ntz, amount number(12,2))"
        )
        cursor.execute(
            "insert into LESSONS.S.AMOUNTS values (null, 0.1), ('2024-01-01 10:00:00', 0.2)"
        )
        cursor.execute(
            "select sum(amount), max(changed_at), min(changed_at) from LESSONS.S.AMOUNTS"
        )
        assert cursor.fetchall() == [
            (Decimal("0.30"), dt.datetime(2024, 1, 1, 10), dt.datetime(2024, 1, 1, 10))
        ]
        cursor.execute("select changed_at from LESSONS.S.AMOUNTS order by amount")
        assert cursor.fetchall() == [(None,), (dt.datetime(2024, 1, 1, 10),)]
        sequence = "20240102192653000000000000000000031"  # a DMS AR_H_CHANGE_SEQ: 35 digits
        cursor.execute(f"select cast('{sequence}' as decimal(38, 0))")
        assert cursor.fetchall() == [(int(sequence),)]
        cursor.execute(
            "create masking policy if not exists LESSONS.S.P as (val varchar) returns varchar"
            " -> case when is_role_in_session('PHI_READER') then val else null end comment = 'x'"
        )
        taught = {item["rule"] for item in emulator.taught()}
        found = [p for item in emulator.taught() for p in problems(item["sql"], item["rule"])]
    assert taught == {
        "temporary-relation",
        "exact-numeric-aggregate",
        "wide-number-cast",
        "no-op",
    }
    assert found == []


def test_dbt_snowflake_reaches_the_emulator_through_the_prod_target(tmp_path: Path):
    """dbt-snowflake through the `prod` target (host, port and protocol from SNOWFLAKE_*),
    an incremental model's first and second run: the second creates the database-qualified
    temporary table the emulator is taught (support/prod.py, lesson 3)."""
    from claims_platform.warehouse import snowflake as warehouse

    with prod.prod_stack(tmp_path) as stack:
        lake = warehouse.SnowflakeLake(
            database=prod.DATABASE, lake_url=stack.env["CLAIMS_LAKE_URI"] + "/"
        )
        with stack.connect() as connection:
            for sql, params in warehouse.setup_statements(lake):
                connection.cursor().execute(sql, params)
        model = "dim_plan"
        for attempt in ("first", "second"):
            run = _dbt(stack, "run", "--select", f"+{model}")
            assert run.returncode == 0, f"{attempt} run:\n{run.stdout[-4000:]}"
        rows = stack.query(
            "select count(*) as n from information_schema.tables"
            " where table_name ilike %s and table_schema = 'GOLD'",
            (f"{model}%",),
        )
        assert rows == [{"n": 1}], "the model, and no temporary relation left behind"
        counts = _taught_statements_are_snowflake_sql(stack)
    assert counts.get("temporary-relation") == 1


def test_the_snowflake_endpoint_variables_render_nothing_when_unset(monkeypatch):
    """dbt/profiles.yml's host, port and protocol: absent (as before they existed) unless set."""
    from claims_platform_tests.warehouse.test_profiles import _credentials

    for name in ("SNOWFLAKE_HOST", "SNOWFLAKE_PORT", "SNOWFLAKE_PROTOCOL"):
        monkeypatch.delenv(name, raising=False)
    for target in ("branch", "prod"):
        credentials = _credentials(target, {}, monkeypatch)
        assert (credentials.host, credentials.port, credentials.protocol) == (None, None, None)
        assert not {"host", "port", "protocol"} & set(credentials.auth_args())
    endpoint = {
        "SNOWFLAKE_HOST": "127.0.0.1",
        "SNOWFLAKE_PORT": "8123",
        "SNOWFLAKE_PROTOCOL": "http",
    }
    for target in ("branch", "prod"):
        credentials = _credentials(target, endpoint, monkeypatch)
        assert (credentials.host, credentials.port, credentials.protocol) == (
            "127.0.0.1",
            8123,
            "http",
        )
