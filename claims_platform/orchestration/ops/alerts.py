"""Run-failure alerts to a Slack-compatible webhook (`{"text": ...}`).

An alert names the job, the run (with a link), the failed step keys and the error *classes*. It
never carries an error message, a stack trace, config, tags or metadata: a message can quote the
value that broke a rule (an SSN, a member's name in a rejected row, a literal in a Snowflake SQL
error), and a chat channel is not a place PHI may go. Step keys and class names are code
identifiers, so they are safe; the full error stays in the run's logs behind Dagster's access
control, one click away.

Settings, read when the sensor evaluates (never at import):
- `CLAIMS_ALERT_WEBHOOK_URL`: the webhook; unset means alerts are off (the sensor skips).
- `CLAIMS_DAGSTER_UI_URL`: the UI base for run links (e.g. `http://127.0.0.1:3000`, or
  `https://<org>.dagster.cloud`, to which Dagster+'s deployment name is appended). Falls back to
  `DAGSTER_CLOUD_URL`; with neither, the alert names the run id only.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING

import dagster as dg

from claims_platform.environment import get_env

if TYPE_CHECKING:
    from dagster_shared.error import SerializableErrorInfo

WEBHOOK_URL_ENV = "CLAIMS_ALERT_WEBHOOK_URL"
UI_URL_ENV = "CLAIMS_DAGSTER_UI_URL"
_MAX_STEPS_LISTED = 20


class AlertDeliveryError(RuntimeError):
    """The webhook did not accept the alert. The message never contains the URL (it is a secret)."""


@dataclass(frozen=True)
class RunFailureAlert:
    job_name: str
    run_id: str
    run_url: str | None
    deployment: str
    failed_steps: tuple[str, ...]
    error_classes: tuple[str, ...]
    failure_reason: str | None = None

    def text(self) -> str:
        steps = list(self.failed_steps[:_MAX_STEPS_LISTED])
        if len(self.failed_steps) > _MAX_STEPS_LISTED:
            steps.append(f"… {len(self.failed_steps) - _MAX_STEPS_LISTED} more")
        lines = [
            f":red_circle: Dagster run failed: job `{self.job_name}` ({self.deployment})",
            f"Run: {self.run_url or self.run_id}",
            f"Failed steps: {', '.join(steps) or 'none (the run failed outside a step)'}",
            f"Error types: {', '.join(self.error_classes) or 'unknown'}",
        ]
        if self.failure_reason:
            lines.append(f"Reason: {self.failure_reason}")
        lines.append("Details are in the run's logs (alerts carry no error text).")
        return "\n".join(lines)

    def payload(self) -> dict[str, str]:
        return {"text": self.text()}


def ui_base_url() -> str | None:
    base = (os.environ.get(UI_URL_ENV) or os.environ.get("DAGSTER_CLOUD_URL") or "").strip()
    if not base:
        return None
    base = base.rstrip("/")
    deployment = os.environ.get("DAGSTER_CLOUD_DEPLOYMENT_NAME", "").strip()
    # Dagster+ serves each deployment (prod, a branch) under its own path of the org URL.
    if deployment and not base.endswith(f"/{deployment}"):
        base = f"{base}/{deployment}"
    return base


def _deployment_label() -> str:
    name = os.environ.get("DAGSTER_CLOUD_DEPLOYMENT_NAME", "").strip()
    return f"{get_env()} deployment {name}" if name else f"{get_env()} deployment"


def _error_classes(error: SerializableErrorInfo | None) -> list[str]:
    """Class names along an error's cause chain, outermost first (never the messages)."""
    names: list[str] = []
    while error is not None:
        if error.cls_name and error.cls_name not in names:
            names.append(error.cls_name)
        error = error.cause
    return names


def build_alert(context: dg.RunFailureSensorContext) -> RunFailureAlert:
    run = context.dagster_run
    steps: list[str] = []
    classes: list[str] = []
    for event in context.get_step_failure_events():
        if event.step_key and event.step_key not in steps:
            steps.append(event.step_key)
        for name in _error_classes(event.step_failure_data.error):
            if name not in classes:
                classes.append(name)
    data = context.failure_event.event_specific_data
    reason = getattr(getattr(data, "failure_reason", None), "value", None)
    run_error = getattr(data, "error", None)
    if run_error is not None and not classes:
        classes.extend(_error_classes(run_error))
    base = ui_base_url()
    return RunFailureAlert(
        job_name=run.job_name,
        run_id=run.run_id,
        run_url=f"{base}/runs/{run.run_id}" if base else None,
        deployment=_deployment_label(),
        failed_steps=tuple(steps),
        error_classes=tuple(classes),
        failure_reason=reason,
    )


def post_webhook(
    url: str, payload: dict[str, str], *, timeout: float = 10.0, attempts: int = 3
) -> int:
    """POST JSON to the webhook; returns the HTTP status or raises AlertDeliveryError.

    Retries a few times on connection errors, 429 and 5xx: Dagster records a sensor error on the
    tick and moves the run-status cursor on, so a failed delivery would not be tried again.
    """
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("https", "http"):
        raise AlertDeliveryError(f"{WEBHOOK_URL_ENV} must be an http(s) URL, not {scheme!r}")
    body = json.dumps(payload).encode("utf-8")
    problem = "no attempt made"
    for attempt in range(attempts):
        if attempt:
            time.sleep(2 ** (attempt - 1))
        request = urllib.request.Request(
            url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            problem = f"the alert webhook answered HTTP {exc.code}"
            if exc.code != 429 and exc.code < 500:
                break
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            problem = f"the alert webhook could not be reached ({type(reason).__name__})"
    # Raised outside the except blocks: no chained urllib error, whose text names the URL (a secret).
    raise AlertDeliveryError(problem)


@dg.run_failure_sensor(
    name="run_failure_alert",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    # The actuarial code location's runs page too: it has no failure sensor of its own.
    monitor_all_code_locations=True,
    description="Posts a Slack-compatible message (job, run link, failed steps, error types; no "
    "error text) to CLAIMS_ALERT_WEBHOOK_URL when a run of any code location fails. Skips when "
    "the URL is unset.",
)
def run_failure_alert(context: dg.RunFailureSensorContext):
    url = os.environ.get(WEBHOOK_URL_ENV, "").strip()
    if not url:
        return dg.SkipReason(f"{WEBHOOK_URL_ENV} is not set: failure alerts are off")
    alert = build_alert(context)
    post_webhook(url, alert.payload())
    context.log.info(f"failure alert sent for run {alert.run_id}")
    # None (not a SkipReason): the sensor then goes on to the next failed run in the same tick.
    return None
