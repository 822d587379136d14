"""Per-pull-request Snowflake clones for Dagster+ branch deployments, and their clean-up.

A branch deployment (and the slim CI of its pull request) builds into `<DB>_CLONE_<PR id>`, a
zero-copy clone of the production database, so a pull request can run real models on real data
without touching production. The name comes from `environment.branch_clone_database`, the one
definition the dbt profile's `branch` target agrees with.

- `create_branch_clone` (job) + `branch_clone_sensor`: in a branch deployment, create the clone
  once (`CREATE DATABASE IF NOT EXISTS … CLONE …`). CI runs the same code before its dbt build
  (`python -m claims_platform.orchestration.ops.branch_clones create`), since Dagster+ may keep a branch
  deployment's sensors stopped.
- `drop_stale_branch_clones` (job) + its daily schedule in prod: list `SHOW DATABASES LIKE
  '<DB>_CLONE_%'` and drop what `ClonePolicy` calls stale: the pull request is known closed, or the
  clone is older than `max_age_days`. CI drops a PR's clone when the PR closes; this sweep catches
  what that missed.

Identifiers cannot be bind parameters in Snowflake DDL, so the SQL is assembled from names that
`_identifier` has checked against a strict pattern; no other value ever enters the SQL text.
Snowflake is reached through snowflake-connector-python, imported only when a statement runs.
"""

import argparse
import datetime as dt
import re
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from claims_platform.environment import (
    ConfigurationError,
    branch_clone_database,
    get_env,
    pull_request_id,
    snowflake_connection_params,
    snowflake_database,
)
from claims_platform.orchestration.ops.retries import EXTERNAL_IO_RETRY_POLICY

CLONE_INFIX = "_CLONE_"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _identifier(name: str) -> str:
    if not _IDENTIFIER.fullmatch(name):
        raise ConfigurationError(
            f"{name!r} is not a plain Snowflake identifier (letters, digits, underscores)"
        )
    return name


# --- SQL ------------------------------------------------------------------------------------


def create_clone_sql(database: str, clone: str, *, replace: bool = False) -> str:
    verb = "CREATE OR REPLACE DATABASE" if replace else "CREATE DATABASE IF NOT EXISTS"
    return f"{verb} {_identifier(clone)} CLONE {_identifier(database)}"


def list_clones_sql(database: str) -> str:
    # `_` is a LIKE wildcard too; `parse_clones` keeps only exact `<DB>_CLONE_<id>` names.
    return f"SHOW DATABASES LIKE '{_identifier(database).upper()}{CLONE_INFIX}%'"


def drop_clone_sql(clone: str) -> str:
    return f"DROP DATABASE IF EXISTS {_identifier(clone)}"


# --- which clones are stale -----------------------------------------------------------------


@dataclass(frozen=True)
class CloneInfo:
    name: str
    pull_request_id: str
    created_on: dt.datetime | None


@dataclass(frozen=True)
class ClonePolicy:
    """When a clone may go.

    `open_pull_requests`: the ids of the pull requests still open, when the caller knows them;
    a clone of any other pull request is dropped, and a clone of an open one is kept whatever
    its age. Without that list, a clone older than `max_age_days` is dropped (a still-open pull
    request gets a fresh clone on its next push). `keep` names clones never to drop.
    """

    max_age_days: int = 7
    open_pull_requests: frozenset[str] | None = None
    keep: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.max_age_days < 1:
            raise ConfigurationError("max_age_days must be at least 1")


@dataclass(frozen=True)
class CloneDecision:
    clone: CloneInfo
    drop: bool
    reason: str


def parse_clones(database: str, rows: Iterable[Mapping[str, Any]]) -> list[CloneInfo]:
    """Clones of `database` among `SHOW DATABASES` rows (`name`, `created_on` columns)."""
    pattern = re.compile(
        rf"{re.escape(_identifier(database))}{CLONE_INFIX}([A-Za-z0-9_]+)", re.IGNORECASE
    )
    clones = []
    for row in rows:
        name = str(row["name"])
        match = pattern.fullmatch(name)
        if match:
            created = row.get("created_on")
            clones.append(CloneInfo(name, match.group(1), created))
    return sorted(clones, key=lambda c: c.name)


def decide(
    clones: Sequence[CloneInfo], policy: ClonePolicy, now: dt.datetime
) -> list[CloneDecision]:
    keep_names = {k.upper() for k in policy.keep}
    open_prs = {p.upper() for p in policy.open_pull_requests or ()}
    max_age = dt.timedelta(days=policy.max_age_days)
    decisions = []
    for clone in clones:
        age = now - clone.created_on if clone.created_on else None
        if clone.name.upper() in keep_names:
            decisions.append(CloneDecision(clone, False, "listed in keep"))
        elif policy.open_pull_requests is not None:
            if clone.pull_request_id.upper() in open_prs:
                decisions.append(CloneDecision(clone, False, "pull request open"))
            else:
                decisions.append(CloneDecision(clone, True, "pull request closed"))
        elif age is None:
            decisions.append(CloneDecision(clone, False, "creation time unknown"))
        elif age > max_age:
            decisions.append(CloneDecision(clone, True, f"older than {policy.max_age_days} days"))
        else:
            decisions.append(
                CloneDecision(clone, False, f"younger than {policy.max_age_days} days")
            )
    return decisions


# --- Snowflake ------------------------------------------------------------------------------


@contextmanager
def snowflake_cursor() -> Iterator[Any]:
    """A cursor on the platform's Snowflake account (key-pair auth; see environment.py)."""
    import snowflake.connector

    con = snowflake.connector.connect(**snowflake_connection_params())
    try:
        with con.cursor(snowflake.connector.DictCursor) as cursor:
            yield cursor
    finally:
        con.close()


def create_clone(cursor: Any, database: str, pr_id: str, *, replace: bool = False) -> str:
    clone = branch_clone_database(database, pr_id)
    cursor.execute(create_clone_sql(database, clone, replace=replace))
    return clone


def list_clones(cursor: Any, database: str) -> list[CloneInfo]:
    cursor.execute(list_clones_sql(database))
    return parse_clones(database, cursor.fetchall())


def drop_stale_clones(
    cursor: Any,
    database: str,
    policy: ClonePolicy,
    *,
    now: dt.datetime | None = None,
    dry_run: bool = False,
) -> list[CloneDecision]:
    now = now or dt.datetime.now(dt.UTC)
    decisions = decide(list_clones(cursor, database), policy, now)
    if not dry_run:
        for d in decisions:
            if d.drop:
                cursor.execute(drop_clone_sql(d.clone.name))
    return decisions


# --- Dagster jobs, sensor, schedule ---------------------------------------------------------


@dg.op(retry_policy=EXTERNAL_IO_RETRY_POLICY)
def create_branch_clone_op(context: dg.OpExecutionContext) -> str:
    pr_id = pull_request_id()
    if get_env() != "branch" or not pr_id:
        raise dg.Failure(
            "create_branch_clone runs in a branch deployment only "
            "(DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT=1 with DAGSTER_CLOUD_PULL_REQUEST_ID)",
            allow_retries=False,
        )
    database = snowflake_database(base=True)
    with snowflake_cursor() as cursor:
        clone = create_clone(cursor, database, pr_id)
    context.log.info(f"clone {clone} of {database} is ready")
    return clone


@dg.job(
    description="Creates this branch deployment's Snowflake clone <DB>_CLONE_<PR id> of the "
    "production database, if it does not exist yet."
)
def create_branch_clone():
    create_branch_clone_op()


class DropStaleClonesConfig(dg.Config):
    max_age_days: int = 7
    open_pull_requests: list[str] | None = None
    keep: list[str] | None = None
    dry_run: bool = False


@dg.op(retry_policy=EXTERNAL_IO_RETRY_POLICY)
def drop_stale_branch_clones_op(
    context: dg.OpExecutionContext, config: DropStaleClonesConfig
) -> dg.Output[int]:
    policy = ClonePolicy(
        max_age_days=config.max_age_days,
        open_pull_requests=(
            frozenset(config.open_pull_requests) if config.open_pull_requests is not None else None
        ),
        keep=frozenset(config.keep or ()),
    )
    database = snowflake_database(base=True)
    with snowflake_cursor() as cursor:
        decisions = drop_stale_clones(cursor, database, policy, dry_run=config.dry_run)
    for d in decisions:
        verb = ("would drop" if config.dry_run else "dropped") if d.drop else "kept"
        context.log.info(f"{verb} {d.clone.name}: {d.reason}")
    dropped = sum(d.drop for d in decisions)
    return dg.Output(
        dropped,
        metadata={
            "clones_seen": len(decisions),
            "clones_dropped": 0 if config.dry_run else dropped,
            "dry_run": config.dry_run,
        },
    )


@dg.job(
    description="Drops branch-deployment Snowflake clones whose pull request is closed or that "
    "are older than max_age_days (configurable; dry_run lists without dropping)."
)
def drop_stale_branch_clones():
    drop_stale_branch_clones_op()


@dg.sensor(
    job=create_branch_clone,
    name="branch_clone_sensor",
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="In a branch deployment, requests create_branch_clone once per pull request.",
)
def branch_clone_sensor(context: dg.SensorEvaluationContext):
    pr_id = pull_request_id()
    if get_env() != "branch" or not pr_id:
        return dg.SkipReason("not a branch deployment: no clone to create")
    clone = branch_clone_database(snowflake_database(base=True), pr_id)
    # The run key makes this one run per clone name for the life of the deployment.
    return dg.RunRequest(run_key=clone)


@dg.schedule(
    job=drop_stale_branch_clones,
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
    name="drop_stale_branch_clones_daily",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily in prod: drop branch clones older than 7 days.",
)
def drop_stale_branch_clones_daily(context: dg.ScheduleEvaluationContext):
    if get_env() != "prod":
        return dg.SkipReason("branch clones are swept from the prod deployment only")
    return dg.RunRequest()


# --- CLI for CI -----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m claims_platform.orchestration.ops.branch_clones",
        description="Create or drop the Snowflake clone of a pull request (used by CI).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("create", "drop", "name"):
        p = sub.add_parser(name)
        p.add_argument("--pr", default=None, help="pull request id (default: from environment)")
        if name == "create":
            p.add_argument("--replace", action="store_true", help="re-clone from production")
    sweep = sub.add_parser("sweep")
    sweep.add_argument("--max-age-days", type=int, default=7)
    sweep.add_argument("--open-pr", action="append", default=None, help="an open PR id (repeat)")
    sweep.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)

    database = snowflake_database(base=True)
    if args.command == "sweep":
        policy = ClonePolicy(
            max_age_days=args.max_age_days,
            open_pull_requests=frozenset(args.open_pr) if args.open_pr is not None else None,
        )
        with snowflake_cursor() as cursor:
            for d in drop_stale_clones(cursor, database, policy, dry_run=args.dry_run):
                print(f"{'drop' if d.drop else 'keep'} {d.clone.name}: {d.reason}")
        return 0
    pr_id = args.pr or pull_request_id()
    if not pr_id:
        parser.error("no pull request id: pass --pr or set DAGSTER_CLOUD_PULL_REQUEST_ID")
    clone = _identifier(branch_clone_database(database, pr_id))
    if args.command == "name":
        print(clone)
        return 0
    with snowflake_cursor() as cursor:
        if args.command == "create":
            create_clone(cursor, database, pr_id, replace=args.replace)
        else:
            cursor.execute(drop_clone_sql(clone))
    print({"create": "created", "drop": "dropped"}[args.command], clone)
    return 0


if __name__ == "__main__":
    sys.exit(main())
