"""A real failed run reaches a webhook on 127.0.0.1 as job, link, steps and error types only."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import dagster as dg
import pytest

from claims_platform.orchestration.ops.alerts import (
    AlertDeliveryError,
    build_alert,
    post_webhook,
    run_failure_alert,
)
from claims_platform_tests.support.instance import project_instance

SECRET_VALUE = "123-45-6789"


class _Webhook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []
    status: ClassVar[int] = 200
    url: ClassVar[str] = ""

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(
            {"body": json.loads(body), "content_type": self.headers["Content-Type"]}
        )
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook() -> Iterator[type[_Webhook]]:
    handler = type("Webhook", (_Webhook,), {"received": [], "status": 200})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/alert"
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()


@dg.asset
def upstream_ok() -> int:
    return 1


@dg.asset
def member_loader(upstream_ok: int) -> None:
    # The kind of message that must never reach a chat channel.
    raise ValueError(f"row 7: SSN {SECRET_VALUE} fails rule ssn_format")


def _failed_run_context(instance: dg.DagsterInstance) -> dg.RunFailureSensorContext:
    result = dg.materialize([upstream_ok, member_loader], instance=instance, raise_on_error=False)
    assert not result.success
    failure = result.get_run_failure_event()
    return dg.build_run_status_sensor_context(
        sensor_name=run_failure_alert.name,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=failure,
    ).for_run_failure()


def test_failed_run_alert_posts_job_link_steps_and_error_type_only(webhook, monkeypatch):
    monkeypatch.setenv("CLAIMS_ALERT_WEBHOOK_URL", webhook.url)
    monkeypatch.setenv("CLAIMS_DAGSTER_UI_URL", "https://claims.example.test/")
    monkeypatch.delenv("DAGSTER_CLOUD_DEPLOYMENT_NAME", raising=False)
    monkeypatch.delenv("DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT", raising=False)
    monkeypatch.setenv("CLAIMS_ENV", "local")
    with project_instance() as instance:
        context = _failed_run_context(instance)
        run_id, job_name = context.dagster_run.run_id, context.dagster_run.job_name
        assert run_failure_alert(context) is None

    assert len(webhook.received) == 1
    message = webhook.received[0]
    assert message["content_type"] == "application/json"
    assert set(message["body"]) == {"text"}
    text = message["body"]["text"]
    assert f"https://claims.example.test/runs/{run_id}" in text
    assert f"job `{job_name}`" in text
    assert "member_loader" in text
    assert "upstream_ok" not in text  # it succeeded
    assert "ValueError" in text
    # No error text: no value, no rule message.
    assert SECRET_VALUE not in text
    assert "ssn_format" not in text and "row 7" not in text


def test_alert_link_uses_the_dagster_plus_deployment(monkeypatch):
    monkeypatch.delenv("CLAIMS_ALERT_WEBHOOK_URL", raising=False)
    monkeypatch.setenv("CLAIMS_DAGSTER_UI_URL", "https://acme.dagster.cloud")
    monkeypatch.setenv("DAGSTER_CLOUD_DEPLOYMENT_NAME", "prod")
    monkeypatch.delenv("DAGSTER_CLOUD_IS_BRANCH_DEPLOYMENT", raising=False)
    with project_instance() as instance:
        context = _failed_run_context(instance)
        alert = build_alert(context)
        # Unset webhook: the sensor is a no-op.
        assert isinstance(run_failure_alert(context), dg.SkipReason)
    assert alert.run_url == f"https://acme.dagster.cloud/prod/runs/{alert.run_id}"
    assert alert.failed_steps == ("member_loader",)
    assert "prod" in alert.deployment


def test_delivery_failure_names_the_status_not_the_url(webhook):
    webhook.status = 403
    with pytest.raises(AlertDeliveryError) as err:
        post_webhook(webhook.url, {"text": "x"}, attempts=3)
    assert "403" in str(err.value)
    assert "127.0.0.1" not in str(err.value) and "hooks" not in str(err.value)
    assert len(webhook.received) == 1  # a 4xx is not retried
    with pytest.raises(AlertDeliveryError, match="http"):
        post_webhook("file:///etc/passwd", {"text": "x"})
