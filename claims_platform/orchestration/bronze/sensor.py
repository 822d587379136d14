"""The landing sensor: new DMS files → one run request for their bronze and silver assets and the
gold that reads those silver tables.

The cursor is a watermark plus the paths seen inside a look-back window before it, so files with
equal modification times, or files that become visible late (written, then renamed into place),
are still picked up and never requested twice. The landing lists only from the window's floor on:
on S3 that is `dagster_aws.s3.sensor.get_objects(since_last_modified=)`, paginated. S3 needs the
window as much as a directory: LastModified has one-second resolution (many keys share the
boundary second) and is the time an upload started, so a large upload becomes visible after
smaller, later ones. S3 cannot filter by LastModified, so between full listings (every
FULL_LISTING_EVERY) a tick on S3 lists only the keys after the newest file taken of each key
sequence: its cost follows what is new, not the years of files landed. A tick takes at most
`max_files_per_tick` files, oldest first; the rest stay above the watermark (or in the window,
unseen) and are taken by the next tick. Exactly-once does not rest on the sensor: the silver job
loads only files the ledger has not seen, so a duplicate request is a no-op.

A silver run loads at most a capped batch (CLAIMS_MAX_BATCH_FILES / _BYTES) and records in its
change tables' metadata how many files it left (`files_left_pending`); while a table has some,
the sensor requests another run for it, once per run that left them (the run key names that
run: a failed continuation is not requested again and again; the daily reconciliation lists
everything and picks up what is still pending).
"""

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import dagster as dg

from claims_platform.bronze.landing import LandedFile
from claims_platform.bronze.listing import LedgerFront, front_past
from claims_platform.contracts import TableContract, load_contracts
from claims_platform.environment import Env, get_env
from claims_platform.orchestration.resources import PlatformResource
from claims_platform.orchestration.silver.assets import (
    FILES_LEFT_BEHIND_FRONT,
    FILES_LEFT_PENDING,
    FULL_LISTING,
    LISTING,
    silver_key,
)
from claims_platform.orchestration.silver.reconcile import (
    landing_batch_run_config,
    reconcile_run_config,
)
from claims_platform.orchestration.tables import bronze_key

# The tag under which Dagster records the code version a materialization was built with.
CODE_VERSION_TAG = "dagster/code_version"

LOOKBACK = dt.timedelta(minutes=10)
# Where listing everything pages through every key ever landed (S3: it cannot filter by
# modification time), a tick lists only the keys after the newest file taken of each key
# sequence (bronze/listing.py, as a landing run lists after the ledger's front), and everything
# at this interval: that finds a file landed late under a key before them (or under a key no
# range names) well inside LOOKBACK. The daily landing reconciliation remains the backstop.
FULL_LISTING_EVERY = dt.timedelta(minutes=5)
TRIGGER_TAG = "claims/trigger"
_ACTIVE = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]
MAX_FILES_PER_TICK = 2000
# Dagster's run-retry tags: set on a failed run when the instance will retry it (run_retries in
# dagster.yaml), and once the retry exists.
WILL_RETRY_TAG = "dagster/will_retry"
AUTO_RETRY_RUN_ID_TAG = "dagster/auto_retry_run_id"
# How long a failed batch's retry is waited for: Dagster's daemon creates it within seconds; a
# deployment whose daemon is down must not stop loading for ever.
RETRY_WAIT = dt.timedelta(minutes=2)


@dataclass
class LandingCursor:
    watermark: dt.datetime | None = None
    recent: dict[str, str] = field(default_factory=dict)  # path → modified_at, inside LOOKBACK
    # Per key sequence, the newest path taken (bronze/listing.py): where a tick that does not
    # list everything starts listing.
    front: LedgerFront = field(default_factory=LedgerFront)
    # When the landing zone was last listed whole (naive UTC), where that is not cheap (S3).
    listed_all_at: dt.datetime | None = None

    @classmethod
    def load(cls, raw: str | None) -> "LandingCursor":
        if not raw:
            return cls()
        data = json.loads(raw)
        wm = data.get("watermark")
        front = data.get("front") or {}
        listed = data.get("listed_all_at")
        return cls(
            dt.datetime.fromisoformat(wm) if wm else None,
            dict(data.get("recent", {})),
            LedgerFront(dict(front.get("full_load", {})), dict(front.get("change", {}))),
            dt.datetime.fromisoformat(listed) if listed else None,
        )

    def dump(self) -> str:
        return json.dumps(
            {
                "watermark": self.watermark.isoformat() if self.watermark else None,
                "recent": self.recent,
                "front": {
                    "full_load": self.front.newest_full_load,
                    "change": self.front.newest_change,
                },
                "listed_all_at": self.listed_all_at.isoformat() if self.listed_all_at else None,
            },
            sort_keys=True,
        )

    def full_listing_due(self, now: dt.datetime) -> bool:
        return self.listed_all_at is None or now - self.listed_all_at >= FULL_LISTING_EVERY

    @property
    def floor(self) -> dt.datetime | None:
        """The oldest modification time a file new to this cursor can have."""
        return self.watermark - LOOKBACK if self.watermark else None

    def new_files(self, listed: Iterable[LandedFile]) -> list[LandedFile]:
        """Files not seen before, oldest first; a path seen with another modification time is
        new again (re-delivered in place: the silver step reads it, or records the change)."""
        floor = self.floor
        fresh = [
            f
            for f in listed
            if self.recent.get(f.path) != f.modified_at.isoformat()
            and (floor is None or f.modified_at >= floor)
        ]
        return sorted(fresh, key=lambda f: (f.modified_at, f.path))

    def advance(self, taken: list[LandedFile], left: Iterable[LandedFile] = ()) -> None:
        """Take `taken`; `left` are the new files listed but left for the next tick."""
        if not taken:
            return
        self.front = front_past(self.front, (f.path for f in taken), (f.path for f in left))
        newest = max(f.modified_at for f in taken)
        self.watermark = max(self.watermark, newest) if self.watermark else newest
        self.recent.update({f.path: f.modified_at.isoformat() for f in taken})
        floor = self.watermark - LOOKBACK
        self.recent = {
            p: t for p, t in self.recent.items() if dt.datetime.fromisoformat(t) >= floor
        }


def gold_selection(
    gold_reads: Mapping[dg.AssetKey, frozenset[dg.AssetKey]],
    changed: Iterable[dg.AssetKey],
    instance: dg.DagsterInstance | None = None,
    code_versions: Mapping[dg.AssetKey, str | None] | None = None,
) -> list[dg.AssetKey]:
    """The gold a batch changing the silver assets `changed` rebuilds: every model that reads one
    of them (`gold_reads`: model → the silver it reads, gold/assets.silver_read_by_gold) and,
    given the instance, every model still behind the silver it reads: never built, or built
    last before a change of its silver (that run's gold step failed, or was killed). Without
    the second part a failed step would leave a model stale until a batch of its own tables.
    A dbt seed reads no silver: it is behind when never built or when its file changed since
    (its code version, the file's checksum in `code_versions`, differs from the last build's)."""
    changed = set(changed)
    behind = (
        _behind_their_silver(instance, gold_reads, code_versions or {})
        if instance is not None
        else set()
    )
    return [key for key, reads in gold_reads.items() if reads & changed or key in behind]


def _behind_their_silver(
    instance: dg.DagsterInstance,
    gold_reads: Mapping[dg.AssetKey, frozenset[dg.AssetKey]],
    code_versions: Mapping[dg.AssetKey, str | None],
) -> set[dg.AssetKey]:
    keys = set(gold_reads).union(*gold_reads.values())
    # Storage ids order events of one instance; a model's build is after its silver's.
    last: dict[dg.AssetKey, int] = {}
    built_version: dict[dg.AssetKey, str | None] = {}
    for record in instance.get_asset_records(list(keys)):
        materialization = record.asset_entry.last_materialization_record
        if materialization is not None:
            key = record.asset_entry.asset_key
            last[key] = materialization.storage_id
            event = materialization.event_log_entry.asset_materialization
            built_version[key] = (event.tags or {}).get(CODE_VERSION_TAG) if event else None
    return {
        key
        for key, reads in gold_reads.items()
        if key not in last
        or any(last.get(silver, -1) > last[key] for silver in reads)
        or (not reads and code_versions.get(key) not in (None, built_version.get(key)))
    }


@dataclass(frozen=True)
class LeftPending:
    """A table's files a capped batch left: the run that left them, and how it listed."""

    run_id: str
    files: int
    full_listing: bool


def left_pending(
    instance: dg.DagsterInstance, contracts: Mapping[str, TableContract]
) -> dict[str, LeftPending]:
    """Tables whose latest change-table materialization left files for the next run."""
    left = {}
    for name, c in contracts.items():
        event = instance.get_latest_materialization_event(silver_key(c.silver_table))
        materialization = event.asset_materialization if event else None
        if materialization is None:
            continue
        metadata = materialization.metadata
        files = metadata.get(FILES_LEFT_PENDING)
        if files is not None and int(files.value or 0) > 0:
            listing = metadata.get(LISTING)
            behind = metadata.get(FILES_LEFT_BEHIND_FRONT)
            left[name] = LeftPending(
                run_id=event.run_id,
                files=int(files.value),
                # Files a full listing left may sort before the ledger's front: only a full
                # listing finds them again.
                full_listing=(listing is not None and listing.value == FULL_LISTING)
                or (behind is not None and int(behind.value or 0) > 0),
            )
    return left


def awaiting_retry(instance: dg.DagsterInstance) -> str | None:
    """A landing batch that failed and that Dagster will retry, before the retry exists."""
    failed = instance.get_run_records(
        filters=dg.RunsFilter(
            statuses=[dg.DagsterRunStatus.FAILURE],
            tags={TRIGGER_TAG: "landing_zone_sensor"},
            updated_after=dt.datetime.now(dt.UTC) - RETRY_WAIT,
        ),
        limit=5,
    )
    for record in failed:
        tags = record.dagster_run.tags
        if tags.get(WILL_RETRY_TAG) == "true" and AUTO_RETRY_RUN_ID_TAG not in tags:
            return record.dagster_run.run_id
    return None


def _tick_seconds(env: Env) -> int:
    """How often the sensor looks: a landed file waits for the next tick, so this is latency.
    A local tick walks a directory (milliseconds); on S3 it lists the landing zone's keys, which
    a shorter interval would multiply."""
    return 2 if env == "local" else 5


def build_landing_sensor(
    silver_keys_by_table: Mapping[str, Sequence[dg.AssetKey]],
    gold_reads: Mapping[dg.AssetKey, frozenset[dg.AssetKey]],
    contracts: dict[str, TableContract] | None = None,
    *,
    code_versions: Mapping[dg.AssetKey, str | None] | None = None,
    batch_checks: Sequence[dg.AssetCheckKey] | None = None,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
    max_files_per_tick: int = MAX_FILES_PER_TICK,
) -> dg.SensorDefinition:
    contracts = contracts or load_contracts()

    @dg.sensor(
        name="landing_zone_sensor",
        description="Requests bronze + silver for the tables that received new DMS files, and "
        "in the same run the gold models that read those tables (and any gold a failed run left "
        "behind its silver), so each batch ends with gold up to date and rebuilds no model the "
        "batch cannot change.",
        minimum_interval_seconds=_tick_seconds(get_env()),
        default_status=default_status,
        asset_selection=dg.AssetSelection.assets(
            *(bronze_key(c) for c in contracts.values()),
            *(k for keys in silver_keys_by_table.values() for k in keys),
            *gold_reads,
        ),
    )
    def landing_zone_sensor(context: dg.SensorEvaluationContext, platform: PlatformResource):
        # One landing batch at a time: files that land meanwhile join the next, larger batch
        # instead of queueing a run each (the silver step loads every unprocessed file anyway).
        active = context.instance.get_run_records(
            filters=dg.RunsFilter(statuses=_ACTIVE, tags={TRIGGER_TAG: "landing_zone_sensor"}),
            limit=1,
        )
        if active:
            return dg.SkipReason(f"run {active[0].dagster_run.run_id} is still loading a batch")
        # A batch whose worker died (OOM, SIGKILL) is retried by Dagster (run monitoring, run
        # retries), and the retry loads every unprocessed file of its tables, those landed since
        # included. A batch requested before the retry exists goes ahead of it in the queue and
        # leaves the killed batch's change for a second batch behind it: seen under `dagster dev`,
        # 139 s from the kill to gold instead of 67 (one core busy elsewhere).
        retrying = awaiting_retry(context.instance)
        if retrying:
            return dg.SkipReason(f"run {retrying} failed and Dagster is about to retry it")
        cursor = LandingCursor.load(context.cursor)
        landing = platform.landing()
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        listing_all = landing.full_listing_is_cheap or cursor.full_listing_due(now)
        listed = [
            f
            for f in landing.list_files(
                since=cursor.floor, after=None if listing_all else cursor.front
            )
            if f.file.table in contracts
        ]
        if listing_all and not landing.full_listing_is_cheap:
            cursor.listed_all_at = now
        new = cursor.new_files(listed)
        taken = new[:max_files_per_tick]
        left = left_pending(context.instance, contracts)
        if not taken and not left:
            skip = f"no new files among {len(listed)} listed" + (
                "" if listing_all else " after the newest taken"
            )
            if cursor.dump() == (context.cursor or LandingCursor().dump()):
                return dg.SkipReason(skip)
            # The time of this full listing must be kept, or every idle tick would list all.
            return dg.SensorResult(skip_reason=skip, cursor=cursor.dump())
        tables = sorted({f.file.table for f in taken} | set(left))
        selection = [bronze_key(contracts[t]) for t in tables]
        for t in tables:
            selection.extend(k for k in silver_keys_by_table[t] if k not in selection)
        selection.extend(gold_selection(gold_reads, selection, context.instance, code_versions))
        # The checks gold waits for (blocking ones, dbt tests, the silver job's own); the others
        # run after the batch, by automation (quality/checks.AFTER_THE_BATCH).
        selected = set(selection)
        checks = (
            None if batch_checks is None else [k for k in batch_checks if k.asset_key in selected]
        )
        # Paths alone would name a re-delivery in place like the first delivery, and Dagster
        # drops a run request whose key it has seen.
        run_key = hashlib.sha1(
            "\n".join(
                sorted(
                    [f"{f.path} {f.modified_at.isoformat()} {f.size_bytes}" for f in taken]
                    + [f"left by {p.run_id} for {t}" for t, p in left.items()]
                )
            ).encode()
        ).hexdigest()
        cursor.advance(taken, new[max_files_per_tick:])
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    run_key=run_key,
                    asset_selection=selection,
                    asset_check_keys=checks,
                    run_config=(
                        reconcile_run_config()
                        if any(p.full_listing for p in left.values())
                        else landing_batch_run_config([f.path for f in taken])
                    ),
                    tags={
                        TRIGGER_TAG: "landing_zone_sensor",
                        "claims/new_files": str(len(taken)),
                        "claims/files_left_pending": str(sum(p.files for p in left.values())),
                    },
                )
            ],
            cursor=cursor.dump(),
        )

    return landing_zone_sensor
