"""The dbt project run against fakesnow: Snowflake's SQL, offline.

`dbt compile --target prod` needs a connection: dbt-snowflake introspects (`show objects`,
`describe table`) and our macros read columns of existing relations. fakesnow patches
`snowflake.connector.connect` onto an in-memory DuckDB that speaks enough Snowflake for that, so
dbt runs in-process (dbtRunner) inside `fakesnow.patch()` with the real `prod` profile (key-pair
auth from SNOWFLAKE_* variables, a throwaway key):

1. the silver tables are created from the contracts by the production setup SQL
   (claims_platform.warehouse.snowflake), as the Snowflake loader would;
2. `dbt seed` loads the seeds, then `dbt run --empty` builds every model (full-build SQL, hooks,
   masking post-hooks);
3. `dbt compile` then renders the incremental path (the tables exist now) and every test;
4. `dbt run-operation claims_role_layout --args '{apply: true}'` renders the role layout.

Every statement sent to "Snowflake" is recorded. Statements fakesnow cannot execute (masking
policies, roles, grants) are no-ops there (`nop_regexes`); they are still recorded and validated
with sqlglot by the tests.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from claims_platform_tests.conftest import REPO_ROOT

DBT_DIR = REPO_ROOT / "dbt"
_COMMENT = r"(?s)^\s*(/\*.*?\*/\s*)?"
NOP_REGEXES = [
    _COMMENT + r"(create|alter) masking policy",
    _COMMENT + r"alter (table|view) .* set masking policy",
    _COMMENT + r"(create role|grant|use role)",
]
SNOWFLAKE_ENV = {
    "SNOWFLAKE_ACCOUNT": "acme-claims",
    "SNOWFLAKE_USER": "DAGSTER",
    "SNOWFLAKE_ROLE": "TRANSFORMER",
    "SNOWFLAKE_WAREHOUSE": "TRANSFORMING",
    "SNOWFLAKE_DATABASE": "CLAIMS",
    "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE": "test-only",
    "DAGSTER_RUN_ID": "6f1c2a9e-run",
    "DAGSTER_ASSET_KEYS": "gold/dim_member,gold/fct_claim",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
}


@dataclass
class SnowflakeDbt:
    target: Path
    results: dict[str, Any]
    statements: list[str] = field(default_factory=list)
    session_parameters: list[dict[str, Any]] = field(default_factory=list)

    @property
    def manifest(self) -> dict[str, Any]:
        return json.loads((self.target / "manifest.json").read_text())


def _private_key(path: Path, passphrase: str) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase.encode()),
        )
    )


@pytest.fixture(scope="session")
def snowflake_dbt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SnowflakeDbt]:
    import fakesnow
    import snowflake.connector
    from dbt.cli.main import dbtRunner
    from fakesnow.conn import FakeSnowflakeConnection
    from fakesnow.cursor import FakeSnowflakeCursor

    from claims_platform.warehouse import snowflake as warehouse

    work = tmp_path_factory.mktemp("snowflake_dbt")
    key = work / "rsa_key.p8"
    _private_key(key, SNOWFLAKE_ENV["SNOWFLAKE_PRIVATE_KEY_PASSPHRASE"])
    run = SnowflakeDbt(target=work / "target", results={})
    execute = FakeSnowflakeCursor.execute
    connect = FakeSnowflakeConnection.__init__

    def recording_execute(self: Any, command: str, *args: Any, **kwargs: Any) -> Any:
        run.statements.append(command)
        return execute(self, command, *args, **kwargs)

    def recording_connect(self: Any, *args: Any, **kwargs: Any) -> None:
        run.session_parameters.append(dict(kwargs.get("session_parameters") or {}))
        connect(self, *args, **kwargs)

    common = [
        "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR), "--target", "prod",
        "--target-path", str(run.target), "--log-path", str(work / "logs"),
        # fakesnow's DuckDB races when several threads create the same schema.
        "--threads", "1",
    ]  # fmt: skip
    sqlglot_logger = logging.getLogger("sqlglot")
    level = sqlglot_logger.level
    with pytest.MonkeyPatch.context() as mp:
        for name, value in SNOWFLAKE_ENV.items():
            mp.setenv(name, value)
        mp.setenv("SNOWFLAKE_PRIVATE_KEY_PATH", str(key))
        mp.setattr(FakeSnowflakeCursor, "execute", recording_execute)
        mp.setattr(FakeSnowflakeConnection, "__init__", recording_connect)
        # fakesnow logs every statement it hands sqlglot as a 'Command' warning.
        sqlglot_logger.setLevel(logging.ERROR)
        try:
            with warnings.catch_warnings(), fakesnow.patch(nop_regexes=NOP_REGEXES):
                # fakesnow's own note that Arrow results are copied.
                warnings.simplefilter("ignore", UserWarning)
                con = snowflake.connector.connect(database="CLAIMS", schema="SILVER")
                lake = warehouse.SnowflakeLake(database="CLAIMS", lake_url="s3://claims-lake/")
                warehouse.setup(con.cursor(), lake)
                con.close()
                runner = dbtRunner()
                for name, argv in {
                    # The marts read a seed: `run` builds models only, as on a fresh account.
                    "seed": ["seed", *common],
                    "run": ["run", "--empty", *common],
                    "compile": ["compile", *common],
                    "role_layout": [
                        "run-operation", "claims_role_layout", "--args", "{apply: true}", *common
                    ],
                }.items():  # fmt: skip
                    run.results[name] = runner.invoke(argv)
        finally:
            sqlglot_logger.setLevel(level)
    yield run
