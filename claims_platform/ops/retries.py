"""The retry policy of every step that reaches S3, Glue or Snowflake."""

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
