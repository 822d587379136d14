"""The landing sensor on S3: paginated listing, equal LastModified at the boundary, bounded ticks,
files landing between ticks, and a cursor that survives a restart (JSON round trip each tick)."""

from typing import Any

import dagster as dg
import pytest

from claims_platform.orchestration.bronze.sensor import (
    FULL_LISTING_EVERY,
    LandingCursor,
    build_landing_sensor,
)
from claims_platform.orchestration.definitions import defs, gold_reads, silver_keys_by_table
from claims_platform.orchestration.resources import PlatformResource
from claims_platform_tests.aws.conftest import put_landed
from claims_platform_tests.support.instance import project_instance

PAGE_SIZE = 7  # forces list_objects_v2 to page through a handful of objects


class PagedS3Platform(PlatformResource):
    """The platform with an S3 client that pages small and counts its list calls."""

    def s3_client(self) -> Any:
        client = super().s3_client()

        def small_pages(params: dict, **_: Any) -> None:
            params["MaxKeys"] = PAGE_SIZE

        def count(**_: Any) -> None:
            LIST_CALLS.append(1)

        def keys(parsed: dict, **_: Any) -> None:
            KEYS_LISTED.append(len(parsed.get("Contents", [])))

        client.meta.events.register("provide-client-params.s3.ListObjectsV2", small_pages)
        client.meta.events.register("before-call.s3.ListObjectsV2", count)
        client.meta.events.register("after-call.s3.ListObjectsV2", keys)
        return client


LIST_CALLS: list[int] = []
KEYS_LISTED: list[int] = []


@pytest.fixture
def s3_landing(bucket, platform_env, monkeypatch) -> str:
    monkeypatch.setenv("CLAIMS_LANDING_URI", f"s3://{bucket}/dms")
    return bucket


def _tick(sensor, instance, cursor: str | None) -> tuple[dg.SensorResult | dg.SkipReason, str]:
    # A fresh context per tick, fed only the stored JSON cursor: every tick is a restart.
    with dg.build_sensor_context(
        instance=instance, resources={"platform": PagedS3Platform()}, cursor=cursor
    ) as ctx:
        result = sensor(ctx)
    if isinstance(result, dg.SensorResult) and result.skip_reason is not None:
        # A skipped tick that keeps its cursor (the time of a full listing).
        assert not result.run_requests
        return result.skip_reason, result.cursor or cursor
    if isinstance(result, dg.SensorResult):
        return result, result.cursor
    return result, cursor


def _land(s3, bucket, names: list[str], kms_key_arn: str) -> set[str]:
    paths = set()
    for table, name in names:
        path = f"CLAIMS/{table}/{name}"
        put_landed(s3, bucket, f"dms/{path}", b"x", kms_key_arn=kms_key_arn)
        paths.add(path)
    return paths


def test_sensor_takes_every_s3_file_once_in_bounded_ticks(s3, s3_landing, kms_key_arn):
    bucket = s3_landing
    first = _land(
        s3,
        bucket,
        [("MEMBER", f"20240102-1000{i:05d}.csv") for i in range(12)]
        + [("CLAIM", f"20240102-1100{i:05d}.csv") for i in range(6)]
        + [("UNKNOWN_TABLE", "LOAD00000001.csv")],
        kms_key_arn,
    )
    first = {p for p in first if "UNKNOWN" not in p}
    stamps = [o["LastModified"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    # Second-resolution LastModified: many keys share the boundary time, the case under test.
    assert len(set(stamps)) < len(stamps)

    sensor = build_landing_sensor(silver_keys_by_table, gold_reads, max_files_per_tick=5)
    LIST_CALLS.clear()
    cursor = None
    seen: list[str] = []
    run_keys = set()
    with project_instance() as instance:
        for _ in range(4):  # 18 files, 5 per tick
            result, cursor = _tick(sensor, instance, cursor)
            assert isinstance(result, dg.SensorResult)
            (request,) = result.run_requests
            assert int(request.tags["claims/new_files"]) <= 5
            run_keys.add(request.run_key)
            taken = set(LandingCursor.load(cursor).recent) - set(seen)
            assert len(taken) == int(request.tags["claims/new_files"])
            seen += sorted(taken)
        assert len(LIST_CALLS) >= 4 * 2, "listing paged through list_objects_v2"
        assert sorted(seen) == sorted(first) and len(seen) == len(set(seen))
        assert len(run_keys) == 4

        idle, cursor = _tick(sensor, instance, cursor)
        assert isinstance(idle, dg.SkipReason)

        # Files landing between ticks, in the same second as the watermark or later.
        later = _land(
            s3, bucket, [("MEMBER", f"20240102-1200{i:05d}.csv") for i in range(3)], kms_key_arn
        )
        result, cursor = _tick(sensor, instance, cursor)
        assert isinstance(result, dg.SensorResult)
        (request,) = result.run_requests
        assert request.tags["claims/new_files"] == "3"
        assert set(LandingCursor.load(cursor).recent) >= later
        keys = {k.to_user_string() for k in request.asset_selection}
        assert {"bronze/member", "silver/member"} <= keys and "bronze/claim" not in keys

        again, _ = _tick(sensor, instance, cursor)
        assert isinstance(again, dg.SkipReason)


def test_definitions_sensor_reads_the_s3_landing(s3, s3_landing, kms_key_arn):
    _land(s3, s3_landing, [("PLAN", "LOAD00000001.csv")], kms_key_arn)
    sensor = defs.resolve_sensor_def("landing_zone_sensor")
    with project_instance() as instance:
        result, cursor = _tick(sensor, instance, None)
        (request,) = result.run_requests
        assert "bronze/plan" in {k.to_user_string() for k in request.asset_selection}
        assert list(LandingCursor.load(cursor).recent) == ["CLAIMS/PLAN/LOAD00000001.csv"]


def test_between_full_listings_a_tick_lists_only_keys_after_the_newest_taken(
    s3, s3_landing, kms_key_arn
):
    """On S3 a tick lists the keys after the newest file taken of each key sequence, not every
    key landed; every FULL_LISTING_EVERY it lists everything, which finds a file landed late
    under an older key. Idle ticks keep the time of the last full listing."""
    bucket = s3_landing
    history = _land(
        s3,
        bucket,
        [("MEMBER", f"20240102-10{i:07d}.csv") for i in range(30)]
        + [("PLAN", "LOAD00000001.csv"), ("PLAN", "LOAD00000002.csv")],
        kms_key_arn,
    )
    sensor = build_landing_sensor(silver_keys_by_table, gold_reads)
    with project_instance() as instance:
        KEYS_LISTED.clear()
        result, cursor = _tick(sensor, instance, None)
        assert isinstance(result, dg.SensorResult)
        assert set(LandingCursor.load(cursor).recent) == history
        assert sum(KEYS_LISTED) >= len(history)  # the first tick lists everything
        listed_all_at = LandingCursor.load(cursor).listed_all_at
        assert listed_all_at is not None

        KEYS_LISTED.clear()
        idle, cursor = _tick(sensor, instance, cursor)
        assert isinstance(idle, dg.SkipReason)
        # PLAN has no change file yet: its change range is read up to the full-load keys, and a
        # page reaches into them (LedgerFront.ranges). Nothing else is listed.
        assert sum(KEYS_LISTED) == 2

        # One file lands after the newest key, one late under a key before it.
        [new] = _land(s3, bucket, [("MEMBER", "20240102-110000000.csv")], kms_key_arn)
        [late] = _land(s3, bucket, [("MEMBER", "20240102-095900000.csv")], kms_key_arn)
        KEYS_LISTED.clear()
        result, cursor = _tick(sensor, instance, cursor)
        assert isinstance(result, dg.SensorResult)
        assert result.run_requests[0].tags["claims/new_files"] == "1"
        assert new in LandingCursor.load(cursor).recent
        assert sum(KEYS_LISTED) == 1 + 2, "only the key after the front was listed"

        # The next full listing is due: the late file is found and requested.
        state = LandingCursor.load(cursor)
        state.listed_all_at = listed_all_at - FULL_LISTING_EVERY
        KEYS_LISTED.clear()
        result, cursor = _tick(sensor, instance, state.dump())
        assert isinstance(result, dg.SensorResult)
        assert result.run_requests[0].tags["claims/new_files"] == "1"
        assert late in LandingCursor.load(cursor).recent
        assert sum(KEYS_LISTED) == len(history) + 2
        assert LandingCursor.load(cursor).listed_all_at > listed_all_at

        # An idle tick with a full listing due lists everything and keeps the time it did.
        state = LandingCursor.load(cursor)
        state.listed_all_at -= FULL_LISTING_EVERY
        idle, kept = _tick(sensor, instance, state.dump())
        assert isinstance(idle, dg.SkipReason)
        assert LandingCursor.load(kept).listed_all_at > state.listed_all_at
