"""OpenLineage run events from a step: file transport by default, HTTP when configured."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import dagster as dg
import pytest

from claims_platform.governance.openlineage import local_events_path, read_events
from claims_platform.orchestration.governance.openlineage import emits_openlineage

SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("member_id", "string", description="Member identifier.", tags={"phi": "P"}),
        dg.TableColumn("zip5", "string", description="ZIP code."),
    ]
)


def _assets(fail: bool = False) -> list[dg.AssetsDefinition]:
    @dg.multi_asset(
        name="tiny_step",
        specs=[
            dg.AssetSpec(
                ["silver", "tiny"],
                deps=[["bronze", "member"]],
                metadata={"dagster/column_schema": SCHEMA},
            )
        ],
    )
    @emits_openlineage
    def tiny_step(context: dg.AssetExecutionContext):
        if fail:
            raise ValueError(
                "value 'Quackenbush' is not a date"
            )  # text a lineage event must not carry
        yield dg.MaterializeResult(
            asset_key=dg.AssetKey(["silver", "tiny"]), metadata={"dagster/row_count": 3}
        )

    return [tiny_step]


@pytest.fixture
def no_openlineage_config(platform_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import os

    for var in [v for v in os.environ if v.startswith("OPENLINEAGE")]:
        monkeypatch.delenv(var)
    monkeypatch.chdir(platform_env.parent)
    return platform_env


def test_start_and_complete_go_to_the_local_file_with_schema_and_row_count(no_openlineage_config):
    result = dg.materialize(_assets())
    assert result.success
    events = read_events(local_events_path(no_openlineage_config))
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    start, done = events
    assert start["run"]["runId"] == done["run"]["runId"] != result.run_id
    assert done["run"]["facets"]["parent"]["run"]["runId"] == result.run_id
    assert done["job"] == {**done["job"], "namespace": "claims_platform", "name": "tiny_step"}
    (out,) = done["outputs"]
    assert (out["namespace"], out["name"]) == ("claims_platform", "silver/tiny")
    fields = out["facets"]["schema"]["fields"]
    assert [(f["name"], f.get("description")) for f in fields] == [
        ("member_id", "Member identifier."),
        ("zip5", "ZIP code."),
    ]
    assert out["outputFacets"]["outputStatistics"]["rowCount"] == 3
    (inp,) = done["inputs"]
    assert inp["name"] == "bronze/member"
    # The bronze input's schema comes from the MEMBER contract (source column names).
    assert "SSN" in {f["name"] for f in inp["facets"]["schema"]["fields"]}


def test_a_failing_step_emits_fail_without_the_error_text(no_openlineage_config):
    result = dg.materialize(_assets(fail=True), raise_on_error=False)
    assert not result.success
    events = read_events(local_events_path(no_openlineage_config))
    assert [e["eventType"] for e in events] == ["START", "FAIL"]
    message = events[1]["run"]["facets"]["errorMessage"]["message"]
    assert "ValueError" in message and "Quackenbush" not in json.dumps(events)


class _Capture(BaseHTTPRequestHandler):
    bodies: ClassVar[list[tuple[str, dict]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).bodies.append((self.path, json.loads(body)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_http_transport_posts_to_a_marquez_compatible_endpoint(
    no_openlineage_config, monkeypatch: pytest.MonkeyPatch
):
    _Capture.bodies = []
    server = HTTPServer(("127.0.0.1", 0), _Capture)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("OPENLINEAGE_URL", f"http://127.0.0.1:{server.server_port}")
        assert dg.materialize(_assets()).success
    finally:
        server.shutdown()
        server.server_close()
    assert [path for path, _ in _Capture.bodies] == ["/api/v1/lineage"] * 2
    assert [body["eventType"] for _, body in _Capture.bodies] == ["START", "COMPLETE"]
    assert _Capture.bodies[1][1]["outputs"][0]["name"] == "silver/tiny"
    assert not local_events_path(no_openlineage_config).exists()


def test_an_unreachable_endpoint_costs_a_warning_not_the_step(
    no_openlineage_config, monkeypatch: pytest.MonkeyPatch
):
    server = HTTPServer(("127.0.0.1", 0), _Capture)
    port = server.server_port
    server.server_close()  # nothing listens there any more
    # The client's own configuration convention, here without retries to keep the test short.
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__TYPE", "http")
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("OPENLINEAGE__TRANSPORT__RETRY", '{"total": 0}')
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(_assets(), instance=instance)
        assert result.success
        messages = [e.user_message for e in instance.all_logs(result.run_id)]
    assert "OpenLineage START event for tiny_step not emitted: ConnectionError" in messages
