"""Snowflake and S3 on loopback for the Snowflake warehouse tests: fakesnow's server mode (the
Snowflake REST protocol, reached by snowflake-connector-python) and moto's server (S3 with
SSE-KMS, KMS), both started by the fixture, nothing patched in the code under test.

fakesnow runs Snowflake SQL on DuckDB. Where it cannot do what Snowflake does, the emulator is
taught here, in the test process that hosts it; the production SQL is never changed for it:

1. **External S3 stage.** `CREATE STAGE … URL = 's3://…' STORAGE_INTEGRATION = …` is recorded by
   fakesnow as it is, but COPY then reads the URL through DuckDB, which needs the httpfs
   extension, and DuckDB cannot install it offline ("Failed to download extension httpfs").
   Taught: when a COPY resolves a stage to an `s3://` URL, the objects under it are downloaded
   from the moto server with boto3 (SSE-KMS objects, decrypted by the server as S3 does for a
   principal allowed the key) into a mirror directory, and COPY reads the mirror.
2. **COPY … PATTERN = '…'.** fakesnow 0.12.1 rejects the option ("Unknown copy parameter");
   taught: the option is taken out of the statement and the listed files are filtered by it
   (Snowflake matches the regex against the whole path).
3. **A session closed with an open transaction.** Snowflake rolls it back; fakesnow's server
   drops the session and leaves its DuckDB transaction open, holding its write conflicts.
   Taught: deleting a session closes its DuckDB connection (which rolls back).
4. **Sessions by id.** fakesnow knows neither `CURRENT_SESSION()` nor `SYSTEM$ABORT_SESSION`.
   Taught: each emulated session gets an id, `current_session()` reads it, and aborting it
   closes that session's DuckDB connection (its open transaction rolls back), as Snowflake ends
   a session and rolls its transaction back.
5. **`CREATE DATABASE … CLONE …`.** fakesnow creates the clone empty. Snowflake's zero-copy
   clone holds the source's schemas, tables (rows included) and external stages (with their
   URL). Taught: when the statement creates the database, the source's tables and external
   stages are copied into it. Views are not: the platform's views are dbt's, which a branch
   build creates again.
6. **Blocking locks.** Snowflake makes a second UPDATE of a locked row wait, and a transaction's
   DML reads the rows committed before the statement; DuckDB fails the second writer at once
   ("Conflict on update", HTTP 500 from the server), and fails a transaction's UPDATE of a row
   committed since the transaction began. The writer's lease heartbeat (an autocommit UPDATE of
   the COMMIT_LOCK row) and a commit's first statement (the UPDATE of that row) meet that way
   now and then. Taught: such a statement, when it is an autocommit one or the first of its
   transaction (nothing else to redo), is run again, in a fresh transaction, until it goes
   through or `LOCK_WAIT_S` passes, as Snowflake would have made it wait.

Statements fakesnow cannot run at all and that the tests therefore prove with sqlglot's
Snowflake dialect only (test_snowflake.py `test_every_statement_is_snowflake_sql`): none beyond
the options above; `copy_table.sql` is executed with its PATTERN line.
"""

from __future__ import annotations

import logging
import re
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

REGION = "us-east-1"
_pattern = threading.local()


@dataclass(frozen=True)
class SnowflakeServers:
    """Connection parameters of the loopback Snowflake and the S3 lake it stages from."""

    snowflake: dict[str, Any]
    s3_endpoint: str
    bucket: str
    kms_key_arn: str
    s3: Any  # a boto3 S3 client on the moto server

    def database(self) -> str:
        """A fresh database name: tests share one emulator, never its state."""
        return f"CLAIMS_{uuid.uuid4().hex[:10].upper()}"

    def connect(self, database: str) -> Callable[[], AbstractContextManager[Any]]:
        """A connection factory as the Dagster wiring gives SnowflakeWarehouse."""
        import snowflake.connector

        params = self.snowflake

        def connect() -> AbstractContextManager[Any]:
            return closing(snowflake.connector.connect(**params, database=database))

        return connect

    def put(self, key: str, body: bytes) -> None:
        self.s3.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=body,
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=self.kms_key_arn,
        )


def _teach_fakesnow(mp: pytest.MonkeyPatch, s3: Any, mirror: Path) -> None:
    import duckdb
    import fakesnow.copy_into
    import fakesnow.cursor
    import fakesnow.server
    from sqlglot import exp

    resolve = fakesnow.copy_into.stage_url_from_var
    source_glob = fakesnow.copy_into._source_glob
    copy_into = fakesnow.cursor.copy_into

    def stage_url(*args: Any, **kwargs: Any) -> str:
        url = resolve(*args, **kwargs)
        if not url.startswith("s3://"):
            return url
        parsed = urlparse(url)
        bucket, prefix = parsed.netloc, parsed.path.lstrip("/")
        local = mirror / uuid.uuid4().hex
        local.mkdir(parents=True)
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            for item in page.get("Contents", []):
                target = local / item["Key"][len(prefix) :].lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, item["Key"], str(target))
        return local.as_uri() + "/"

    def glob_with_pattern(source: str, duck_conn: Any) -> list[str]:
        found = source_glob(source, duck_conn)
        pattern = getattr(_pattern, "value", None)
        return [u for u in found if re.fullmatch(pattern, u)] if pattern else found

    def copy_without_pattern(duck_conn: Any, db: Any, schema: Any, expr: Any, *a: Any, **k: Any):
        params = expr.args.get("params") or []
        keep, pattern = [], None
        for param in params:
            if isinstance(param.this, exp.Var) and param.this.name.upper() == "PATTERN":
                pattern = param.expression.name
            else:
                keep.append(param)
        expr.set("params", keep)
        _pattern.value = pattern
        try:
            return copy_into(duck_conn, db, schema, expr, *a, **k)
        finally:
            _pattern.value = None

    class Sessions(dict):
        def __delitem__(self, token: str) -> None:
            self[token].close()
            super().__delitem__(token)

    execute = fakesnow.cursor.FakeSnowflakeCursor.execute
    by_id: dict[str, Any] = {}

    def execute_with_sessions(self: Any, command: str, *a: Any, **k: Any) -> Any:
        cloned = _DATABASE_CLONE.match(command)
        if cloned:
            target, source = cloned["target"].upper(), cloned["source"].upper()
            return _clone_database(self, target, source, replace=bool(cloned["replace"]))
        conn = self._conn
        session = getattr(conn, "_claims_session_id", None)
        if session is None:
            session = conn._claims_session_id = uuid.uuid4().hex
            by_id[session] = conn
        command = re.sub(r"current_session\(\)", f"'{session}'", command, flags=re.IGNORECASE)
        aborted = re.search(r"system\$abort_session\('([0-9a-f]+)'\)", command, re.IGNORECASE)
        if aborted:
            victim = by_id.pop(aborted.group(1), None)
            if victim is not None:
                victim.close()
            command = "select 'session aborted' as status"
        # Item 6 of the module docstring: where this statement stands in its transaction.
        in_transaction = getattr(conn, "_claims_in_transaction", False)
        first_in_it = getattr(conn, "_claims_first_in_transaction", False)
        begins, ends = _TRANSACTION_BEGIN.match(command), _TRANSACTION_END.match(command)
        conn._claims_in_transaction = bool(begins) or (in_transaction and not ends)
        conn._claims_first_in_transaction = bool(begins)
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                return execute(self, command, *a, **k)
            except duckdb.TransactionException as e:
                waits = "Conflict on update" in str(e) and (first_in_it or not in_transaction)
                if not waits or time.monotonic() > deadline:
                    raise
            time.sleep(0.05)
            if in_transaction:
                execute(self, "rollback")
                execute(self, "begin transaction")

    mp.setattr(fakesnow.cursor.FakeSnowflakeCursor, "execute", execute_with_sessions)
    mp.setattr(fakesnow.copy_into, "stage_url_from_var", stage_url)
    mp.setattr(fakesnow.copy_into, "_source_glob", glob_with_pattern)
    mp.setattr(fakesnow.cursor, "copy_into", copy_without_pattern)
    mp.setattr(fakesnow.server, "sessions", Sessions(fakesnow.server.sessions))


LOCK_WAIT_S = 10.0
_TRANSACTION_BEGIN = re.compile(r"(?i)^\s*begin(\s+transaction)?\s*;?\s*$")
_TRANSACTION_END = re.compile(r"(?i)^\s*(commit|rollback)\s*;?\s*$")
_DATABASE_CLONE = re.compile(
    r"(?is)^\s*create\s+(?P<replace>or\s+replace\s+)?database\s+(?:if\s+not\s+exists\s+)?"
    r"(?P<target>\w+)\s+clone\s+(?P<source>\w+)\s*;?\s*$"
)


def _clone_database(cursor: Any, target: str, source: str, *, replace: bool) -> Any:
    """`CREATE [OR REPLACE] DATABASE target CLONE source` as Snowflake runs it (item 5 above): a
    new database with the source's tables and external stages; without OR REPLACE, an existing
    one is left as it is."""
    duck = cursor._duck_conn
    if replace:  # fakesnow's databases are DuckDB's attached ones: DROP DATABASE is a DETACH
        duck.execute(f"detach database if exists {target}")
    existed = duck.execute(
        "select count(*) from duckdb_databases() where upper(database_name) = ?", [target]
    ).fetchone()[0]
    result = cursor.execute(f"create database if not exists {target}")
    if existed:
        return result
    tables = duck.execute(
        "select schema_name, table_name from duckdb_tables()"
        " where upper(database_name) = ? and not starts_with(schema_name, '_fs')",
        [source],
    ).fetchall()
    copy = cursor._conn.cursor()
    for schema, table in tables:
        copy.execute(f'create schema if not exists {target}."{schema}"')
        copy.execute(
            f'create table {target}."{schema}"."{table}" clone {source}."{schema}"."{table}"'
        )
    stages = "_fs_global._fs_information_schema._fs_stages"
    duck.execute(f"delete from {stages} where database_name = ?", [target])
    duck.execute(
        f"insert into {stages} select * replace (? as database_name) from {stages}"
        " where database_name = ? and type like 'EXTERNAL%'",
        [target, source],
    )
    return result


_SERVER_FUNCTION: list[Callable[..., Any]] = []


def _fakesnow_server_function(fakesnow: Any) -> Callable[..., Any]:
    """fakesnow's `server()` context manager, kept from the first time it is seen: once the
    submodule `fakesnow.server` is imported, `fakesnow.server` names the module."""
    import types

    if not _SERVER_FUNCTION:
        found = fakesnow.__dict__.get("server")
        if isinstance(found, types.ModuleType):
            # The submodule was imported before this module ever saw the function: load the
            # package's own source again, in a fresh module object, to get it.
            import importlib.util

            spec = importlib.util.find_spec("fakesnow")
            assert spec is not None and spec.loader is not None
            fresh = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(fresh)
            found = fresh.__dict__["server"]
        _SERVER_FUNCTION.append(found)
    return _SERVER_FUNCTION[0]


@pytest.fixture(scope="session")
def snowflake_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SnowflakeServers]:
    import boto3
    import fakesnow
    from moto.server import ThreadedMotoServer

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    for name in ("werkzeug", "fakesnow.server", "uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # fakesnow logs every statement it hands sqlglot as a 'Command' warning.
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    host, port = moto.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    aws = {
        "endpoint_url": endpoint,
        "region_name": REGION,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    s3 = boto3.client("s3", **aws)
    kms_key = boto3.client("kms", **aws).create_key(Description="claims lake")["KeyMetadata"]
    bucket = f"claims-lake-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    # `fakesnow.server()` once, under its own name: importing the submodule `fakesnow.server`
    # (as any other fixture's teaching does) replaces the package's function attribute.
    start_server = _fakesnow_server_function(fakesnow)
    mirror = Path(tempfile.mkdtemp(prefix="stage_mirror_", dir=tmp_path_factory.getbasetemp()))
    try:
        with pytest.MonkeyPatch.context() as mp:
            _teach_fakesnow(mp, s3, mirror)
            with start_server() as params:
                yield SnowflakeServers(params, endpoint, bucket, kms_key["Arn"], s3)
    finally:
        moto.stop()
