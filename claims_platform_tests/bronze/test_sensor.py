import dagster as dg

from claims_platform.definitions import defs


def _write(root, rel, text="x"):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_sensor_requests_bronze_and_silver_for_tables_with_new_files(platform_env):
    landing = platform_env / "landing"
    _write(landing, "CLAIMS/MEMBER/LOAD00000001.csv")
    _write(landing, "CLAIMS/CLAIM/2024/01/02/20240102-100000000.csv.gz")
    _write(landing, "CLAIMS/UNKNOWN_TABLE/20240102-100000000.csv")
    sensor = defs.resolve_sensor_def("landing_zone_sensor")
    with dg.instance_for_test() as instance:
        ctx = dg.build_sensor_context(instance=instance, resources=defs.resources)
        result = sensor(ctx)
        assert isinstance(result, dg.SensorResult)
        (request,) = result.run_requests
        keys = {k.to_user_string() for k in request.asset_selection}
        assert {"bronze/member", "silver/member", "bronze/claim", "silver/claim"} <= keys
        assert {"silver/claim_diagnosis", "silver/rejects"} <= keys
        assert "bronze/enrollment" not in keys and "silver/enrollment" not in keys
        # Gold follows in the same run, so the batch ends with gold up to date.
        assert {"gold/fct_claim", "gold/mart_pmpm", "gold/dim_member"} <= keys

        # Restarted sensor, same landing: nothing new, nothing requested twice.
        ctx2 = dg.build_sensor_context(
            instance=instance, resources=defs.resources, cursor=result.cursor
        )
        again = sensor(ctx2)
        assert isinstance(again, dg.SkipReason)

        _write(landing, "CLAIMS/MEMBER/20240102-100000001.csv")
        ctx3 = dg.build_sensor_context(
            instance=instance, resources=defs.resources, cursor=result.cursor
        )
        third = sensor(ctx3)
        (req3,) = third.run_requests
        assert {k.to_user_string() for k in req3.asset_selection} >= {"silver/member"}
        assert req3.run_key != request.run_key


def test_sensor_waits_while_a_landing_batch_is_still_running(platform_env):
    _write(platform_env / "landing", "CLAIMS/MEMBER/LOAD00000001.csv")
    sensor = defs.resolve_sensor_def("landing_zone_sensor")
    with dg.instance_for_test() as instance:
        instance.add_run(
            dg.DagsterRun(
                job_name="__ASSET_JOB",
                run_id="0" * 36,
                status=dg.DagsterRunStatus.STARTED,
                tags={"claims/trigger": "landing_zone_sensor"},
            )
        )
        ctx = dg.build_sensor_context(instance=instance, resources=defs.resources)
        skipped = sensor(ctx)
        assert isinstance(skipped, dg.SkipReason)
        assert "still loading" in skipped.skip_message
        # The cursor did not move: the file is requested once the batch is done.
        instance.report_run_canceled(instance.get_run_by_id("0" * 36))
        ctx2 = dg.build_sensor_context(instance=instance, resources=defs.resources)
        assert len(sensor(ctx2).run_requests) == 1
