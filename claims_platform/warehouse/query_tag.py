"""What the gold dbt invocation tells Snowflake about itself.

profiles.yml renders the Snowflake `query_tag` (a session parameter of every connection dbt opens)
as JSON from DAGSTER_RUN_ID and DAGSTER_ASSET_KEYS; the gold asset sets them for its dbt process.
"""

from __future__ import annotations

from collections.abc import Iterable

# Snowflake caps QUERY_TAG at 2000 characters; the run id and the JSON keys take about 100.
MAX_ASSET_KEYS_CHARS = 1800


def query_tag_environ(run_id: str, asset_keys: Iterable[str]) -> dict[str, str]:
    """DAGSTER_RUN_ID and DAGSTER_ASSET_KEYS (the `a/b` asset keys sorted, comma-separated) for dbt.

    A selection too long for the tag keeps its first keys and ends with `+<n> more`, so the tag
    stays valid and says that it was cut.
    """
    keys = sorted(asset_keys)
    shown: list[str] = []
    length = 0
    for position, key in enumerate(keys):
        rest = len(keys) - position
        if length + len(key) + 1 + len(f"+{rest} more") > MAX_ASSET_KEYS_CHARS:
            shown.append(f"+{rest} more")
            break
        shown.append(key)
        length += len(key) + 1
    return {"DAGSTER_RUN_ID": run_id, "DAGSTER_ASSET_KEYS": ",".join(shown)}
