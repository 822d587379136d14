"""The retry policy of every step that reaches S3, Glue or Snowflake, and what stops a retry."""

import functools
from collections.abc import Callable, Iterator
from typing import Any

import dagster as dg

# Throttling, a dropped connection or a Glue capacity error clears within seconds to minutes:
# wait 10 s, 20 s, 40 s (each ±jitter, so steps that failed together do not retry together).
# Steps are idempotent (CONTRACT: exactly once), so a retry can never duplicate data. Run-level
# retries (dagster.yaml / Dagster+ deployment settings) cover a crashed run worker instead.
EXTERNAL_IO_RETRY_POLICY = dg.RetryPolicy(
    max_retries=3,
    delay=10,
    backoff=dg.Backoff.EXPONENTIAL,
    jitter=dg.Jitter.PLUS_MINUS,
)


def stops_when_interrupted(fn: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
    """Wrap a generator step with a retry policy: an interrupt ends the step, failed, unretried.

    Dagster re-runs a step with a RetryPolicy when it is interrupted (SIGINT, SIGTERM, a
    termination from the UI), after the policy's delay: a headless run sent SIGTERM while it
    waited for the warehouse went on waiting, and a terminated run retried its batch. Whoever
    stops a run means it; the work is not lost: the next run finds it pending (exactly once does
    not rest on this step finishing)."""

    @functools.wraps(fn)
    def step(*args: Any, **kwargs: Any) -> Iterator[Any]:
        try:
            yield from fn(*args, **kwargs)
        except (KeyboardInterrupt, dg.DagsterExecutionInterruptedError):
            raise dg.Failure(
                description="Stopped by an interrupt (SIGINT, SIGTERM or a termination "
                "request); not retried. Nothing it did not commit is kept: the next run "
                "picks the pending work up.",
                allow_retries=False,
            ) from None

    return step
