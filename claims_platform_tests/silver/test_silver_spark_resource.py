"""The local silver step takes its Spark session from dagster-pyspark's resource, built with the
Glue-5-like settings of `silver.spark.silver_spark_conf` when a run starts."""

from __future__ import annotations

import uuid

import dagster as dg
import pytest
from dagster_pyspark import LazyPySparkResource

from claims_platform.contracts import load_contracts
from claims_platform.orchestration.resources import (
    EnvironmentSilverRunner,
    PlatformResource,
    silver_pyspark,
)
from claims_platform.orchestration.silver.assets import REJECTS_KEY, build_silver_assets, silver_key
from claims_platform.silver.spark import silver_spark_conf
from claims_platform.simulator.dms_writer import DmsRow, write_dms_file
from claims_platform_tests.silver.batch_files import _member as member_values
from claims_platform_tests.silver.batch_files import land_small_batch
from claims_platform_tests.support.instance import project_instance

MEMBER = silver_key("member")
# A setting no other code path sets: a session carrying it was configured by this resource.
MARK = "spark.claims.test.session_from"


def test_the_definitions_wire_the_pyspark_resource_and_read_its_settings_per_run(monkeypatch):
    from claims_platform.definitions import defs

    assert defs.resources["silver_runner"].pyspark is defs.resources["pyspark"]
    # Set after the definitions loaded: the resource still follows it, so nothing was read then.
    monkeypatch.setenv("CLAIMS_SPARK_MASTER", "local[1]")
    monkeypatch.setenv("CLAIMS_SPARK_DRIVER_MEMORY", "1g")
    with dg.build_resources({"pyspark": defs.resources["pyspark"]}) as resources:
        pyspark = resources.pyspark
    assert isinstance(pyspark, LazyPySparkResource)
    assert pyspark.spark_config == silver_spark_conf()
    assert pyspark.spark_config["spark.master"] == "local[1]"
    assert pyspark.spark_config["spark.driver.memory"] == "1g"


@pytest.mark.slow
def test_the_local_silver_step_runs_on_the_session_of_the_pyspark_resource(platform_env):
    from pyspark.sql import SparkSession

    land_small_batch(platform_env / "landing")
    marker = uuid.uuid4().hex

    @dg.resource
    def marked_pyspark(_: dg.InitResourceContext) -> LazyPySparkResource:
        return LazyPySparkResource(spark_config={**silver_pyspark().spark_config, MARK: marker})

    def run_silver(instance: dg.DagsterInstance) -> dict[dg.AssetKey, dict]:
        result = dg.materialize(
            [build_silver_assets()],
            selection=[MEMBER, REJECTS_KEY],
            resources={
                "platform": PlatformResource(),
                "pyspark": marked_pyspark,
                "silver_runner": EnvironmentSilverRunner(pyspark=marked_pyspark),
            },
            instance=instance,
        )
        assert result.success
        return {
            m.asset_key: {k: v.value for k, v in m.metadata.items()}
            for m in (e.materialization for e in result.get_asset_materialization_events())
        }

    with project_instance() as instance:
        meta = run_silver(instance)
        # A later batch in the same process: a new resource per step, the same warm session.
        write_dms_file(
            platform_env / "landing" / "CLAIMS/MEMBER/20240103-090000000.csv",
            load_contracts()["MEMBER"],
            [DmsRow("U", "2024-01-03 09:00:00.000000", None, member_values("M1", "1980-01-01"))],
            include_change_seq=False,
        )
        later = run_silver(instance)

    # The process has one Spark session (getOrCreate): the one the batch ran on.
    session = SparkSession.builder.getOrCreate()
    assert meta[MEMBER]["engine"] == "spark"
    assert meta[MEMBER]["spark_app_id"] == session.sparkContext.applicationId
    assert meta[MEMBER]["spark_version"] == session.version
    assert session.conf.get(MARK, None) == marker
    settings = silver_spark_conf()
    assert meta[MEMBER]["spark_master"] == session.sparkContext.master == settings["spark.master"]
    for key in (
        "spark.sql.session.timeZone",
        "spark.sql.shuffle.partitions",
        "spark.sql.parquet.compression.codec",
    ):
        assert session.conf.get(key) == settings[key], key
    # The batch really ran and was committed: one good row, one reject.
    assert meta[MEMBER]["rows_added"] == 1
    assert meta[REJECTS_KEY]["rows_added"] == 1
    assert later[MEMBER]["rows_added"] == 1
    assert later[MEMBER]["spark_app_id"] == meta[MEMBER]["spark_app_id"]
