"""The landing sensor requests another run while a capped batch left files, with the listing
the files need: after the ledger's front, or a full listing when the files left may sort
before it (left by a reconciliation, or late files the batch did not take)."""

from __future__ import annotations

import dagster as dg

from claims_platform.orchestration.definitions import defs
from claims_platform.orchestration.silver.assets import (
    FILES_LEFT_BEHIND_FRONT,
    FILES_LEFT_PENDING,
    LISTING,
    silver_key,
)
from claims_platform.orchestration.silver.reconcile import reconcile_run_config
from claims_platform_tests.support.instance import project_instance

MEMBER = silver_key("member")


def _tick(sensor, instance, cursor=None):
    with dg.build_sensor_context(
        instance=instance, resources=defs.resources, cursor=cursor
    ) as context:
        return sensor(context)


def _left(instance, metadata):
    instance.report_runless_asset_event(dg.AssetMaterialization(MEMBER, metadata=metadata))


def test_the_sensor_continues_a_capped_batch_with_the_listing_it_needs(platform_env):
    sensor = defs.resolve_sensor_def("landing_zone_sensor")
    with project_instance() as instance:
        assert isinstance(_tick(sensor, instance), dg.SkipReason)

        _left(instance, {FILES_LEFT_PENDING: 3, LISTING: "after the ledger's front"})
        result = _tick(sensor, instance)
        assert isinstance(result, dg.SensorResult)
        (request,) = result.run_requests
        assert MEMBER in request.asset_selection
        config = request.run_config["ops"]["silver_change_tables"]["config"]
        assert config == {"incremental": True, "paths": []}
        # Once per run that left files: the same request is not made again and again.
        (again,) = _tick(sensor, instance).run_requests
        assert again.run_key == request.run_key

        _left(instance, {FILES_LEFT_PENDING: 2, LISTING: "full"})
        (request,) = _tick(sensor, instance).run_requests
        assert request.run_config == reconcile_run_config()

        _left(
            instance,
            {
                FILES_LEFT_PENDING: 1,
                LISTING: "after the ledger's front",
                FILES_LEFT_BEHIND_FRONT: 1,
            },
        )
        (request,) = _tick(sensor, instance).run_requests
        assert request.run_config == reconcile_run_config()

        _left(instance, {FILES_LEFT_PENDING: 0, LISTING: "after the ledger's front"})
        assert isinstance(_tick(sensor, instance), dg.SkipReason)
