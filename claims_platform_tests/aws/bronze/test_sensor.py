"""The landing sensor on S3: paginated listing, equal LastModified at the boundary, bounded ticks,
files landing between ticks, and a cursor that survives a restart (JSON round trip each tick)."""

from typing import Any

import dagster as dg
import pytest

from claims_platform.orchestration.bronze.sensor import LandingCursor, build_landing_sensor
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

        client.meta.events.register("provide-client-params.s3.ListObjectsV2", small_pages)
        client.meta.events.register("before-call.s3.ListObjectsV2", count)
        return client


LIST_CALLS: list[int] = []


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
