import datetime as dt
import os

import dagster as dg

from claims_platform.orchestration.bronze import sensor as landing_sensor
from claims_platform.orchestration.bronze.sensor import (
    AUTO_RETRY_RUN_ID_TAG,
    WILL_RETRY_TAG,
    gold_selection,
)
from claims_platform.orchestration.definitions import (
    defs,
    gold_dbt_models,
    gold_reads,
    silver_keys_by_table,
)
from claims_platform.orchestration.resources import AFTER_THE_BATCH_TAG
from claims_platform_tests.support.instance import project_instance


def _write(root, rel, text="x"):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def tick(sensor: dg.SensorDefinition, instance: dg.DagsterInstance, cursor: str | None = None):
    """One evaluation, with the definitions' resources open as the daemon opens them."""
    with dg.build_sensor_context(instance=instance, resources=defs.resources, cursor=cursor) as ctx:
        return sensor(ctx)


def test_sensor_requests_bronze_and_silver_for_tables_with_new_files(platform_env):
    landing = platform_env / "landing"
    _write(landing, "CLAIMS/MEMBER/LOAD00000001.csv")
    _write(landing, "CLAIMS/CLAIM/2024/01/02/20240102-100000000.csv.gz")
    _write(landing, "CLAIMS/UNKNOWN_TABLE/20240102-100000000.csv")
    sensor = defs.resolve_sensor_def("landing_zone_sensor")
    with project_instance() as instance:
        result = tick(sensor, instance)
        assert isinstance(result, dg.SensorResult)
        (request,) = result.run_requests
        keys = {k.to_user_string() for k in request.asset_selection}
        assert {"bronze/member", "silver/member", "bronze/claim", "silver/claim"} <= keys
        assert {"silver/claim_diagnosis", "silver/rejects"} <= keys
        assert "bronze/enrollment" not in keys and "silver/enrollment" not in keys
        # Gold follows in the same run, so the batch ends with gold up to date: on a new
        # instance every model (none is built yet); later only the gold reading the batch's
        # tables (test_a_batch_selects_the_gold_that_reads_its_tables).
        assert {k.to_user_string() for k in gold_dbt_models.keys} <= keys

        # Restarted sensor, same landing: nothing new, nothing requested twice.
        again = tick(sensor, instance, result.cursor)
        assert isinstance(again, dg.SkipReason)

        _write(landing, "CLAIMS/MEMBER/20240102-100000001.csv")
        third = tick(sensor, instance, result.cursor)
        (req3,) = third.run_requests
        assert {k.to_user_string() for k in req3.asset_selection} >= {"silver/member"}
        assert req3.run_key != request.run_key


def test_a_file_rewritten_in_place_is_requested_again_under_a_new_run_key(platform_env):
    """Dagster drops a run request whose run key it has seen: the key names the delivery."""
    path = platform_env / "landing" / "CLAIMS" / "PLAN" / "LOAD00000001.csv"
    _write(platform_env / "landing", "CLAIMS/PLAN/LOAD00000001.csv", "first load")
    sensor = defs.resolve_sensor_def("landing_zone_sensor")
    with project_instance() as instance:
        first = tick(sensor, instance)
        (request,) = first.run_requests
        path.write_text("a reload of the table")
        later = path.stat().st_mtime + 60
        os.utime(path, (later, later))
        second = tick(sensor, instance, first.cursor)
        (again,) = second.run_requests
        assert again.run_key != request.run_key
        assert "silver/plan" in {k.to_user_string() for k in again.asset_selection}


def _landing_run(
    instance: dg.DagsterInstance,
    run_id: str,
    status: dg.DagsterRunStatus = dg.DagsterRunStatus.STARTED,
    tags: dict[str, str] | None = None,
) -> None:
    """A run of the landing sensor's, as the instance records it."""
    instance.add_run(
        dg.DagsterRun(
            job_name="__ASSET_JOB",
            run_id=run_id,
            status=status,
            tags={"claims/trigger": "landing_zone_sensor", **(tags or {})},
        )
    )


def test_sensor_waits_while_a_landing_batch_is_still_running(platform_env):
    _write(platform_env / "landing", "CLAIMS/MEMBER/LOAD00000001.csv")
    sensor = defs.resolve_sensor_def("landing_zone_sensor")
    with project_instance() as instance:
        _landing_run(instance, "0" * 36)
        skipped = tick(sensor, instance)
        assert isinstance(skipped, dg.SkipReason)
        assert "still loading" in skipped.skip_message
        # The cursor did not move: the file is requested once the batch is done.
        instance.report_run_canceled(instance.get_run_by_id("0" * 36))
        assert len(tick(sensor, instance).run_requests) == 1


def test_a_batch_dagster_will_retry_is_not_overtaken_by_a_new_one(platform_env):
    """A killed batch's retry loads the files landed since; a new batch requested before the retry
    exists would queue ahead of it (test_recovery_dagster_dev shows the whole story)."""
    _write(platform_env / "landing", "CLAIMS/MEMBER/LOAD00000001.csv")
    sensor = defs.resolve_sensor_def("landing_zone_sensor")
    with project_instance() as instance:
        _landing_run(instance, "1" * 36)
        _landing_run(instance, "2" * 36, tags={"dagster/max_retries": "0"})
        # A failed run Dagster will not retry does not hold the sensor back.
        instance.report_run_failed(instance.get_run_by_id("2" * 36))
        # A run whose worker died, as run monitoring reports it: the project's instance (run
        # retries in dagster.yaml) marks it for a retry.
        instance.report_run_failed(instance.get_run_by_id("1" * 36), "run worker not found")
        assert instance.get_run_by_id("1" * 36).tags.get(WILL_RETRY_TAG) == "true"
        assert instance.get_run_by_id("2" * 36).tags.get(WILL_RETRY_TAG) == "false"
        skipped = tick(sensor, instance)
        assert isinstance(skipped, dg.SkipReason)
        assert f"run {'1' * 36} failed and Dagster is about to retry it" == skipped.skip_message
        # The retry exists (not yet queued, with its parent's tags, as Dagster's daemon creates
        # it): the sensor waits for it as for any batch, then requests the files it has not taken.
        _landing_run(instance, "3" * 36, dg.DagsterRunStatus.NOT_STARTED)
        instance.add_run_tags("1" * 36, {AUTO_RETRY_RUN_ID_TAG: "3" * 36})
        assert "still loading" in tick(sensor, instance).skip_message
        instance.report_run_canceled(instance.get_run_by_id("3" * 36))
        assert len(tick(sensor, instance).run_requests) == 1


def test_a_failed_batch_whose_retry_never_comes_stops_the_sensor_for_two_minutes_at_most(
    platform_env, monkeypatch
):
    _write(platform_env / "landing", "CLAIMS/MEMBER/LOAD00000001.csv")
    sensor = defs.resolve_sensor_def("landing_zone_sensor")
    with project_instance() as instance:
        _landing_run(instance, "1" * 36)
        instance.report_run_failed(instance.get_run_by_id("1" * 36))
        assert isinstance(tick(sensor, instance), dg.SkipReason)
        # No daemon here, so no retry: past RETRY_WAIT the failed run no longer holds batches.
        monkeypatch.setattr(landing_sensor, "RETRY_WAIT", dt.timedelta(seconds=0))
        assert len(tick(sensor, instance).run_requests) == 1


def _gold_for(*tables: str, instance: dg.DagsterInstance | None = None) -> set[str]:
    changed = {k for t in tables for k in silver_keys_by_table[t]}
    return {k.to_user_string() for k in gold_selection(gold_reads, changed, instance)}


def test_a_batch_selects_the_gold_that_reads_its_tables():
    every_gold = {k.to_user_string() for k in gold_dbt_models.keys}
    seeds = {k.to_user_string() for k, reads in gold_reads.items() if not reads}
    assert seeds == {"gold/service_category_rules"}
    # A model no table's batch selects would never be rebuilt by the sensor; a seed reads no
    # silver and is rebuilt when new or changed (next test).
    assert set().union(*(_gold_for(t) for t in silver_keys_by_table)) == every_gold - seeds
    plan = _gold_for("PLAN")
    assert {"gold/dim_plan", "gold/fct_member_month", "gold/mart_pmpm"} <= plan
    assert not plan & {"gold/dim_member", "gold/fct_claim", "gold/fct_claim_line"}
    claim_line = _gold_for("CLAIM_LINE")
    assert {"gold/fct_claim_line", "gold/fct_claim_line_adjustment", "gold/mart_claim_lag"} <= (
        claim_line
    )
    assert not claim_line & {"gold/dim_member", "gold/dim_plan", "gold/fct_claim"}


def test_gold_left_behind_its_silver_is_selected_by_the_next_batch_whatever_its_tables():
    def built(*keys: dg.AssetKey) -> None:
        for key in keys:
            instance.report_runless_asset_event(dg.AssetMaterialization(key))

    silver = {k for keys in gold_reads.values() for k in keys}
    with project_instance() as instance:
        # Nothing built yet: the first batch builds every model, whatever it touches.
        assert _gold_for("PLAN", instance=instance) == {
            k.to_user_string() for k in gold_dbt_models.keys
        }
        built(*silver, *gold_dbt_models.keys)
        assert _gold_for("CLAIM_LINE", instance=instance) == _gold_for("CLAIM_LINE")
        # A member batch whose gold step failed: silver/member is newer than dim_member.
        built(dg.AssetKey(["silver", "member"]))
        behind = _gold_for("CLAIM_LINE", instance=instance) - _gold_for("CLAIM_LINE")
        assert behind == {
            "gold/dim_member",
            "gold/analyst_dim_member",
            "gold/staging/stg_silver__member",
            # member tokens are minted for the members of dim_member
            "gold/intermediate/int_member_tokens_assigned",
        }
        built(*(dg.AssetKey.from_user_string(k) for k in behind))
        assert _gold_for("CLAIM_LINE", instance=instance) == _gold_for("CLAIM_LINE")


def test_a_seed_is_built_when_new_and_again_when_its_file_changes():
    seed = dg.AssetKey(["gold", "service_category_rules"])
    versions = gold_dbt_models.code_versions_by_key
    assert versions[seed]
    changed = {k for k in silver_keys_by_table["CLAIM_LINE"]}
    with project_instance() as instance:
        assert seed in gold_selection(gold_reads, changed, instance, versions)
        instance.report_runless_asset_event(
            dg.AssetMaterialization(seed, tags={"dagster/code_version": versions[seed]})
        )
        assert seed not in gold_selection(gold_reads, changed, instance, versions)
        edited = {**versions, seed: "another checksum"}
        assert seed in gold_selection(gold_reads, changed, instance, edited)


def test_a_batch_runs_the_checks_gold_waits_for_and_automation_runs_the_rest(platform_env):
    """Gold waits for the blocking checks only: the landing run takes them (and the dbt tests,
    and the silver job's own check), never a warn-severity check; once silver has changed, the
    automation sensor requests the warn checks in a run of their own."""
    _write(platform_env / "landing", "CLAIMS/CLAIM/2024/01/02/20240102-100000000.csv")
    sensor = defs.resolve_sensor_def("landing_zone_sensor")
    with project_instance() as instance:
        batch = tick(sensor, instance)
        (request,) = batch.run_requests
        in_batch = {(k.asset_key.to_user_string(), k.name) for k in request.asset_check_keys}
        assert {
            ("silver/claim", "change_keys"),
            ("silver/claim", "change_order"),
            ("silver/claim", "ledger_reconciles"),
            ("silver/claim", "no_quarantined_files"),
        } <= in_batch
        assert ("gold/fct_claim", "unique_fct_claim_claim_id") in in_batch
        warn = {"contract_types", "contract_values", "payer_rules", "quarantined_files"}
        warn |= {"rejects_by_rule", "reconciles_with_silver", "lag_behind_landing"}
        warn |= {"processed_files_unchanged"}
        assert not {name for _, name in in_batch} & warn
        assert {k.asset_key for k in request.asset_check_keys} <= set(request.asset_selection)

        before = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        instance.report_runless_asset_event(
            dg.AssetMaterialization(silver_keys_by_table["CLAIM"][0])
        )
        automation = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=before.cursor
        )
        requested = {
            (r.key.asset_key.to_user_string(), r.key.name)
            for r in automation.results
            if isinstance(r.key, dg.AssetCheckKey) and r.true_subset.size
        }
        assert ("silver/claim", "contract_types") in requested
        assert ("silver/claim", "payer_rules") in requested
        assert not {name for _, name in requested} & {"change_keys", "change_order"}

        # dbt's warning tests too: none in the batch; due once their model has changed, for the
        # sensor of their own (the dbt step takes the writer slot), never for gold_automation.
        dbt_warn = {
            k
            for k in gold_dbt_models.check_keys
            if not gold_dbt_models.get_spec_for_check_key(k).blocking
        }
        assert dbt_warn and not dbt_warn & set(request.asset_check_keys)
        fct_claim = dg.AssetKey(["gold", "fct_claim"])
        instance.report_runless_asset_event(dg.AssetMaterialization(fct_claim))
        after_gold = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=automation.cursor
        )
        due = {r.key for r in after_gold.results if r.key in dbt_warn and r.true_subset.size}
        on_fct_claim = {k for k in dbt_warn if k.asset_key == fct_claim}
        assert on_fct_claim and on_fct_claim <= due
        # and the relationships tests that read it (their model's other parent)
        assert all(k.asset_key == fct_claim or k.name.endswith("ref_fct_claim_") for k in due)
        graph = defs.resolve_asset_graph()
        for name, targets_them in (("dbt_warn_check_automation", True), ("gold_automation", False)):
            automation = defs.resolve_sensor_def(name)
            target = automation.asset_selection.resolve_checks(graph)
            assert (dbt_warn <= target) if targets_them else not (dbt_warn & target), name
            # Their runs go one at a time under the project's dagster.yaml: a batch never
            # queues behind two of them.
            tags = automation.run_tags
            assert {"key": AFTER_THE_BATCH_TAG, "limit": 1} in (
                instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
            )
            assert tags[AFTER_THE_BATCH_TAG] == "true"
            # and a landing batch's run, which has neither tag, goes first in the queue
            assert int(tags["dagster/priority"]) < 0
            assert not {AFTER_THE_BATCH_TAG, "dagster/priority"} & set(request.tags)


def test_the_sensor_ticks_every_two_seconds_locally_and_every_five_on_s3(monkeypatch):
    from claims_platform.orchestration.bronze.sensor import build_landing_sensor

    intervals = {}
    for env in ("local", "branch", "prod"):
        monkeypatch.setenv("CLAIMS_ENV", env)
        sensor = build_landing_sensor(silver_keys_by_table, gold_reads)
        intervals[env] = sensor.minimum_interval_seconds
    assert intervals == {"local": 2, "branch": 5, "prod": 5}
    assert defs.get_sensor_def("landing_zone_sensor").minimum_interval_seconds == 2
